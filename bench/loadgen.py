"""HTTP load for bench/bench_redirect.py: `wrk` for peak throughput, and a small epoll generator in
Python for a constant rate (open loop) or a fixed list of requests (closed loop).

Why two. `wrk` is a closed loop: each connection sends its next request when the previous answer
arrives, so at saturation it finds the peak, but below it a stalled server also stalls the
generator and the stall is never timed ("coordinated omission"). `wrk2` fixes that, but Debian
does not ship it. `open_loop` sends on a fixed schedule whatever the server does and times each
request from its *scheduled* send time, so a stall shows in the percentiles as the queue it
causes. `closed_loop` sends a fixed list exactly once (cache-miss runs: every code once).

Both run on the same 2 cores as the servers. Their own cost is measured, not assumed: each result
carries the generator's CPU seconds, and `open_loop` records how late it sent (`late_p99_ms`):
`epoll.poll` sleeps in whole milliseconds, so a request can leave up to ~1 ms after its slot, and
that is counted in its latency. bench_redirect also runs both against a static response.

Every request opens a new connection and says `Connection: close`: gunicorn's sync workers close
the connection after each response anyway (they do not keep connections alive), and so does the
response to wrk. Only 127.0.0.1 is ever a target.

Every request also says which client it comes from, as a load balancer would: `X-Forwarded-For`
with one of CLIENTS addresses from 198.18.0.0/15 (RFC 2544's range for benchmarks; only text in
a header, never a destination), in turn. Servers that trust 127.0.0.1 as their proxy then see
thousands of clients, as in production, and a per-IP limit (10 redirects/s per address) checks
every request and refuses none; from one address, nearly all would be refused.
"""

from __future__ import annotations

import errno
import json
import resource
import select
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).resolve().parent / "redirect.lua"
HOST = "127.0.0.1"
CLIENTS = 4096  # X-Forwarded-For addresses; redirect.lua computes the same ones


def client_address(index: int) -> str:
    """The client address of the `index`-th request of a list (198.18.0.0 .. 198.18.15.255)."""
    n = index % CLIENTS
    return f"198.18.{n >> 8}.{n & 255}"


@dataclass(frozen=True)
class LoadResult:
    """What one run measured. Latencies are milliseconds; `seconds` is the wall time of the run."""

    requests: int  # responses received
    seconds: float
    errors: int  # connect/read errors and timeouts (not HTTP statuses)
    statuses: dict[str, int]  # "302" -> count; wrk only counts "non-2xx/3xx"
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    generator_cpu_seconds: float | None = None
    offered_rate: float | None = None  # open loop: requests per second scheduled
    late_p99_ms: float | None = None  # open loop: how late the generator itself sent (p99)
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def generator_cpu_us_per_request(self) -> float | None:
        if self.generator_cpu_seconds is None or not self.requests:
            return None
        return self.generator_cpu_seconds / self.requests * 1e6


# --- wrk -----------------------------------------------------------------------------------------
def run_wrk(
    port: int, paths_file: Path, *, seconds: float, connections: int, threads: int = 1
) -> LoadResult:
    """Closed-loop peak: `wrk` with bench/redirect.lua cycling through the paths in `paths_file`
    (one per line; each thread starts at its own offset). Raises RuntimeError if wrk fails."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "2s",
        "-s",
        str(WRK_SCRIPT),
        f"http://{HOST}:{port}",
        "--",
        str(paths_file),
        str(threads),
        str(CLIENTS),
    ]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    wall = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("BENCH "))
    return LoadResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        errors=figures["connect"] + figures["read"] + figures["write"] + figures["timeout"],
        statuses={"non-2xx/3xx": figures["status_errors"]} if figures["status_errors"] else {},
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        generator_cpu_seconds=wrk_cpu,
        extra={"non_2xx_3xx": figures["status_errors"], "wall_seconds": wall},
    )


# --- the Python generator ------------------------------------------------------------------------
def _request_bytes(path: str, port: int, index: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"X-Forwarded-For: {client_address(index)}\r\nConnection: close\r\n\r\n"
    ).encode()


class _Connections:
    """Requests in flight, one non-blocking socket each, multiplexed with one epoll."""

    def __init__(self, port: int) -> None:
        self.address = (HOST, port)
        self.epoll = select.epoll()
        # fd -> [socket, scheduled, request bytes (None once sent), received bytes]
        self.open: dict[int, list] = {}
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.errors = 0

    def start(self, request: bytes, scheduled: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        result = sock.connect_ex(self.address)
        if result not in (0, errno.EINPROGRESS):
            sock.close()
            self.errors += 1
            return
        self.open[sock.fileno()] = [sock, scheduled, request, b""]
        self.epoll.register(sock.fileno(), select.EPOLLOUT)

    def _close(self, fd: int, *, failed: bool) -> None:
        sock, scheduled, _, received = self.open.pop(fd)
        self.epoll.unregister(fd)
        sock.close()
        if failed or not received.startswith(b"HTTP/1."):
            self.errors += 1
            return
        self.latencies.append(time.perf_counter() - scheduled)
        self.statuses[received[9:12].decode()] += 1

    def poll(self, timeout: float) -> None:
        for fd, events in self.epoll.poll(timeout):
            entry = self.open[fd]
            sock = entry[0]
            if entry[2] is not None:  # connected (or refused): send the request
                if events & (select.EPOLLERR | select.EPOLLHUP):
                    self._close(fd, failed=True)
                    continue
                try:
                    sock.send(entry[2])
                except OSError:
                    self._close(fd, failed=True)
                    continue
                entry[2] = None
                self.epoll.modify(fd, select.EPOLLIN)
                continue
            # The response ends at EOF: the request said Connection: close.
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        self._close(fd, failed=False)
                        break
                    entry[3] += data
            except BlockingIOError:
                continue
            except OSError:
                self._close(fd, failed=True)

    def abandon(self) -> None:
        """Count what is still in flight as errors and as latencies up to now (a lower bound)."""
        for fd in list(self.open):
            scheduled = self.open[fd][1]
            self.open[fd][3] = b""
            self._close(fd, failed=True)
            self.latencies.append(time.perf_counter() - scheduled)

    def result(self, *, seconds: float, cpu: float, **extra_fields) -> LoadResult:
        ordered = sorted(self.latencies)

        def percentile(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

        return LoadResult(
            requests=sum(self.statuses.values()),
            seconds=seconds,
            errors=self.errors,
            statuses=dict(self.statuses),
            p50_ms=percentile(0.50),
            p90_ms=percentile(0.90),
            p99_ms=percentile(0.99),
            max_ms=ordered[-1] * 1000 if ordered else 0.0,
            generator_cpu_seconds=cpu,
            **extra_fields,
        )


def open_loop(
    port: int, paths: Sequence[str], *, rate: float, seconds: float, grace: float = 2.0
) -> LoadResult:
    """Send `rate` requests per second for `seconds` on a fixed schedule (cycling through
    `paths`), whatever the server does, and time each from its scheduled send time. Requests
    unanswered `grace` seconds after the last slot count as errors, timed until then."""
    requests = [_request_bytes(path, port, index) for index, path in enumerate(paths)]
    total = max(1, int(rate * seconds))
    interval = 1.0 / rate
    connections = _Connections(port)
    lateness: list[float] = []
    cpu_started = time.process_time()
    start = time.perf_counter() + 0.01
    deadline = start + seconds + grace
    sent = 0
    while True:
        now = time.perf_counter()
        while sent < total and start + sent * interval <= now:
            scheduled = start + sent * interval
            lateness.append(now - scheduled)
            connections.start(requests[sent % len(requests)], scheduled)
            sent += 1
        if sent >= total and not connections.open:
            break
        if now >= deadline:
            connections.abandon()
            break
        wait = 0.01 if sent >= total else max(0.0, start + sent * interval - now)
        connections.poll(wait)
    cpu = time.process_time() - cpu_started
    lateness.sort()
    return connections.result(
        seconds=total * interval,
        cpu=cpu,
        offered_rate=rate,
        late_p99_ms=lateness[int(0.99 * (len(lateness) - 1))] * 1000,
    )


def closed_loop(
    port: int, paths: Sequence[str], *, concurrency: int, timeout: float = 10.0
) -> LoadResult:
    """Request every path in `paths` once, in order, `concurrency` at a time; latency from each
    request's actual send. `seconds` is the wall time from the first send to the last answer."""
    requests = [_request_bytes(path, port, index) for index, path in enumerate(paths)]
    connections = _Connections(port)
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + timeout
    sent = 0
    while sent < len(requests) or connections.open:
        while sent < len(requests) and len(connections.open) < concurrency:
            connections.start(requests[sent], time.perf_counter())
            sent += 1
        if time.perf_counter() >= deadline:
            connections.abandon()
            break
        connections.poll(0.05)
    wall = time.perf_counter() - started
    return connections.result(seconds=wall, cpu=time.process_time() - cpu_started)
