"""Benchmarks: `python -m bench.run` runs every `bench_*.py`; each is also runnable alone."""
