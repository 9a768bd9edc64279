"""core.pipelined: the async edge's one auto-pipelined Redis connection per event loop, against
the real test Redis and private redis-servers that the tests freeze, kill and restart."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.conf import settings
from redis.exceptions import (
    AuthenticationError,
    NoScriptError,
    ResponseError,
)
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from core import pipelined
from core.pipelined import PipelinedRedis, get_pipelined_redis, pack
from core.redis import get_redis
from tests.asyncio_helpers import run_in_new_loop
from tests.shortener.test_redis_down import PrivateRedis


@pytest.fixture
def server():
    redis_server = PrivateRedis()
    yield redis_server
    redis_server.kill()


def test_commands_of_one_loop_iteration_share_one_connection_and_keep_their_order():
    get_redis().delete("pipelined:n")

    async def go():
        client = get_pipelined_redis()
        ids = await asyncio.gather(*[client.execute("CLIENT", "ID") for _ in range(50)])
        counts = await asyncio.gather(*[client.execute("INCR", "pipelined:n") for _ in range(200)])
        return ids, counts

    ids, counts = run_in_new_loop(go)
    assert len(set(ids)) == 1  # one connection
    assert counts == list(range(1, 201))  # each reply paired with its own command


def test_replies_are_the_ones_redis_py_gives_text_decoded_and_the_url_db_selected():
    sync = get_redis()  # decode_responses=True, settings.REDIS_URL's db
    sync.delete("pipelined:h", "pipelined:s")
    sync.set("pipelined:s", "héllo ✓")
    sync.hset("pipelined:h", mapping={"a": "1"})

    async def go():
        client = get_pipelined_redis()
        return [
            await client.execute("GET", "pipelined:s"),
            await client.execute("GET", "pipelined:missing"),
            await client.execute("HGETALL", "pipelined:h"),
            await client.execute("EVAL", "return {1, 'two', {3}}", 0),
            await client.execute("SET", b"pipelined:b", 2.5),
            await client.execute("GET", "pipelined:b"),
        ]

    assert run_in_new_loop(go) == ["héllo ✓", None, ["a", "1"], [1, "two", [3]], "OK", "2.5"]


def test_error_replies_raise_redis_py_exceptions_and_leave_the_connection_usable():
    async def go():
        client = get_pipelined_redis()
        with pytest.raises(NoScriptError):
            await client.execute("EVALSHA", "0" * 40, 0)
        with pytest.raises(ResponseError, match="wrong number of arguments"):
            await client.execute("INCR")
        return await client.execute("PING")

    assert run_in_new_loop(go) == "PONG"


def test_arguments_redis_py_would_refuse_are_refused_before_sending():
    with pytest.raises(TypeError):
        pack(("SET", "k", None))
    with pytest.raises(TypeError):
        pack(("SET", "k", True))
    assert pack(("SET", "k", 7)) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n7\r\n"


def test_a_password_in_the_url_authenticates():
    protected = PrivateRedis(password="s3cr:et")
    try:
        wrong = protected.url.replace("s3cr:et", "nope")

        async def go():
            right = await get_pipelined_redis(protected.url).execute("PING")
            with pytest.raises(AuthenticationError):
                await get_pipelined_redis(wrong).execute("PING")
            return right

        assert run_in_new_loop(go) == "PONG"
    finally:
        protected.kill()


def test_a_silent_redis_times_out_every_command_in_flight_then_the_client_reconnects(server):
    async def go():
        client = PipelinedRedis(server.url, timeout=0.2)
        assert await client.execute("PING") == "PONG"
        server.freeze()
        started = time.monotonic()
        results = await asyncio.gather(
            *[client.execute("PING") for _ in range(20)], return_exceptions=True
        )
        waited = time.monotonic() - started
        server.thaw()
        return results, waited, await client.execute("PING")

    results, waited, after = run_in_new_loop(go)
    assert all(isinstance(result, RedisTimeoutError) for result in results)
    assert 0.2 <= waited < 0.2 * 1.25 + 0.2  # timeout plus at most a watchdog tick, and slack
    assert after == "PONG"


def test_a_killed_redis_fails_the_commands_in_flight_and_a_restarted_one_is_found_again(server):
    async def go():
        client = PipelinedRedis(server.url, timeout=1.0)
        await client.execute("SET", "k", "v")
        server.freeze()  # so that the commands are in flight when it dies
        waiting = asyncio.gather(
            *[client.execute("GET", "k") for _ in range(5)], return_exceptions=True
        )
        await asyncio.sleep(0.05)
        server.kill()
        in_flight = await waiting
        with pytest.raises(RedisConnectionError):  # refused: nobody listens
            await client.execute("GET", "k")
        return in_flight

    in_flight = run_in_new_loop(go)
    assert all(isinstance(result, RedisConnectionError) for result in in_flight)

    restarted = PrivateRedis()
    try:

        async def again():
            client = PipelinedRedis(restarted.url, timeout=1.0)
            return await client.execute("PING")

        assert run_in_new_loop(again) == "PONG"
    finally:
        restarted.kill()


def test_a_cancelled_caller_does_not_shift_the_replies_of_the_others():
    sync = get_redis()
    sync.set("pipelined:a", "A")
    sync.set("pipelined:b", "B")

    async def go():
        client = get_pipelined_redis()
        await client.execute("PING")  # connected
        first = asyncio.ensure_future(client.execute("GET", "pipelined:a"))
        await asyncio.sleep(0)  # sent (queued for this iteration's write)
        first.cancel()
        return await client.execute("GET", "pipelined:b"), first.cancelled()

    assert run_in_new_loop(go) == ("B", True)


def test_commands_past_the_in_flight_bound_fail_at_once(server, monkeypatch):
    monkeypatch.setattr(pipelined, "MAX_IN_FLIGHT", 3)

    async def go():
        client = PipelinedRedis(server.url, timeout=0.3)
        await client.execute("PING")
        server.freeze()
        return await asyncio.gather(
            *[client.execute("PING") for _ in range(5)], return_exceptions=True
        )

    results = run_in_new_loop(go)
    server.thaw()
    refused = [r for r in results if isinstance(r, RedisConnectionError)]
    timed_out = [r for r in results if isinstance(r, RedisTimeoutError)]
    assert len(refused) == 2 and "in flight" in str(refused[0])
    assert len(timed_out) == 3


def test_a_client_belongs_to_its_loop():
    async def current():
        return get_pipelined_redis()

    first, second = run_in_new_loop(current), run_in_new_loop(current)
    assert first is not second
    assert first.url == second.url == settings.REDIS_URL
