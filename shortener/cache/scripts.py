"""The app Redis client, the shortener's Lua scripts (shortener/lua/), the circuit breaker and
lease tokens. Scripts run through core.scripts (EVALSHA, NOSCRIPT, the breaker, one
RedisUnavailable, re-exported here for the shortener's callers)."""

from __future__ import annotations

import functools
import itertools
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis
from django.conf import settings
from redis.commands.core import Script
from redis.exceptions import RedisError

from core import redis as core_redis
from core.redis import get_redis
from core.scripts import LuaScript, RedisUnavailable

LEASE_MS = 3000  # a filler that died holds the code's misses back for at most this long
BREAKER_SECONDS = core_redis.BREAKER_SECONDS

T = TypeVar("T")


_LUA_DIR = Path(__file__).resolve().parent.parent / "lua"


def client() -> redis.Redis:
    """The app Redis (settings.REDIS_URL): core.redis's client, cached per URL per process."""
    return get_redis()


@functools.cache
def lua_script(name: str) -> LuaScript:
    """shortener/lua/<name>.lua, read once per process: run it with core.scripts.run."""
    return LuaScript.from_file(_LUA_DIR / f"{name}.lua")


@functools.cache
def script(name: str) -> Script:
    """shortener/lua/<name>.lua as redis-py's Script, for pipelines (it loads itself before a
    pipeline runs). Call it with `client=` so it runs on the current settings.REDIS_URL."""
    return lua_script(name).registered(client())


def redis_allowed() -> bool:
    """False while the app Redis's breaker (core.redis) is open."""
    return core_redis.redis_allowed(settings.REDIS_URL)


def guarded(operation: Callable[[], T]) -> T:
    """Run `operation` (app Redis calls) through core.redis's breaker for that Redis. Raises
    RedisUnavailable when it is open or when the operation raises RedisError (which opens it)."""
    try:
        return core_redis.guarded(operation, url=settings.REDIS_URL)
    except RedisError as exc:
        raise RedisUnavailable(str(exc)) from exc


def reset_breaker() -> None:
    """Close the breakers (tests; an operator after fixing Redis need not wait)."""
    core_redis.reset_breakers()


# Lease tokens: unique per process (random prefix, fresh after fork) and per call (a counter),
# without a syscall per miss.
_token_prefix = secrets.token_hex(8)
_token_counter = itertools.count()


def new_token() -> str:
    """A lease token: unique per process and call."""
    return _new_token()


def _new_token() -> str:
    return f"{_token_prefix}:{next(_token_counter)}"


def _after_fork() -> None:
    global _token_prefix, _token_counter
    _token_prefix, _token_counter = secrets.token_hex(8), itertools.count()


os.register_at_fork(after_in_child=_after_fork)
