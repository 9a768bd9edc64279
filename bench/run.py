"""Run every `bench/bench_*.py` module's `main()`, print a summary table, and write
`bench/results/latest.json` (gitignored; docs/benchmarks.md quotes the figures).

    python -m bench.run [--strict]      (--strict: exit 1 if a benchmark fails or misses its goal)

A benchmark's `main()` returns one result dict (see `bench.common.report`) or a list of them.
A benchmark that raises is recorded with its error and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Result, figure, setup_django

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "latest.json"


def discover() -> list[str]:
    """Module names of every benchmark, in file-name order."""
    return [f"bench.{path.stem}" for path in sorted(BENCH_DIR.glob("bench_*.py"))]


def run_all(*, modules: list[str]) -> tuple[list[Result], list[dict[str, str]]]:
    """Run each module's main(); return the results and the failures (module, error)."""
    results: list[Result] = []
    failures: list[dict[str, str]] = []
    for name in modules:
        print(f"== {name}", flush=True)
        try:
            outcome = importlib.import_module(name).main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failures.append({"module": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for result in outcome if isinstance(outcome, list) else [outcome]:
            results.append({"module": name, **result})
    return results, failures


def summary_table(results: list[Result]) -> str:
    rows = [("benchmark", "ours", "baseline", "unit", "ratio", "goal")]
    for r in results:
        verdict = "met" if r["met"] else "MISSED"
        goal = "-" if r["goal"] is None else f">= {r['goal']:.1f}x {verdict}"
        rows.append(
            (
                r["name"],
                figure(r["ours"]),
                f"{figure(r['baseline'])} ({r['baseline_name']})",
                r["unit"],
                f"{r['ratio']:.3f}x",
                goal,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 on a failure or missed goal")
    args = parser.parse_args(argv)

    setup_django()
    results, failures = run_all(modules=discover())
    print()
    print(summary_table(results))
    for failure in failures:
        print(f"FAILED {failure['module']}: {failure['error']}")

    RESULTS_FILE.parent.mkdir(exist_ok=True)
    payload = {"environment": _environment(), "results": results, "failures": failures}
    RESULTS_FILE.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {RESULTS_FILE.relative_to(BENCH_DIR.parent)}")

    missed = [r["name"] for r in results if r["met"] is False]
    return 1 if args.strict and (failures or missed) else 0


if __name__ == "__main__":
    sys.exit(main())
