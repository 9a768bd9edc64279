"""The five limiter algorithms: their Lua scripts, key layout and the Decision they return.

Each algorithm is one script in ratelimit/lua/, run with one EVALSHA: read, decide and write in
one atomic step inside Redis, so any number of web processes share a limit exactly (the
read-modify-write race of DRF's cache-based throttles — two requests both read 99 and both
write 100 — cannot happen), and time is Redis's `TIME`, so app-server clock skew cannot bend a
limit. Every script returns `{allowed, remaining, reset_after ms, retry_after ms}`.

Keys (Redis Cluster ready: everything of one limited key shares the hash tag `{<key>}`, and each
script touches exactly one key, declared in KEYS):

    rl:{<key>}:tb     hash    token bucket: tk (tokens, float), ts (last admission, us)
    rl:{<key>}:gcra   string  GCRA: theoretical arrival time (us)
    rl:{<key>}:log    zset    sliding log: one member per admission still in the window
    rl:{<key>}:sc     hash    sliding counter: w (window index), c (its count), p (previous)
    rl:{<key>}:fw     hash    fixed window: w (window index), c (its count)

`<key>` is "<scope>:<identity>" when it comes from a policy (services.check_policy). Every key
expires by itself (PEXPIRE to the algorithm's horizon): an idle client costs no memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core.scripts import LuaScript

ALGORITHMS = ("token_bucket", "sliding_log", "sliding_counter", "fixed_window", "gcra")
# Algorithms whose capacity (burst) can differ from the limit per window.
BURSTABLE = frozenset({"token_bucket", "gcra"})

_SUFFIX = {
    "token_bucket": "tb",
    "gcra": "gcra",
    "sliding_log": "log",
    "sliding_counter": "sc",
    "fixed_window": "fw",
}
_LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class Decision:
    """One limiter's answer. `reset_after`: seconds until the limit is fully replenished (token
    bucket, GCRA, logs) or the window ends (fixed window). `retry_after`: seconds until the next
    request of the same cost would be admitted (0 when admitted).

    `shadow`: admitted only because the policy is in shadow mode (it would have been refused).
    `degraded`: admitted without asking Redis (down, fail-open); the counts are unknown."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float
    shadow: bool = False
    degraded: bool = False

    @property
    def would_limit(self) -> bool:
        """Refused, or would have been refused but for shadow mode."""
        return not self.allowed or self.shadow


SCRIPTS: dict[str, LuaScript] = {
    name: LuaScript.from_file(_LUA_DIR / f"{name}.lua") for name in ALGORITHMS
}


def tag_safe(key: str) -> str:
    """`key` with its braces replaced: a brace would end the hash tag early and split one
    client's keys over Cluster slots (and let one client's key collide with another's tag)."""
    return key.replace("{", "(").replace("}", ")")


def redis_key(*, algorithm: str, key: str) -> str:
    """The Redis key holding `key`'s state under `algorithm`. Raises ValueError if unknown."""
    return f"rl:{{{tag_safe(key)}{key_suffix(algorithm)}"


def key_suffix(algorithm: str) -> str:
    """What follows the hash tag in `algorithm`'s keys ("}:gcra" after "rl:{<key>"). Raises
    ValueError if unknown."""
    try:
        return f"}}:{_SUFFIX[algorithm]}"
    except KeyError:
        raise ValueError(f"Unknown algorithm {algorithm!r}; one of {ALGORITHMS}.") from None


def script_args(
    *, algorithm: str, limit: int, window_seconds: float, burst: int | None, cost: int
) -> list[int]:
    """ARGV of the algorithm's script. Raises ValueError on a limit the script cannot honour."""
    if algorithm not in _SUFFIX:
        raise ValueError(f"Unknown algorithm {algorithm!r}; one of {ALGORITHMS}.")
    if limit < 1 or cost < 1:
        raise ValueError("limit and cost must be at least 1.")
    # Whole milliseconds, in microseconds: windows then end on a millisecond, like Redis expiry.
    window_us = max(1, round(window_seconds * 1000)) * 1000
    if algorithm in BURSTABLE:
        capacity = burst if burst is not None else limit
        if cost > capacity:
            raise ValueError(f"cost {cost} exceeds the burst {capacity}: it could never pass.")
        return [limit, window_us, capacity, cost]
    if cost > limit:
        raise ValueError(f"cost {cost} exceeds the limit {limit}: it could never pass.")
    return [limit, window_us, cost]


def decision_from_reply(reply: list[int], *, limit: int) -> Decision:
    allowed, remaining, reset_ms, retry_ms = (int(value) for value in reply)
    return Decision(
        allowed=allowed == 1,
        limit=limit,
        remaining=max(0, remaining),
        reset_after=max(0, reset_ms) / 1000,
        retry_after=0.0 if allowed == 1 else max(0.001, retry_ms / 1000),
    )


def whole_seconds(seconds: float) -> int:
    """Seconds for a header (Retry-After, t=): rounded up, never telling a client too early."""
    return max(0, math.ceil(seconds))
