"""The one Redis client factory for app keys (feeds, counters, limiter state, ID leases).

Django's cache goes through django-redis (settings.CACHES); everything else calls `get_redis()`,
or, in asyncio code, core.pipelined's `get_pipelined_redis()`.
One connection pool per URL per process: redis-py pools notice a fork and reconnect in the child,
so gunicorn and Celery prefork workers are safe. Timeouts are short on purpose: a Redis that does
not answer within `REDIS_SOCKET_TIMEOUT` is treated as down, and each caller decides what down
means for it (fall back to PostgreSQL, fail open, refuse).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from time import monotonic
from typing import TypeVar

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)
T = TypeVar("T")

# After a failure, a Redis is skipped for this long by every caller in the process. One breaker
# per Redis (not per caller): two breakers on one hung Redis would take turns paying its timeout,
# so that every request paid one.
BREAKER_SECONDS = 2.0


def fast_fail_retry() -> Retry:
    """One immediate retry (a pooled connection gone stale after a Redis restart), then fail.
    redis-py 8 defaults to 10 retries with backoff, about 4 s against a dead Redis: far too long
    for a request whose fallback (PostgreSQL, fail-open) is ready."""
    return Retry(NoBackoff(), 1)


@functools.cache
def _client(url: str, timeout: float) -> redis.Redis:
    # One client (and its pool) per URL per process. A client is thread-safe; building one per
    # call costs ~50 µs, as much as the Redis round trip on a hot path.
    pool = redis.ConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        retry=fast_fail_retry(),
    )
    return redis.Redis(connection_pool=pool)


def get_redis(url: str | None = None) -> redis.Redis:
    """The shared client for `url` (default: settings.REDIS_URL), cached per process."""
    return _client(url or settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)


# --- Circuit breaker, one per Redis URL -------------------------------------------------------


class RedisSkipped(RedisError):
    """Not sent: this Redis failed less than BREAKER_SECONDS ago (its breaker is open)."""


_open_until: dict[str, float] = {}  # URL -> monotonic time until which it is skipped
_breaker_lock = threading.Lock()


def redis_allowed(url: str) -> bool:
    """False while `url`'s breaker is open. After it, exactly one caller is let through to probe
    (the others keep skipping until it has answered)."""
    until = _open_until.get(url)
    if until is None:
        return True
    now = monotonic()
    if now < until:
        return False
    with _breaker_lock:
        if _open_until.get(url) != until:  # another thread claimed the probe
            return False
        _open_until[url] = now + BREAKER_SECONDS
        return True


def guarded(operation: Callable[[], T], *, url: str | None = None) -> T:
    """Run `operation` (calls to the Redis at `url`, default settings.REDIS_URL) through that
    Redis's circuit breaker. Raises RedisSkipped while the breaker is open, and re-raises the
    RedisError that opens it; callers turn either into their fallback (PostgreSQL, fail open)."""
    url = url or settings.REDIS_URL
    if not redis_allowed(url):
        raise RedisSkipped(f"Redis skipped for {BREAKER_SECONDS:.0f} s after a failure")
    try:
        result = operation()
    except RedisError as exc:
        record_failure(url, exc)
        raise
    record_success(url)
    return result


def record_failure(url: str, exc: Exception) -> None:
    """A call to `url` failed: open its breaker for BREAKER_SECONDS."""
    _open_until[url] = monotonic() + BREAKER_SECONDS
    logger.warning("Redis failed, skipping it for %.1f s: %r", BREAKER_SECONDS, exc)


def record_success(url: str) -> None:
    """A call to `url` succeeded: close its breaker if it was open (the probe answered)."""
    if url in _open_until:
        _open_until.pop(url, None)
        logger.info("Redis answers again")


def reset_breakers() -> None:
    """Close every breaker (tests; an operator who fixed Redis need not wait)."""
    _open_until.clear()


def _after_fork() -> None:
    global _breaker_lock
    _breaker_lock = threading.Lock()  # the parent's could have been held mid-fork


os.register_at_fork(after_in_child=_after_fork)
