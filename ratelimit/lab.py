"""The rate limiter lab (/ratelimit/): fire requests at one algorithm from the browser and see
what it admits, and what each algorithm's state costs in Redis memory per key.

The lab calls the real limiter (`services.check_rate`, one EVALSHA per request) on keys of its
own, `lab:<lab id>:<algorithm>:<limit>/<window>[/<burst>]`:

- the lab id is a random token kept in the browser's session, not the session key itself: Redis
  key names show up in MONITOR, SCAN and slow logs, and a session key there would be a
  credential in plain sight. "Start over" draws a new id, so the next requests meet empty state
  without this module deleting keys whose names belong to the limiter's scripts (the old ones
  expire by their own TTL);
- the configuration is part of the key, so changing the limit or window starts a clean
  experiment instead of reading a bucket sized for another limit.

The lab endpoint is itself rate limited (`guard_lab`, per client address, by the same limiter)
and every call is bounded (`MAX_N` checks), so the page cannot be used to hammer Redis.
"""

from __future__ import annotations

import functools
import secrets
import time
import uuid
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import ApplicationError, RateLimitedError
from ratelimit.algorithms import ALGORITHMS, BURSTABLE
from ratelimit.errors import RateLimitBackendError
from ratelimit.services import check_rate, key_memory_bytes

# Bounds of one lab call. MAX_LIMIT also bounds the memory measurement below (it fills a key
# with `limit` requests), so it is ~0.1 s of Redis work at worst, once per configuration.
MAX_N = 100
MAX_LIMIT = 1000
MAX_WINDOW_SECONDS = 3600
MAX_BURST = 1000

# The lab's own limit, per client address: 10 lab calls a second sustained (steady mode sends
# at most 10), bursts of 60. With MAX_N that caps one address at 1,000 checks a second.
GUARD_LIMIT = 600
GUARD_WINDOW_SECONDS = 60.0
GUARD_BURST = 60

# The seed's "1B users": the memory table multiplies bytes per key by this.
USERS = 1_000_000_000

SESSION_KEY = "ratelimit:lab_id"

ALGORITHM_NAMES = {
    "token_bucket": "Token bucket",
    "sliding_log": "Sliding window log",
    "sliding_counter": "Sliding window counter",
    "fixed_window": "Fixed window",
    "gcra": "GCRA",
}

# Algorithms whose `burst` argument means something (a capacity apart from the rate).
BURST_ALGORITHMS = tuple(a for a in ALGORITHMS if a in BURSTABLE)


class LabBackendDownError(ApplicationError):
    status_code, code = 503, "backend_unavailable"


@dataclass(frozen=True)
class LabDecision:
    t: float  # server time (Unix ms) when the decision came back
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


@dataclass(frozen=True)
class LabRun:
    algorithm: str
    key_memory_bytes: int  # this lab's key for `algorithm`, after the run
    decisions: list[LabDecision]

    @property
    def admitted(self) -> int:
        return sum(d.allowed for d in self.decisions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "admitted": self.admitted,
            "refused": len(self.decisions) - self.admitted,
            "key_memory_bytes": self.key_memory_bytes,
            "decisions": [asdict(d) for d in self.decisions],
        }


def lab_id(session: MutableMapping[str, Any]) -> str:
    """This browser's lab id, drawn on first use and kept in its session."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = session[SESSION_KEY] = secrets.token_hex(8)
    return value


def rotate_lab_id(session: MutableMapping[str, Any]) -> str:
    """A new lab id: the next checks start from empty limiter state."""
    value = session[SESSION_KEY] = secrets.token_hex(8)
    return value


def lab_key(*, lab: str, algorithm: str, limit: int, window_seconds: int, burst: int | None) -> str:
    suffix = f"/{burst}" if burst is not None and algorithm in BURST_ALGORITHMS else ""
    return f"lab:{lab}:{algorithm}:{limit}/{window_seconds}{suffix}"


def run_lab_checks(
    *, lab: str, algorithm: str, limit: int, window_seconds: int, burst: int | None, n: int
) -> LabRun:
    """`n` requests against this lab's key, one `check_rate` (one EVALSHA) each, back to back.
    Raises LabBackendDownError (503) if Redis does not answer."""
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be within 1..{MAX_N}")
    burst = burst if algorithm in BURST_ALGORITHMS else None
    key = lab_key(
        lab=lab, algorithm=algorithm, limit=limit, window_seconds=window_seconds, burst=burst
    )
    decisions = []
    try:
        for _ in range(n):
            d = check_rate(
                algorithm=algorithm,
                key=key,
                limit=limit,
                window_seconds=window_seconds,
                burst=burst,
            )
            decisions.append(
                LabDecision(
                    t=round(time.time() * 1000, 1),
                    allowed=d.allowed,
                    limit=d.limit,
                    remaining=d.remaining,
                    reset_after=round(d.reset_after, 3),
                    retry_after=round(d.retry_after, 3),
                )
            )
        memory = key_memory_bytes(algorithm=algorithm, key=key)
    except RateLimitBackendError as exc:
        raise LabBackendDownError("Redis is not answering; the lab needs it.") from exc
    return LabRun(algorithm=algorithm, key_memory_bytes=memory, decisions=decisions)


def memory_table(*, limit: int, window_seconds: int, burst: int | None) -> list[dict[str, Any]]:
    """Each algorithm's Redis memory for one key holding a full window (`limit` requests just
    admitted), and that times USERS. Raises LabBackendDownError (503) if Redis does not answer."""
    rows = []
    try:
        for algorithm in ALGORITHMS:
            per_key = full_key_memory_bytes(
                algorithm=algorithm,
                limit=limit,
                window_seconds=window_seconds,
                burst=burst if algorithm in BURST_ALGORITHMS else None,
            )
            rows.append(
                {
                    "algorithm": algorithm,
                    "name": ALGORITHM_NAMES.get(algorithm, algorithm),
                    "bytes_per_key": per_key,
                    "bytes_for_users": per_key * USERS,
                    "bytes_per_key_text": f"{per_key:,} B",
                    "bytes_for_users_text": human_bytes(per_key * USERS),
                }
            )
    except RateLimitBackendError as exc:
        raise LabBackendDownError("Redis is not answering; the lab needs it.") from exc
    largest = max((row["bytes_per_key"] for row in rows), default=0) or 1
    for row in rows:  # for a bar as long as the share of the largest: the log's cost, seen
        row["share"] = round(100 * row["bytes_per_key"] / largest, 1)
    return rows


@functools.lru_cache(maxsize=256)
def full_key_memory_bytes(
    *, algorithm: str, limit: int, window_seconds: int, burst: int | None
) -> int:
    """MEMORY USAGE of a fresh key after `limit` admitted requests: the worst case for the
    sliding log (one sorted-set member per request in the window), the steady size for the
    others. Memoised per process: the figure depends on the configuration, not on who asks.
    The scratch key is unique (concurrent fills never share it) and expires by its own TTL."""
    key = f"lab:memory:{uuid.uuid4().hex}"
    for _ in range(limit):
        check_rate(
            algorithm=algorithm, key=key, limit=limit, window_seconds=window_seconds, burst=burst
        )
    return key_memory_bytes(algorithm=algorithm, key=key)


def guard_lab(*, client: str) -> None:
    """The lab's own rate limit, per client address: RateLimitedError (429 + Retry-After) when
    spent. Fails open if Redis is down: the lab call itself then answers 503."""
    try:
        decision = check_rate(
            algorithm="token_bucket",
            key=f"lab-guard:{client}",
            limit=GUARD_LIMIT,
            window_seconds=GUARD_WINDOW_SECONDS,
            burst=GUARD_BURST,
        )
    except RateLimitBackendError:
        return
    if not decision.allowed:
        raise RateLimitedError(
            "Too many lab requests; slow down.",
            retry_after=max(1, int(decision.retry_after + 0.999)),
        )


def human_bytes(value: float) -> str:
    """Decimal units, as disks and RAM bills count them: 1,234 -> "1.23 KB", 2e12 -> "2 TB"."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            if unit == "B":
                return f"{int(value):,} B"
            return f"{value:,.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
