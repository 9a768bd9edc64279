"""Lua scripts on Redis, run one way by every app: EVALSHA, a reload on NOSCRIPT, the circuit
breaker of core.redis, and one exception, RedisUnavailable, whatever went wrong.

    VISIT = LuaScript.from_file(Path(...) / "visit.lua")
    reply = run(VISIT, keys, args)                    # sync (gunicorn, Celery)
    reply = await run_async(VISIT, keys, args)        # async (the ASGI edge; core.pipelined)
    both = chain(LIMIT, VISIT)                        # two scripts as one (core.lua)

A script's SHA is computed here, as Redis computes it, so the first call needs no SCRIPT LOAD
round trip; a Redis that has not seen the script (new, restarted, flushed) answers NOSCRIPT and
the call loads it and runs again, once. `run` and `run_async` go through the breaker of the
Redis they call (one per URL per process, shared by every app: core.redis): while it is open
they raise RedisUnavailable at once, without a round trip, and a RedisError from the call opens
it and becomes RedisUnavailable. Each caller decides what unavailable means for it (fall back
to PostgreSQL, fail open, refuse).

Pipelines (the click flush, cache fills) keep redis-py's `Script` objects, which load their
scripts before a pipeline runs: `LuaScript.registered(client)`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError

from core import lua
from core import redis as core_redis
from core.pipelined import get_pipelined_redis


class RedisUnavailable(Exception):
    """Redis failed just now, or failed less than core.redis.BREAKER_SECONDS ago (its breaker
    is open, nothing was sent): use the fallback."""


@dataclass(frozen=True)
class LuaScript:
    name: str  # for people: the file it came from, or "a+b" for a chain
    source: str
    sha: str  # what Redis computes: EVALSHA without a SCRIPT LOAD first

    @classmethod
    def from_source(cls, name: str, source: str) -> LuaScript:
        return cls(name, source, hashlib.sha1(source.encode()).hexdigest())

    @classmethod
    def from_file(cls, path: Path) -> LuaScript:
        return cls.from_source(path.stem, path.read_text())

    def registered(self, client: redis.Redis) -> Script:
        """redis-py's Script for this source, for pipelines (it loads itself before one runs)."""
        return client.register_script(self.source)


@functools.cache
def chain(first: LuaScript, then: LuaScript) -> LuaScript:
    """`first` then `then` as one script (core.lua.chain: `then` runs unless `first` refused),
    built once per pair per process. Arguments: core.lua.chain_args."""
    source = lua.chain(
        first=first.source, then=then.source, first_name=first.name, then_name=then.name
    )
    return LuaScript.from_source(f"{first.name}+{then.name}", source)


def evalsha(client: redis.Redis, script: LuaScript, keys: Sequence[str], args: Sequence) -> Any:
    """EVALSHA of `script` on `client`, loading it on NOSCRIPT. Raises RedisError as redis-py
    does (no breaker: `run` is the guarded call)."""
    try:
        return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        client.script_load(script.source)
        return client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)


def run(script: LuaScript, keys: Sequence[str], args: Sequence, *, url: str | None = None) -> Any:
    """Run `script` on the Redis at `url` (default settings.REDIS_URL) through its breaker.
    Raises RedisUnavailable."""
    url = url or settings.REDIS_URL
    if not core_redis.redis_allowed(url):
        raise RedisUnavailable(f"Redis skipped for {core_redis.BREAKER_SECONDS:.0f} s")
    try:
        reply = evalsha(core_redis.get_redis(url), script, keys, args)
    except RedisError as exc:
        core_redis.record_failure(url, exc)
        raise RedisUnavailable(str(exc)) from exc
    core_redis.record_success(url)
    return reply


async def run_async(
    script: LuaScript, keys: Sequence[str], args: Sequence, *, url: str | None = None
) -> Any:
    """`run` for asyncio code, on this event loop's pipelined connection (core.pipelined),
    through the same breaker. Raises RedisUnavailable."""
    url = url or settings.REDIS_URL
    if not core_redis.redis_allowed(url):
        raise RedisUnavailable(f"Redis skipped for {core_redis.BREAKER_SECONDS:.0f} s")
    client = get_pipelined_redis(url)
    try:
        try:
            reply = await client.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.execute("SCRIPT", "LOAD", script.source)
            reply = await client.execute("EVALSHA", script.sha, len(keys), *keys, *args)
    except RedisError as exc:
        core_redis.record_failure(url, exc)
        raise RedisUnavailable(str(exc)) from exc
    core_redis.record_success(url)
    return reply


def run_many(
    calls: Sequence[tuple[LuaScript, Sequence[str], Sequence]], *, url: str | None = None
) -> list[Any]:
    """Run several scripts in one round trip (a non-transactional pipeline of EVALSHA), through
    the breaker; replies in the order of `calls`. A call whose script Redis has not seen (NOSCRIPT:
    it did not run) is loaded and run again in a second round trip; any other error raises
    RedisUnavailable, as `run` does. Calls need not share a hash slot (redis-py's cluster pipeline
    routes each to its node), unlike one script over many keys.

    Not redis-py's Script objects in a pipeline: those send SCRIPT EXISTS before every pipeline,
    an extra round trip on every call."""
    url = url or settings.REDIS_URL
    if not calls:
        return []
    if not core_redis.redis_allowed(url):
        raise RedisUnavailable(f"Redis skipped for {core_redis.BREAKER_SECONDS:.0f} s")
    client = core_redis.get_redis(url)
    try:
        replies = _pipeline(client, calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            for source in {calls[i][0].source for i in missing}:
                client.script_load(source)
            again = _pipeline(client, [calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
    except RedisError as exc:
        core_redis.record_failure(url, exc)
        raise RedisUnavailable(str(exc)) from exc
    core_redis.record_success(url)
    return replies


def _pipeline(client: redis.Redis, calls: Sequence[tuple[LuaScript, Sequence[str], Sequence]]):
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    return pipe.execute(raise_on_error=False)
