"""Worker of the concurrency tests: a separate process (multiprocessing "spawn"), with its own
Django setup and its own Redis connection, that calls check_rate as fast as it can."""

from __future__ import annotations

import os
import time


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import ratelimit.services  # noqa: F401  (imported now, not in the first timed call)


def ready(_: int) -> int:
    time.sleep(0.1)  # long enough that every ready worker of the pool takes one
    return os.getpid()


def hammer(job: dict) -> list[tuple[float, float, bool]]:
    """Call check_rate from `start_at` until `start_at + duration` (wall clock, shared by the
    workers): (time before, time after, admitted) per call."""
    from ratelimit.services import check_rate

    calls: list[tuple[float, float, bool]] = []
    time.sleep(max(0.0, job["start_at"] - time.time()))
    end = job["start_at"] + job["duration"]
    while (before := time.time()) < end:
        decision = check_rate(
            algorithm=job["algorithm"],
            key=job["key"],
            limit=job["limit"],
            window_seconds=job["window"],
            burst=job.get("burst"),
        )
        calls.append((before, time.time(), decision.allowed))
    return calls
