"""An open-loop load generator over keep-alive connections, for the async edge (issue #12).

bench/loadgen.py `open_loop` opens a new connection per request and says `Connection: close`,
which is what gunicorn's sync workers do anyway. An async server keeps connections alive, and so
does a load balancer in front of it; timing it through a new connection per request would
measure the TCP handshakes. `open_loop_keepalive` keeps loadgen's rules (requests on a fixed
schedule whatever the server does, each timed from its *scheduled* send, the generator's
lateness and CPU recorded, X-Forwarded-For from loadgen.client_address) and sends each request
on an idle keep-alive connection; when none is idle it opens one more (up to `max_connections`,
then the request waits in the generator's queue, still timed from its slot). So a stall shows as
latency and as more connections, never as fewer requests sent.

One request per connection at a time (no pipelining); a response ends after its headers and
Content-Length bytes (chunked bodies: at the terminating chunk). Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections import Counter, deque
from collections.abc import Sequence

from bench.loadgen import HOST, LoadResult, client_address

_ERR = select.EPOLLERR | select.EPOLLHUP


class _Conn:
    __slots__ = ("buf", "connected", "fd", "pending", "scheduled", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.connected = False
        self.scheduled = 0.0  # of the request in flight; 0.0 = idle
        self.buf = bytearray()
        self.pending: tuple[bytes, float] | None = None  # to send once connected


def _request_bytes(path: str, port: int, index: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"X-Forwarded-For: {client_address(index)}\r\n\r\n"
    ).encode()


def _response_end(buf: bytearray) -> tuple[int, bool]:
    """(length of the first complete response in `buf` or 0, whether it says Connection: close)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0, False
    head = bytes(buf[:end]).lower()
    close = b"\r\nconnection: close" in head
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
        total = end + 4 + length
        return (total if len(buf) >= total else 0), close
    if b"\r\ntransfer-encoding: chunked" in head:
        last = buf.find(b"\r\n0\r\n\r\n", end)
        return (last + 7 if last >= 0 else 0), close
    return end + 4, close  # no body (a 302 or 404 without Content-Length)


def open_loop_keepalive(
    port: int,
    paths: Sequence[str],
    *,
    rate: float,
    seconds: float,
    grace: float = 2.0,
    warm_connections: int = 32,
    max_connections: int = 1024,
) -> LoadResult:
    """Send `rate` requests per second for `seconds` on a fixed schedule (cycling through
    `paths`) over keep-alive connections, and time each from its scheduled send. Requests
    unanswered `grace` seconds after the last slot count as errors. `extra` carries how many
    connections were opened and how many requests waited for one."""
    requests = [_request_bytes(path, port, index) for index, path in enumerate(paths)]
    total = max(1, int(rate * seconds))
    interval = 1.0 / rate
    epoll = select.epoll()
    conns: dict[int, _Conn] = {}
    idle: list[_Conn] = []
    queue: deque[tuple[bytes, float]] = deque()
    latencies: list[float] = []
    lateness: list[float] = []
    statuses: Counter[str] = Counter()
    errors = opened = queued = 0

    def open_connection(*, blocking: bool) -> _Conn | None:
        nonlocal errors, opened
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if blocking:
            sock.connect((HOST, port))
        sock.setblocking(False)
        if not blocking:
            result = sock.connect_ex((HOST, port))
            if result not in (0, errno.EINPROGRESS):
                sock.close()
                errors += 1
                return None
        conn = _Conn(sock)
        conn.connected = blocking
        conns[conn.fd] = conn
        epoll.register(conn.fd, select.EPOLLIN if blocking else select.EPOLLOUT)
        opened += 1
        return conn

    def drop(conn: _Conn) -> None:
        nonlocal errors
        if conn.scheduled or conn.pending:
            errors += 1
        epoll.unregister(conn.fd)
        conns.pop(conn.fd)
        if conn in idle:
            idle.remove(conn)
        conn.sock.close()

    def send(conn: _Conn, request: bytes, scheduled: float) -> None:
        conn.scheduled = scheduled
        try:
            conn.sock.send(request)  # ~150 bytes into an empty socket buffer: all of it
        except OSError:
            drop(conn)

    def dispatch(request: bytes, scheduled: float) -> None:
        nonlocal queued
        if idle:
            send(idle.pop(), request, scheduled)
        elif len(conns) < max_connections:
            conn = open_connection(blocking=False)
            if conn is not None:
                conn.pending = (request, scheduled)
        else:
            queue.append((request, scheduled))
            queued += 1

    for _ in range(warm_connections):
        idle.append(open_connection(blocking=True))  # type: ignore[arg-type]
    cpu_started = time.process_time()
    start = time.perf_counter() + 0.01
    deadline = start + seconds + grace
    sent = 0
    while True:
        now = time.perf_counter()
        while sent < total and start + sent * interval <= now:
            scheduled = start + sent * interval
            lateness.append(now - scheduled)
            dispatch(requests[sent % len(requests)], scheduled)
            sent += 1
        if sent >= total and not (queue or any(c.scheduled or c.pending for c in conns.values())):
            break
        if now >= deadline:
            for conn in list(conns.values()):
                if conn.scheduled:
                    latencies.append(now - conn.scheduled)  # a lower bound
                drop(conn)
            errors += len(queue)
            break
        wait = 0.01 if sent >= total else max(0.0, start + sent * interval - now)
        for fd, events in epoll.poll(wait):
            conn = conns.get(fd)
            if conn is None:
                continue
            if not conn.connected:
                if events & _ERR:
                    drop(conn)
                    continue
                conn.connected = True
                epoll.modify(fd, select.EPOLLIN)
                request, scheduled = conn.pending  # type: ignore[misc]
                conn.pending = None
                send(conn, request, scheduled)
                continue
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                drop(conn)
                continue
            if not data:
                drop(conn)
                continue
            conn.buf += data
            length, close = _response_end(conn.buf)
            if not length:
                continue
            answered = time.perf_counter()
            statuses[conn.buf[9:12].decode()] += 1
            latencies.append(answered - conn.scheduled)
            del conn.buf[:length]
            conn.scheduled = 0.0
            if close:
                drop(conn)
            elif queue:
                send(conn, *queue.popleft())
            else:
                idle.append(conn)
    cpu = time.process_time() - cpu_started
    for conn in list(conns.values()):
        drop(conn)
    epoll.close()
    ordered = sorted(latencies)
    lateness.sort()

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    return LoadResult(
        requests=sum(statuses.values()),
        seconds=total * interval,
        errors=errors,
        statuses=dict(statuses),
        p50_ms=percentile(0.50),
        p90_ms=percentile(0.90),
        p99_ms=percentile(0.99),
        max_ms=ordered[-1] * 1000 if ordered else 0.0,
        generator_cpu_seconds=cpu,
        offered_rate=rate,
        late_p99_ms=lateness[int(0.99 * (len(lateness) - 1))] * 1000,
        extra={"connections_opened": opened, "queued": queued},
    )
