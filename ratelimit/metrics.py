"""In-process counters per scope and outcome: what the limiter decided, and when Redis failed.

Outcomes: allowed, limited, shadow_limited (shadow mode: would have been limited),
redis_down_open (admitted without Redis), redis_down_closed (refused with 503 without Redis).
Per process (each gunicorn worker has its own); `snapshot()` for tests, the lab page and logs.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

OUTCOMES = ("allowed", "limited", "shadow_limited", "redis_down_open", "redis_down_closed")

_counts: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()


def incr(*, scope: str, outcome: str) -> None:
    with _lock:  # Counter's += is a read-modify-write: threads (gthread workers) would lose counts
        _counts[(scope, outcome)] += 1


def count(*, scope: str, outcome: str) -> int:
    return _counts[(scope, outcome)]


def snapshot() -> dict[str, dict[str, int]]:
    """{scope: {outcome: count}} for every scope seen, all outcomes present."""
    with _lock:
        items = list(_counts.items())
    result: dict[str, dict[str, int]] = {}
    for (scope, outcome), value in items:
        result.setdefault(scope, dict.fromkeys(OUTCOMES, 0))[outcome] = value
    return result


def reset() -> None:
    with _lock:
        _counts.clear()


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at fork time stays held in the child
    _counts.clear()  # the parent's counts are the parent's


os.register_at_fork(after_in_child=_after_fork)
