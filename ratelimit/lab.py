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

The memory table is measured, not computed: each algorithm's script run `limit` times on a
scratch key, MEMORY USAGE, DEL, in one pipelined round trip (services.full_window_memory_bytes),
once per configuration, then read back by every process from Django's cache.

The lab is rate limited by the limiter's own policies, per client address: `lab_request` on
every lab call (views.py), `lab_memory` on each measurement of a configuration not yet cached.
Every call is bounded (MAX_N checks, MAX_LIMIT requests per fill). docs/ratelimit.md, "The lab".
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

from core.errors import ApplicationError, RateLimitedError
from ratelimit.algorithms import ALGORITHMS, BURSTABLE, SCRIPTS, whole_seconds
from ratelimit.errors import RateLimitBackendError
from ratelimit.services import check_policy, check_rate, full_window_memory_bytes, key_memory_bytes

# Bounds of one lab call. MAX_LIMIT also bounds a memory measurement (each algorithm's key is
# filled with `limit` requests): at most 5 x 1,000 script runs in one round trip, ~50 ms of
# Redis work, once per configuration for everyone.
MAX_N = 100
MAX_LIMIT = 1000
MAX_WINDOW_SECONDS = 3600
MAX_BURST = 1000

# A measured table is kept this long in Django's cache, shared by every process. The scripts'
# digest is part of its key: a script that stores something else is measured afresh.
MEMORY_CACHE_SECONDS = 24 * 3600
_SCRIPTS_DIGEST = hashlib.sha1("".join(SCRIPTS[a].sha for a in ALGORITHMS).encode()).hexdigest()

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


def memory_table(
    *, limit: int, window_seconds: int, burst: int | None, client: str | None = None
) -> list[dict[str, Any]]:
    """Each algorithm's Redis memory for one key holding a full window (`limit` requests just
    admitted), and that times USERS. Measured once per configuration (one round trip, nothing
    left behind) and cached for every process; a cached one costs one GET.

    A measurement is charged to `client` under the `lab_memory` policy (RateLimitedError, 429,
    when spent); None for the page's own default configuration, which is small and fixed.
    Raises LabBackendDownError (503) if Redis does not answer."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be within 1..{MAX_LIMIT}")
    if burst == limit:
        burst = None  # the same configuration: capacity defaults to the limit
    config = f"{limit}/{window_seconds}/{burst or '-'}"
    cache_key = f"ratelimit:lab:memory:{_SCRIPTS_DIGEST[:12]}:{config}"
    sizes = _cache_get(cache_key)
    if sizes is None:
        if client is not None:
            guard_lab(scope="lab_memory", client=client)
        try:
            sizes = full_window_memory_bytes(
                # Random, so concurrent measurements never share a key; 18 characters, as long
                # as docs/ratelimit.md's `user:u100000000001`: MEMORY USAGE counts the name.
                key=f"lab:{secrets.token_hex(7)}",
                limit=limit,
                window_seconds=window_seconds,
                burst=burst,
            )
        except RateLimitBackendError as exc:
            raise LabBackendDownError("Redis is not answering; the lab needs it.") from exc
        _cache_set(cache_key, sizes)
    rows = []
    for algorithm in ALGORITHMS:
        per_key = sizes[algorithm]
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
    largest = max((row["bytes_per_key"] for row in rows), default=0) or 1
    for row in rows:  # for a bar as long as the share of the largest: the log's cost, seen
        row["share"] = round(100 * row["bytes_per_key"] / largest, 1)
    return rows


def _cache_get(key: str) -> dict[str, int] | None:
    # django-redis re-raises redis-py's errors. A miss, then: measuring says whether Redis is down.
    try:
        found = cache.get(key)
    except RedisError:
        return None
    return found if isinstance(found, dict) and set(found) == set(ALGORITHMS) else None


def _cache_set(key: str, sizes: dict[str, int]) -> None:
    # Cache down: measured all the same; the next caller measures again.
    with contextlib.suppress(RedisError):
        cache.set(key, sizes, MEMORY_CACHE_SECONDS)


def guard_lab(*, scope: str, client: str) -> None:
    """Count one lab call of `client` (an address) under the policy of `scope` (lab_memory):
    RateLimitedError (429 + Retry-After) when spent. Redis down: as the policy says (fail_open:
    the lab call itself then answers 503)."""
    decision = check_policy(scope=scope, key=client)
    if not decision.allowed:
        raise RateLimitedError(
            "Too many lab requests; slow down.",
            retry_after=max(1, whole_seconds(decision.retry_after)),
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
