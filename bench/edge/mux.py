"""One pipelined Redis connection per worker: the cheaper client the floor's profile asks for.

redis.asyncio spends 60-100 µs of CPU per command on this box under concurrency (a connection
taken from the pool and given back, its locks, the command packed and the reply parsed in
Python layers around hiredis), several times what Redis itself spends (docs/benchmarks.md,
"Choosing the async edge"). `PipelinedRedis` is the least a client can do: one connection, every
command of one event-loop iteration written in one `write()` (auto-pipelining, as ioredis and
Lettuce do), replies read by hiredis and handed back in order. Redis reads a batch in one
`read()` too. Same commands, same script, same atomicity: only the transport is cheaper.

A benchmark tool, not production code: no AUTH/TLS, no timeouts, a lost connection fails the
commands in flight and the next command reconnects.
"""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlparse

import hiredis


def pack(args: tuple) -> bytes:
    """A command in RESP: bytes, str and int arguments."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self, decode: bool) -> None:
        self.reader = hiredis.Reader(encoding="utf-8" if decode else None)
        self.waiters: deque[asyncio.Future] = deque()
        self.pending: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.lost = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"Redis connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        gets, waiters = self.reader.gets, self.waiters
        while (reply := gets()) is not False:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def flush(self) -> None:
        data, self.pending = b"".join(self.pending), []
        self.transport.write(data)  # type: ignore[union-attr]


class PipelinedRedis:
    """`await client.execute("GET", key)` -> the reply (bytes, or str if `decode`); an error
    reply is returned as a hiredis.ReplyError, not raised (the caller knows which it expects)."""

    def __init__(self, url: str, *, decode: bool = False) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        self.db = int((parsed.path or "/0").lstrip("/") or 0)
        self.decode = decode
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: _Protocol(self.decode), self.host, self.port
        )
        protocol.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        if self.db:
            reply = await self._send(protocol, pack(("SELECT", self.db)))
            if isinstance(reply, hiredis.ReplyError):
                raise reply
        return protocol

    def _send(self, protocol: _Protocol, command: bytes) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if not protocol.pending:
            loop.call_soon(protocol.flush)  # once per loop iteration: every command so far
        protocol.pending.append(command)
        waiter = loop.create_future()
        protocol.waiters.append(waiter)
        return waiter

    async def execute_packed(self, command: bytes):
        protocol = self._protocol
        if protocol is None or protocol.lost:
            if self._connecting is None:
                self._connecting = asyncio.ensure_future(self._connect())
            try:
                protocol = self._protocol = await asyncio.shield(self._connecting)
            finally:
                self._connecting = None
        return await self._send(protocol, command)

    def execute(self, *args):
        return self.execute_packed(pack(args))
