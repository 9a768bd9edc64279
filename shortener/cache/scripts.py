"""The app Redis client, the shortener's Lua scripts (shortener/lua/), the circuit breaker and
lease tokens."""

from __future__ import annotations

import functools
import itertools
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis
from django.conf import settings
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError

from core import lua
from core import redis as core_redis
from core.redis import get_redis
from ratelimit.algorithms import SCRIPTS

LEASE_MS = 3000  # a filler that died holds the code's misses back for at most this long
BREAKER_SECONDS = core_redis.BREAKER_SECONDS

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis failed just now, or failed less than BREAKER_SECONDS ago: use the fallback."""


_LUA_DIR = Path(__file__).resolve().parent.parent / "lua"


def client() -> redis.Redis:
    """The app Redis (settings.REDIS_URL): core.redis's client, cached per URL per process."""
    return get_redis()


@functools.cache
def script(name: str) -> Script:
    """shortener/lua/<name>.lua, registered once per process. Call it with `client=` so it runs
    on the current settings.REDIS_URL; on NOSCRIPT (a restarted Redis) redis-py loads it again.

    "<algorithm>+visit" is a rate limiter's script (ratelimit/lua/) chained with visit.lua by
    core.lua: the redirect's limit and visit in one round trip."""
    limiter, plus, name_of_script = name.rpartition("+")
    source = (_LUA_DIR / f"{name_of_script}.lua").read_text()
    if plus:
        source = lua.chain(
            first=SCRIPTS[limiter].source,
            then=source,
            first_name=f"ratelimit/lua/{limiter}.lua",
            then_name=f"shortener/lua/{name_of_script}.lua",
        )
    return client().register_script(source)


def _evalsha(name: str, redis_client: redis.Redis, keys: Sequence[str], args: Sequence) -> Any:
    """`script(name)(...)` without redis-py's Script wrapper: the hot path's EVALSHA, with the
    same NOSCRIPT fallback (a restarted Redis has forgotten the script)."""
    lua = script(name)
    try:
        return redis_client.execute_command("EVALSHA", lua.sha, len(keys), *keys, *args)
    except NoScriptError:
        lua.sha = redis_client.script_load(lua.script)
        return redis_client.execute_command("EVALSHA", lua.sha, len(keys), *keys, *args)


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
