"""core.scripts: the one way every app runs a Lua script, sync and async, against real Redis
servers (the shared test db, and a private redis-server that the tests restart or kill)."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from core import redis as core_redis
from core import scripts
from core.redis import get_redis
from core.scripts import LuaScript, RedisUnavailable
from tests.asyncio_helpers import run_in_new_loop
from tests.shortener.test_redis_down import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
ECHO = LuaScript.from_source("echo", "return {KEYS[1], ARGV[1]}")
INCR = LuaScript.from_source("incr", "return redis.call('INCRBY', KEYS[1], ARGV[1])")
REFUSE = LuaScript.from_source("refuse", "if ARGV[1] == 'no' then return {0} end return {1}")


@pytest.fixture(autouse=True)
def _closed_breakers():
    core_redis.reset_breakers()
    yield
    core_redis.reset_breakers()


@pytest.fixture
def server():
    redis_server = PrivateRedis()
    yield redis_server
    redis_server.kill()


def test_a_script_runs_by_its_sha_and_is_loaded_once_when_redis_does_not_know_it():
    get_redis().script_flush()

    assert scripts.run(ECHO, ["k"], ["v"]) == ["k", "v"]  # NOSCRIPT, loaded, run again
    assert get_redis().script_exists(ECHO.sha) == [True]
    assert scripts.run(ECHO, ["k"], ["w"]) == ["k", "w"]


def test_the_sha_is_the_one_redis_computes():
    assert get_redis().script_load(INCR.source) == INCR.sha


def test_a_dead_redis_is_one_exception_and_the_breaker_spares_the_next_calls(server):
    assert scripts.run(INCR, ["n"], [1], url=server.url) == 1
    server.kill()

    with pytest.raises(RedisUnavailable):
        scripts.run(INCR, ["n"], [1], url=server.url)
    started = time.monotonic()
    for _ in range(50):
        with pytest.raises(RedisUnavailable):
            scripts.run(INCR, ["n"], [1], url=server.url)
    assert time.monotonic() - started < 0.1  # open breaker: nothing sent
    assert scripts.run(INCR, ["n"], [1]) == 1  # another Redis has a breaker of its own


def test_async_runs_share_the_scripts_and_the_breaker(server):
    async def go() -> list:
        get_redis(server.url).script_flush()
        first = await scripts.run_async(INCR, ["a"], [2], url=server.url)
        second = await scripts.run_async(INCR, ["a"], [3], url=server.url)
        server.kill()
        with pytest.raises(RedisUnavailable):
            await scripts.run_async(INCR, ["a"], [1], url=server.url)
        return [first, second, core_redis.redis_allowed(server.url)]

    assert run_in_new_loop(go) == [2, 5, False]
    with pytest.raises(RedisUnavailable):  # the sync path sees the same open breaker
        scripts.run(INCR, ["a"], [1], url=server.url)


def test_an_async_client_belongs_to_its_event_loop():
    async def run_once() -> int:
        return await scripts.run_async(INCR, ["loops"], [1])

    assert [run_in_new_loop(run_once) for _ in range(3)] == [1, 2, 3]  # a new loop each time


def test_a_chain_runs_the_second_script_only_if_the_first_admits():
    from core import lua

    both = scripts.chain(REFUSE, ECHO)
    assert scripts.chain(REFUSE, ECHO) is both  # built once per pair

    def call(verdict: str) -> list:
        keys, args = lua.chain_args(
            first_keys=["r"], first_args=[verdict], then_keys=["e"], then_args=["hi"],
            mode="enforce",
        )  # fmt: skip
        return scripts.run(both, keys, args)

    assert call("yes") == [[1], ["e", "hi"]]
    assert call("no") == [[0]]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


LIMITER_FACES = {"ratelimit.services", "ratelimit.pages"}  # its public modules


def test_the_shortener_reaches_the_limiter_only_through_its_services():
    """STYLE.md: apps meet at services/selectors. The redirect's chained limit goes through
    ratelimit.services.run_check_then, not the limiter's scripts or key layout."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            module
            for module in _imports(path)
            if module.startswith("ratelimit") and module not in LIMITER_FACES
        )
        for path in (ROOT / "shortener").rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_no_app_runs_evalsha_of_its_own():
    """One way to run a script: core.scripts (pipelines excepted: redis-py's Script)."""
    for app in ("shortener", "ratelimit", "accounts"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            assert "def _evalsha" not in text, path
            assert "NoScriptError" not in text, path


def test_cache_and_clicks_do_not_import_each_other_both_ways():
    cache_imports = set().union(*(_imports(p) for p in (ROOT / "shortener/cache").glob("*.py")))
    assert not {m for m in cache_imports if m.startswith("shortener.clicks")}
