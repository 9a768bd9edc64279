"""The least an async server can do for a cached redirect, in two interfaces (issue #12).

    static   a constant 302, no I/O: the server's own ceiling
    bare     one Redis GET of `bench:redirect:<code>` -> 302 (Location, ours' headers), else 404
    floor    one EVALSHA of bench/baseline_wsgi.py's counted script (GCRA per-IP limit chained with
             GET + HINCRBY + XADD by core/lua.py) -> 302; 429 if refused, 404 if absent
    bare_mux, floor_mux   the same two on core/pipelined.py's one pipelined connection per worker
                          (the product's client) instead of redis.asyncio's pool: the same
                          commands, a cheaper client

`asgi_<app>` is raw ASGI (uvicorn, granian --interface asgi); `rsgi_<app>` is granian's RSGI. Every
app also answers `GET /healthz` and `/healthz/edge` (200, no I/O) for the load balancer's checks.
The client of the floor's limit is the rightmost X-Forwarded-For entry (our load balancer's),
else the peer.

redis.asyncio with hiredis (picked up automatically), one client and so one connection pool per
worker process: each server imports this module in each worker, and the pool's connections are
made on the worker's own loop on first use. No Django is imported: configured by the environment
run.py passes (BENCH_REDIS_URL, BENCH_LIMIT_ARGS, BENCH_EVENTS_MAXLEN, BENCH_REDIRECT_HEADERS).
"""

from __future__ import annotations

import json
import os

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from bench.baseline_wsgi import _COUNTED_GET, COUNTED_KEYS, KEY_PREFIX  # the WSGI floor's script
from core.lua import chain_args
from core.pipelined import PipelinedRedis, pack

_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
_SCRIPT, _SHA = _COUNTED_GET.script, _COUNTED_GET.sha
_LIMIT_ARGS = [int(x) for x in os.environ.get("BENCH_LIMIT_ARGS", "600,60000000,200,1").split(",")]
_MAXLEN = int(os.environ.get("BENCH_EVENTS_MAXLEN", "100000"))
_HEADERS = json.loads(
    os.environ.get(
        "BENCH_REDIRECT_HEADERS",
        '[["Cache-Control", "no-store"], ["Referrer-Policy", "strict-origin-when-cross-origin"]]',
    )
)
_HEADERS.append(["Content-Length", "0"])
_STATIC_URL = "https://example.com/"
_POOL = int(os.environ.get("BENCH_REDIS_POOL", "512"))  # Redis connections per worker, at most

# The floor's KEYS and ARGV, as core/lua.py lays them out, with the per-request slots marked: the
# limiter key (KEYS[1]), the code and the Referer (ARGV[5], ARGV[6]). Built once, copied per call.
_KEYS, _ARGS = chain_args(
    first_keys=["rl"],
    first_args=_LIMIT_ARGS,
    then_keys=[KEY_PREFIX, *COUNTED_KEYS],
    then_args=["code", "referer", _MAXLEN],
    mode="enforce",
)
_NKEYS, _CODE_ARG = len(_KEYS), len(_LIMIT_ARGS)


async def _evalsha(client: aioredis.Redis, keys: list, args: list):
    try:
        return await client.evalsha(_SHA, _NKEYS, *keys, *args)
    except NoScriptError:  # a Redis restarted or flushed: load it once, then as before
        await client.script_load(_SCRIPT)
        return await client.evalsha(_SHA, _NKEYS, *keys, *args)


def _floor_args(code: str, client_ip: str, referer: str) -> tuple[list, list]:
    keys = [f"bench:rl:{{redirect:{client_ip}}}:gcra", KEY_PREFIX + code, *COUNTED_KEYS]
    args = _ARGS.copy()
    args[_CODE_ARG] = code
    args[_CODE_ARG + 1] = referer
    return keys, args


# --- raw ASGI -------------------------------------------------------------------------------------


def _client(*, decode: bool) -> aioredis.Redis:
    """redis-py's default pool, up to POOL connections. Its default of 100 raised
    MaxConnectionsError (500s) in a cold start under open-loop load; BlockingConnectionPool,
    which waits instead, costs ~35 µs more per command at 16 in flight (asyncio.Condition)."""
    return aioredis.Redis.from_url(_URL, max_connections=_POOL, decode_responses=decode)


_aredis = _client(decode=False)  # replies as bytes: ASGI headers are bytes
_A_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _HEADERS]
_A_EMPTY = [(b"content-length", b"0")]
_A_BODY = {"type": "http.response.body", "body": b""}
_A_STATIC = {
    "type": "http.response.start",
    "status": 302,
    "headers": [(b"location", _STATIC_URL.encode()), *_A_HEADERS],
}


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _a_answer(send, status: int, location: bytes | None) -> None:
    headers = [(b"location", location), *_A_HEADERS] if location else _A_EMPTY
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(_A_BODY)


async def asgi_static(scope, receive, send) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    if scope["path"].startswith("/healthz"):
        return await _a_answer(send, 200, None)
    await send(_A_STATIC)
    await send(_A_BODY)


async def asgi_bare(scope, receive, send) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path.startswith("/healthz"):
        return await _a_answer(send, 200, None)
    url = await _aredis.get(KEY_PREFIX + path[1:])
    await _a_answer(send, 302 if url else 404, url)


async def asgi_floor(scope, receive, send) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path.startswith("/healthz"):
        return await _a_answer(send, 200, None)
    forwarded = referer = b""
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded = value
        elif name == b"referer":
            referer = value
    client_ip = forwarded.rsplit(b",", 1)[-1].strip().decode() if forwarded else scope["client"][0]
    reply = await _evalsha(_aredis, *_floor_args(path[1:], client_ip, referer.decode()))
    if len(reply) == 1:
        return await _a_answer(send, 429, None)
    url = reply[1]
    await _a_answer(send, 302 if url else 404, url)


# --- granian RSGI ---------------------------------------------------------------------------------
_rredis = _client(decode=True)  # RSGI headers are str
_R_HEADERS = [(name.lower(), value) for name, value in _HEADERS]
_R_STATIC = [("location", _STATIC_URL), *_R_HEADERS]
_R_EMPTY = [("content-length", "0")]


async def rsgi_static(scope, proto) -> None:
    if scope.path.startswith("/healthz"):
        return proto.response_empty(200, _R_EMPTY)
    proto.response_empty(302, _R_STATIC)


async def rsgi_bare(scope, proto) -> None:
    path = scope.path
    if path.startswith("/healthz"):
        return proto.response_empty(200, _R_EMPTY)
    url = await _rredis.get(KEY_PREFIX + path[1:])
    if url:
        proto.response_empty(302, [("location", url), *_R_HEADERS])
    else:
        proto.response_empty(404, _R_EMPTY)


async def rsgi_floor(scope, proto) -> None:
    path = scope.path
    if path.startswith("/healthz"):
        return proto.response_empty(200, _R_EMPTY)
    headers = scope.headers
    forwarded = headers.get("x-forwarded-for")
    client_ip = (
        forwarded.rsplit(",", 1)[-1].strip() if forwarded else scope.client.rsplit(":", 1)[0]
    )
    reply = await _evalsha(_rredis, *_floor_args(path[1:], client_ip, headers.get("referer", "")))
    if len(reply) == 1:
        return proto.response_empty(429, _R_EMPTY)
    url = reply[1]
    if url:
        proto.response_empty(302, [("location", url), *_R_HEADERS])
    else:
        proto.response_empty(404, _R_EMPTY)


# --- the same apps on one pipelined connection per worker (core/pipelined.py) --------------------
def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


# EVALSHA sha nkeys | KEYS[1] KEYS[2] | KEYS[3..] ARGV[1..4] | code referer | the rest: the
# constant parts packed once, the four per-request ones per request.
_M_HEAD = pack(("EVALSHA", _SHA, _NKEYS))
_M_HEAD = b"*%d\r\n" % (3 + _NKEYS + len(_ARGS)) + _M_HEAD.split(b"\r\n", 1)[1]
_M_MID = b"".join(_bulk(str(x).encode()) for x in [*_KEYS[2:], *_ARGS[:_CODE_ARG]])
_M_TAIL = b"".join(_bulk(str(x).encode()) for x in _ARGS[_CODE_ARG + 2 :])
_M_PREFIX = KEY_PREFIX.encode()
_M_GET = b"*2\r\n$3\r\nGET\r\n"


def _m_floor_command(code: bytes, client_ip: bytes, referer: bytes) -> bytes:
    return b"".join((
        _M_HEAD, _bulk(b"bench:rl:{redirect:%b}:gcra" % client_ip), _bulk(_M_PREFIX + code),
        _M_MID, _bulk(code), _bulk(referer), _M_TAIL,
    ))  # fmt: skip


async def _m_evalsha(command: bytes):
    client = _mux()
    try:
        return await client.execute_packed(command)
    except NoScriptError:
        await client.execute("SCRIPT", "LOAD", _SCRIPT)
        return await client.execute_packed(command)


_mux_client: PipelinedRedis | None = None


def _mux() -> PipelinedRedis:
    """This worker's pipelined client, made on its loop at the first request (replies as str)."""
    global _mux_client
    if _mux_client is None:
        _mux_client = PipelinedRedis(_URL, timeout=2.0)
    return _mux_client


async def asgi_bare_mux(scope, receive, send) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path.startswith("/healthz"):
        return await _a_answer(send, 200, None)
    url = await _mux().execute_packed(_M_GET + _bulk(_M_PREFIX + path[1:].encode()))
    await _a_answer(send, 302 if url else 404, url and url.encode())


async def asgi_floor_mux(scope, receive, send) -> None:
    if scope["type"] != "http":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path.startswith("/healthz"):
        return await _a_answer(send, 200, None)
    forwarded = referer = b""
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded = value
        elif name == b"referer":
            referer = value
    client_ip = forwarded.rsplit(b",", 1)[-1].strip() if forwarded else scope["client"][0].encode()
    reply = await _m_evalsha(_m_floor_command(path[1:].encode(), client_ip, referer))
    if len(reply) == 1:
        return await _a_answer(send, 429, None)
    url = reply[1]
    await _a_answer(send, 302 if url else 404, url and url.encode())


async def rsgi_bare_mux(scope, proto) -> None:
    path = scope.path
    if path.startswith("/healthz"):
        return proto.response_empty(200, _R_EMPTY)
    url = await _mux().execute_packed(_M_GET + _bulk(_M_PREFIX + path[1:].encode()))
    if url:
        proto.response_empty(302, [("location", url), *_R_HEADERS])
    else:
        proto.response_empty(404, _R_EMPTY)


async def rsgi_floor_mux(scope, proto) -> None:
    path = scope.path
    if path.startswith("/healthz"):
        return proto.response_empty(200, _R_EMPTY)
    headers = scope.headers
    forwarded = headers.get("x-forwarded-for")
    client_ip = (
        forwarded.rsplit(",", 1)[-1].strip() if forwarded else scope.client.rsplit(":", 1)[0]
    )
    command = _m_floor_command(
        path[1:].encode(), client_ip.encode(), headers.get("referer", "").encode()
    )
    reply = await _m_evalsha(command)
    if len(reply) == 1:
        return proto.response_empty(429, _R_EMPTY)
    url = reply[1]
    if url:
        proto.response_empty(302, [("location", url), *_R_HEADERS])
    else:
        proto.response_empty(404, _R_EMPTY)
