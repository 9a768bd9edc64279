"""Snowflake IDs per second in one process, against `uuid.uuid4()` in the same run.

The promise (core/snowflake.py): an ID costs no more than a UUID4, so choosing 64-bit
Snowflakes for primary keys never trades speed for index size. Goal: ratio >= 1.0.

    python -m bench.bench_snowflake      (from the repo root; leases a worker id in the dev Redis)
"""

from __future__ import annotations

import uuid

from bench.common import Result, interleaved_rates, report, setup_django


def main() -> Result:
    """Measure the module-level `next_id()` (what services call) against `uuid.uuid4()`."""
    setup_django()
    from core.snowflake import next_id

    next_id()  # lease the worker id now: the first call's Redis round trip is not the hot path
    ours, baseline = interleaved_rates(next_id, uuid.uuid4, seconds=0.5, rounds=5)
    return report(
        "snowflake.next_id",
        ours,
        baseline,
        "IDs/s",
        "uuid.uuid4",
        higher_is_better=True,
        goal=1.0,
    )


if __name__ == "__main__":
    main()
