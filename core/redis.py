"""The one Redis client factory for app keys (feeds, counters, limiter state, ID leases).

Django's cache goes through django-redis (settings.CACHES); everything else calls `get_redis()`.
One connection pool per URL per process: redis-py pools notice a fork and reconnect in the child,
so gunicorn and Celery prefork workers are safe. Timeouts are short on purpose: a Redis that does
not answer within `REDIS_SOCKET_TIMEOUT` is treated as down, and each caller decides what down
means for it (fall back to PostgreSQL, fail open, refuse).
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry


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
