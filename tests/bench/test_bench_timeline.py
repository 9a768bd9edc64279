"""The arithmetic bench/bench_timeline.py reports with: its percentile and the box count. The
figures themselves are `make bench`'s business (docs/benchmarks.md)."""

from __future__ import annotations

from bench import bench_timeline


def test_p99_of_twenty_samples_is_the_largest_and_p50_the_tenth():
    samples = [float(n) for n in range(20, 0, -1)]

    assert bench_timeline.percentile(samples, 99) == 20.0
    assert bench_timeline.percentile(samples, 50) == 10.0


def test_p99_of_a_thousand_samples_leaves_ten_above_it():
    samples = [float(n) for n in range(1, 1001)]

    assert bench_timeline.percentile(samples, 99) == 990.0


def test_the_seeds_load_needs_whole_boxes_rounded_up():
    assert round(bench_timeline.SEED_DELIVERIES_PER_SECOND) == 1_157_407
    assert bench_timeline.boxes_for(1_157_407, 20_000) == 58
    assert bench_timeline.boxes_for(1_000, 1_000) == 1
