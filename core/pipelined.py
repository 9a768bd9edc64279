"""One pipelined Redis connection per event loop: the async edge's client (core.scripts.run_async).

    client = get_pipelined_redis(url)          # in a coroutine: this loop's client for url
    reply = await client.execute("EVALSHA", sha, 2, "k1", "k2", "arg")

Every command issued during one event-loop iteration goes out in one `write()` on one connection
(auto-pipelining, as ioredis and Lettuce do); Redis answers in order and hiredis parses the
replies. A command is exactly the command it would be on redis-py: same atomicity, same replies
(text decoded as UTF-8), error replies raised as redis-py's exceptions (NoScriptError,
ResponseError, ...), a broken or silent Redis raised as redis.exceptions.ConnectionError or
TimeoutError, so callers and the circuit breaker (core.redis) treat both clients alike.

Why not redis.asyncio, valkey-glide or coredis: on this box, under 16 concurrent callers in one
uvloop process, a GET costs 36 µs of client CPU on redis.asyncio, 48 µs on valkey-glide 2.6,
90 µs on coredis 6.9 and 6 µs here (an EVALSHA 40, 55, 106 and 9 µs); the edge's floor redirect
runs 1.7 times as fast on this client than on redis.asyncio (docs/benchmarks.md, "Choosing the async
edge"). What it gives up: one connection, so no blocking commands (BLPOP would stall everyone
behind it), no pub/sub, no MULTI across awaits. The edge needs none of them.

Failure handling:
- connect: bounded by `connect_timeout`; AUTH (URL user/password) and SELECT (URL db) run before
  any queued command. A refused or failed connect fails the commands waiting for it.
- timeout: a watchdog checks every quarter `timeout` whether the oldest unanswered command is
  older than `timeout`; if so the connection is dropped (a reply still on its way would pair with
  the wrong command) and every command in flight fails with TimeoutError. The next command opens
  a new connection.
- a lost connection fails every command in flight with ConnectionError; the next one reconnects.
- at most MAX_IN_FLIGHT commands wait on one connection; past that a command fails at once
  (ConnectionError) instead of queueing without bound behind a slow Redis.
A command whose caller is cancelled still gets its reply read (and dropped), so the order holds.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Awaitable
from typing import Any

import hiredis
from django.conf import settings
from redis._parsers.base import BaseParser  # redis-py's own error-reply → exception mapping
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

MAX_IN_FLIGHT = 10_000  # ~1 s of the edge's peak per worker; a Redis that far behind is down


def pack(args: tuple) -> bytes:
    """A command in RESP, by hiredis (C: 2 µs for the redirect's 25 arguments, against 10 µs in
    Python). str, bytes, int and float arguments; anything else (None, a bool) is a TypeError."""
    return hiredis.pack_command(args)


class _Connection(asyncio.Protocol):
    """One socket to Redis: commands written in batches, replies matched to waiters in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.waiters: deque[tuple[asyncio.Future, float]] = deque()  # (future, deadline)
        self.pending: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._watchdog: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm_watchdog()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"Redis connection lost: {exc or 'closed by Redis'}"))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiters = self.waiters
        try:
            while (reply := self.reader.gets()) is not False:
                waiter, _ = waiters.popleft()
                if waiter.done():  # its caller was cancelled: the reply is dropped
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    waiter.set_exception(BaseParser.parse_error(str(reply)))
                else:
                    waiter.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.abort(RedisConnectionError(f"Redis protocol error: {exc!r}"))

    # commands

    def send(self, command: bytes) -> asyncio.Future:
        if self.closed:
            raise RedisConnectionError("Redis connection closed")
        if len(self.waiters) >= MAX_IN_FLIGHT:
            raise RedisConnectionError(f"{MAX_IN_FLIGHT} Redis commands in flight: Redis is behind")
        if not self.pending:
            self.loop.call_soon(self._flush)  # once per loop iteration: every command so far
        self.pending.append(command)
        waiter = self.loop.create_future()
        self.waiters.append((waiter, self.loop.time() + self.timeout))
        return waiter

    def _flush(self) -> None:
        if self.pending and not self.closed:
            data, self.pending = b"".join(self.pending), []
            self.transport.write(data)  # type: ignore[union-attr]

    # failure

    def abort(self, error: Exception) -> None:
        """Drop the connection now and fail every command in flight with `error`."""
        self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self.pending = []
        while self.waiters:
            waiter, _ = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def _arm_watchdog(self) -> None:
        self._watchdog = self.loop.call_later(max(self.timeout / 4, 0.005), self._watch)

    def _watch(self) -> None:
        if self.closed:
            return
        if self.waiters and self.waiters[0][1] < self.loop.time():
            self.abort(RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s"))
            return
        self._arm_watchdog()


class PipelinedRedis:
    """A Redis client for one event loop over one auto-pipelined connection (module docstring).
    Build it with get_pipelined_redis, or in a coroutine with its own timeout."""

    def __init__(self, url: str, *, timeout: float, connect_timeout: float | None = None) -> None:
        options = parse_url(url)
        self.url = url
        self.path = options.get("path")  # unix://
        self.host = options.get("host", "localhost")
        self.port = options.get("port", 6379)
        self.db = options.get("db", 0)
        self.username = options.get("username")
        self.password = options.get("password")
        self.tls = url.startswith("rediss://")
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.loop = asyncio.get_running_loop()  # kept alive with the client: see _clients
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future | None = None

    def execute(self, *args: Any) -> Awaitable[Any]:
        """Send one command; its reply, or raise as redis-py would (module docstring)."""
        return self.execute_packed(pack(args))

    async def execute_packed(self, command: bytes) -> Any:
        """`execute` of a command already in RESP (`pack`): for commands built once."""
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connected()
        return await connection.send(command)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.abort(RedisConnectionError("client closed"))
            self._connection = None

    async def _connected(self) -> _Connection:
        # One connect at a time: the commands that arrive meanwhile wait for the same one.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connect_finished)
        return await asyncio.shield(self._connecting)

    def _connect_finished(self, future: asyncio.Future) -> None:
        self._connecting = None
        if not future.cancelled() and future.exception() is None:
            self._connection = future.result()

    async def _connect(self) -> _Connection:
        def factory() -> _Connection:
            return _Connection(self.loop, self.timeout)

        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path:
                    _, connection = await self.loop.create_unix_connection(factory, self.path)
                else:
                    context = ssl.create_default_context() if self.tls else None
                    _, connection = await self.loop.create_connection(
                        factory, self.host, self.port, ssl=context
                    )
                hello = []
                if self.password:
                    user = (self.username,) if self.username else ()
                    hello.append(connection.send(pack(("AUTH", *user, self.password))))
                if self.db:
                    hello.append(connection.send(pack(("SELECT", self.db))))
                if hello:
                    await asyncio.gather(*hello)
        except BaseException as exc:
            if connection is not None:
                connection.abort(RedisConnectionError("connection setup failed"))
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(
                    f"connecting to Redis took over {self.connect_timeout:g} s"
                ) from exc
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
            raise
        return connection


# One client per URL per event loop. A client holds its loop, so a loop in this map is never
# collected and its id never reused by a new loop. Servers run one loop per worker; tests start
# a loop per asyncio.run, hence the bound.
_clients: dict[tuple[str, int], PipelinedRedis] = {}


def get_pipelined_redis(url: str | None = None) -> PipelinedRedis:
    """The pipelined client for `url` (default settings.REDIS_URL) on the running event loop,
    with REDIS_SOCKET_TIMEOUT as its timeouts. Call it from a coroutine."""
    url = url or settings.REDIS_URL
    key = (url, id(asyncio.get_running_loop()))
    client = _clients.get(key)
    if client is None:
        if len(_clients) >= 64:  # loops come and go (tests): forget the old ones
            _clients.clear()
        client = _clients[key] = PipelinedRedis(url, timeout=settings.REDIS_SOCKET_TIMEOUT)
    return client
