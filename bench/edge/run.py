"""Choose the async edge's server and shape by measurement (issue #12): `python -m bench.edge.run`.

Stages (`--stages`, default all, in this order):

    main      uvicorn ASGI, granian ASGI, granian RSGI, 2 workers each, x every app of
              bench/edge/apps.py, all started side by side and measured in interleaved rounds
    workers   the shape whose floor_mux peaks highest in `main` (or --best), 1, 2 and 4 workers
    options   granian's runtime options (--runtime-mode st / mt with 2 threads, --task-impl rust,
              --http auto) against its defaults, same rounds (only when the best is granian)
    haproxy   floor and floor_mux (--haproxy-apps) direct vs through HAProxy (haproxy.cfg) with
              nbthread 1 and 2, L7 routing to the async tier and to gunicorn (config.wsgi); pages
              checked through it
    profile   py-spy on one worker of the floor and of floor_mux under wrk, and Redis's
              commandstats for the same runs

Peaks: `wrk` (bench/loadgen.py run_wrk with bench/redirect.lua: keep-alive, 1 thread, 16 and 32
connections, `--seconds` each), best of `--rounds` rounds; the servers of a stage take turns
within a round, so drift hits them alike. Ratios are of the best peaks (best/best) and, in
brackets, the median of the per-round ratios. p99: bench/edge/openloop.py (keep-alive, open
loop) at half of each server's own best peak, Zipf codes. Every run also records the CPU per
request of the server's processes (/proc), of Redis (INFO cpu) and of the load generator, and how
busy the whole box was: the generator shares the 2 cores.

Data: 10,000 cached codes (`bench:redirect:<code>`, a ~85-byte URL, 1-hour TTL) in Redis db 12
(`--redis-url`), requests drawn from a Zipf distribution (s = 1.1) over them; each request names
one of 4,096 clients in X-Forwarded-For, so the per-IP limit (10/s per client) refuses none. All of
it (and the floor's click keys; the limiter's keys expire by themselves) is deleted at the end.
Ports 8100-8199 only. Results: printed, and bench/results/edge.json.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import redis

from bench.baseline_wsgi import COUNTED_KEYS, KEY_PREFIX
from bench.edge.openloop import open_loop_keepalive
from bench.loadgen import HOST, LoadResult, run_wrk

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HAPROXY_CFG = REPO / "config" / "haproxy.cfg"
RESULTS = REPO / "bench" / "results" / "edge.json"
CODES = 10_000
ZIPF_S = 1.1
DRAWS = 100_000
URL_TEMPLATE = "https://example.com/bench-redirect/edge/{index}/a-typical-article-slug?utm_source=b"
PORTS = iter(range(8100, 8200))
APPS = ("static", "bare", "floor", "bare_mux", "floor_mux")
# The ratios the table prints: app -> the app it is compared with, on the same server settings.
RATIO_BASE = {"bare": "static", "floor": "bare", "bare_mux": "static", "floor_mux": "bare_mux"}
CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
SEED_RATE = 12_000
# The tier behind HAProxy for everything that is not a short code (the brief's environment).
WSGI_ENV = {
    "DATABASE_URL": "postgres://sysdesign:sysdesign@127.0.0.1:5432/sysdesign",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
    "DEBUG": "false",
    "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32",
}


# --- servers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    server: str  # "uvicorn" | "granian"
    interface: str  # "asgi" | "rsgi"
    app: str  # one of APPS
    workers: int = 2
    options: tuple[str, ...] = ()  # extra granian flags
    label: str = "default"

    @property
    def shape(self) -> str:
        """Everything but the app: the rows a ratio is taken within."""
        return f"{self.server}/{self.interface} x{self.workers} {self.label}"

    @property
    def name(self) -> str:
        return f"{self.shape} {self.app}"

    def command(self, port: int) -> list[str]:
        target = f"bench.edge.apps:{self.interface}_{self.app}"
        if self.server == "uvicorn":
            return [
                str(VENV_BIN / "uvicorn"), target, "--host", HOST, "--port", str(port),
                "--workers", str(self.workers), "--http", "httptools", "--loop", "uvloop",
                "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                "--backlog", "2048",
            ]  # fmt: skip
        return [
            str(VENV_BIN / "granian"), "--interface", self.interface, "--host", HOST,
            "--port", str(port), "--workers", str(self.workers), "--loop", "uvloop", "--no-ws",
            "--http", "1", "--log-level", "warning", "--backlog", "2048", *self.options, target,
        ]  # fmt: skip


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    config: Config | None = None


def start(name: str, command: list[str], *, port: int, env: dict[str, str], logs: Path) -> Running:
    """A server in a session of its own (so stop() can end its whole group by its id)."""
    log = logs / f"{name.replace('/', '-').replace(' ', '_')}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Running(name=name, port=port, process=process, log=log)


def start_config(config: Config, *, env: dict[str, str], logs: Path) -> Running:
    port = next(PORTS)
    running = start(config.name, config.command(port), port=port, env=env, logs=logs)
    running.config = config
    return running


def stop(server: Running) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)  # its own group, by its id
            server.process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers left behind by a crashed master
        os.killpg(server.process.pid, signal.SIGKILL)


def get(port: int, path: str, *, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(
            "GET", path, headers={"X-Forwarded-For": "198.19.255.254", **(headers or {})}
        )
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_ready(server: Running, *, path: str = "/healthz", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            if get(server.port, path)[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f}s")


# --- CPU accounting ------------------------------------------------------------------------------
def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(x) for x in (task / "children").read_text().split()]
    return pids


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants."""
    total = 0
    for each in tree_pids(pid):
        with contextlib.suppress(OSError):
            fields = _stat(each)
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def box_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK


def box_irq() -> float:
    """CPU seconds in interrupts and softirqs: loopback TCP is processed there, charged to no
    process (about a tenth of the box at 50k requests/s here)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    return (values[5] + values[6]) / TICK


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


@dataclass
class Run:
    name: str
    kind: str  # "wrk16", "wrk32", "open"
    round: int
    result: LoadResult
    server_us: float  # CPU per request: the server's processes
    redis_us: float
    generator_us: float
    box_busy: float  # share of the box's capacity, all processes
    generator_share: float  # share of the box's capacity, the load generator
    irq_share: float  # share of the box's capacity in interrupts/softirqs (the network stack)
    others_share: float  # the rest: everyone else's processes (other engineers), PostgreSQL
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.result.rate


def measure(
    server: Running, client: redis.Redis, kind: str, rnd: int, load: Callable[[], LoadResult],
    *, also: Sequence[int] = (),
) -> Run:  # fmt: skip
    """Run `load` against `server`, with the CPU of the server (and of the pids in `also`, e.g.
    HAProxy, reported in extra["also_cores"]), Redis, the generator and the whole box."""
    started, busy, cpu, rcpu = (
        time.monotonic(),
        box_busy(),
        tree_cpu(server.process.pid),
        redis_cpu(client),
    )
    irq = box_irq()
    also_cpu = [tree_cpu(pid) for pid in also]
    result = load()
    wall = time.monotonic() - started
    n = max(1, result.requests)
    server_cpu = tree_cpu(server.process.pid) - cpu
    generator = result.generator_cpu_seconds or 0.0
    irq = box_irq() - irq
    extra = {}
    if also:
        extra["also_cores"] = [
            round((tree_cpu(p) - c) / wall, 3) for p, c in zip(also, also_cpu, strict=True)
        ]
    return Run(
        name=server.name, kind=kind, round=rnd, result=result,
        server_us=server_cpu / n * 1e6, redis_us=(redis_cpu(client) - rcpu) / n * 1e6,
        generator_us=generator / n * 1e6, box_busy=(box_busy() - busy) / (wall * CORES),
        generator_share=generator / (wall * CORES), extra=extra,
        irq_share=irq / (wall * CORES),
        others_share=max(0.0, (box_busy() - busy) - irq - server_cpu - (redis_cpu(client) - rcpu)
                         - generator - sum(extra.get("also_cores", [])) * wall) / (wall * CORES),
    )  # fmt: skip


# --- data ----------------------------------------------------------------------------------------
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def create_codes(client: redis.Redis, count: int) -> list[str]:
    rng = random.Random(12)
    codes = sorted({"".join(rng.choices(_ALPHABET, k=7)) for _ in range(count)})
    with client.pipeline(transaction=False) as pipe:
        for index, code in enumerate(codes):
            pipe.set(KEY_PREFIX + code, URL_TEMPLATE.format(index=index), ex=3600)
        pipe.execute()
    return codes


def zipf_paths(codes: Sequence[str], draws: int, *, s: float, seed: int = 7) -> list[str]:
    order = list(codes)
    random.Random(seed).shuffle(order)  # rank -> code, so the hot codes are not sorted together
    cumulative = list(itertools.accumulate(1 / (k + 1) ** s for k in range(len(order))))
    rng = random.Random(seed)
    return [
        "/" + order[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        for _ in range(draws)
    ]


def clean_up(client: redis.Redis, codes: Sequence[str]) -> None:
    for start_at in range(0, len(codes), 1000):
        client.delete(*(KEY_PREFIX + code for code in codes[start_at : start_at + 1000]))
    client.delete(*COUNTED_KEYS)


def server_env(redis_url: str) -> dict[str, str]:
    """The apps' configuration, from the project's own settings where they can be read (the
    redirect policy's GCRA arguments, the 302's headers, the events' MAXLEN), else defaults."""
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(REPO)}
    try:
        os.environ.update({k: v for k, v in WSGI_ENV.items() if k not in os.environ})
        from bench.common import setup_django

        setup_django()
        from django.conf import settings

        from ratelimit.algorithms import script_args
        from ratelimit.policies import policy_for
        from shortener.visits import redirect_headers

        policy = policy_for("redirect")
        env["BENCH_LIMIT_ARGS"] = ",".join(
            str(a)
            for a in script_args(
                algorithm=policy.algorithm, limit=policy.limit, window_seconds=policy.window,
                burst=policy.burst, cost=1,
            )
        )  # fmt: skip
        env["BENCH_REDIRECT_HEADERS"] = json.dumps(
            [[n, v] for n, v in redirect_headers(location="", redirect_type=302) if n != "Location"]
        )
        env["BENCH_EVENTS_MAXLEN"] = str(settings.SHORTENER_EVENTS_MAXLEN)
    except Exception as error:  # the domain code is being refactored: fall back to the defaults
        print(f"note: project settings not read ({error!r}); apps use their defaults")
    return env


# --- one stage: servers side by side, interleaved rounds -----------------------------------------
@dataclass
class Stage:
    name: str
    runs: list[Run] = field(default_factory=list)
    configs: dict[str, Config] = field(default_factory=dict)

    def peak(self, name: str) -> Run:
        return max(
            (r for r in self.runs if r.name == name and r.kind.startswith("wrk")),
            key=lambda r: r.rate,
        )

    def open_run(self, name: str) -> Run | None:
        runs = [r for r in self.runs if r.name == name and r.kind == "open"]
        return min(runs, key=lambda r: r.result.p99_ms) if runs else None

    def round_ratio(self, over: str, under: str) -> float | None:
        """Median over rounds of (best of a round's wrk runs of `over`) / (same of `under`)."""
        ratios = []
        for rnd in sorted({r.round for r in self.runs}):
            a = [
                r.rate
                for r in self.runs
                if r.name == over and r.round == rnd and r.kind.startswith("wrk")
            ]
            b = [
                r.rate
                for r in self.runs
                if r.name == under and r.round == rnd and r.kind.startswith("wrk")
            ]
            if a and b:
                ratios.append(max(a) / max(b))
        return statistics.median(ratios) if ratios else None


def run_stage(
    stage: Stage, configs: Sequence[Config], *, env: dict, logs: Path, client: redis.Redis,
    paths: list[str], paths_file: Path, seconds: float, rounds: int,
    connections: Sequence[int], open_seconds: float,
) -> Stage:  # fmt: skip
    servers = [start_config(c, env=env, logs=logs) for c in configs]
    try:
        for server in servers:
            wait_ready(server)
            stage.configs[server.name] = server.config  # type: ignore[assignment]
            run_wrk(server.port, paths_file, seconds=1, connections=32)  # warm: pools, caches
        for rnd in range(rounds):
            for server in servers:
                for conns in connections:
                    load = partial(
                        run_wrk, server.port, paths_file, seconds=seconds, connections=conns
                    )
                    run = measure(server, client, f"wrk{conns}", rnd, load)
                    _check(run)
                    stage.runs.append(run)
                    print(_line(run), flush=True)
        for server in servers:
            rate = stage.peak(server.name).rate / 2
            load = partial(open_loop_keepalive, server.port, paths, rate=rate, seconds=open_seconds)
            run = measure(server, client, "open", 0, load)
            stage.runs.append(run)
            print(_line(run), flush=True)
    finally:
        for server in servers:
            stop(server)
    return stage


def _check(run: Run) -> None:
    if run.result.errors or run.result.statuses:
        print(
            f"  ! {run.name} {run.kind}: {run.result.errors} errors, statuses {run.result.statuses}"
        )


def _line(run: Run) -> str:
    r = run.result
    late = f" late p99 {r.late_p99_ms:.2f} ms" if r.late_p99_ms is not None else ""
    statuses = "" if run.kind.startswith("wrk") else f" {r.statuses}"
    return (
        f"  r{run.round} {run.kind:6} {run.name:42} {r.rate:9,.0f}/s p50 {r.p50_ms:6.2f} p99"
        f" {r.p99_ms:6.2f} ms | server {run.server_us:5.0f} redis {run.redis_us:4.0f} gen"
        f" {run.generator_us:4.0f} us/req | box {run.box_busy:4.0%} gen {run.generator_share:4.0%}"
        f" irq {run.irq_share:4.0%} others {run.others_share:4.0%}"
        f"{late}{statuses}{' ' + str(run.extra) if run.extra else ''}"
    )


def table(stage: Stage) -> str:
    lines = [
        f"\n## {stage.name}",
        "| server / interface | workers | options | app | req/s (best; conns) | p99 at peak |"
        " p50 / p99 at half, open loop | server / Redis µs per req | wrk's share |"
        " generator's share at half | others' share | ratio best/best (rounds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, config in stage.configs.items():
        peak, half = stage.peak(name), stage.open_run(name)
        ratio = ""
        if config.app in RATIO_BASE:
            base = RATIO_BASE[config.app]
            under = replace(config, app=base).name
            if under in stage.configs:
                best = peak.rate / stage.peak(under).rate
                ratio = f"{config.app}/{base} {best:.2f}x ({stage.round_ratio(name, under):.2f}x)"
        if half:
            h = half.result
            half_text = f"{h.p50_ms:.2f} / **{h.p99_ms:.2f} ms** at {h.offered_rate:,.0f}/s"
            half_share = f"{half.generator_share:.0%}"
        else:
            half_text = half_share = ""
        lines.append(
            f"| {config.server} / {config.interface} | {config.workers} | {config.label} |"
            f" {config.app} | **{peak.rate:,.0f}** ({peak.kind[3:]}) | {peak.result.p99_ms:.2f} ms"
            f" | {half_text} | {peak.server_us:.0f} / {peak.redis_us:.0f} |"
            f" {peak.generator_share:.0%} | {half_share} | {peak.others_share:.0%} | {ratio} |"
        )
    return "\n".join(lines)


# --- HAProxy -------------------------------------------------------------------------------------
def reserved_paths() -> list[str]:
    """The single-segment paths that are Django's, never short codes (shortener.rules)."""
    try:
        from shortener.rules import reserved_aliases

        return sorted("/" + word for word in reserved_aliases())
    except Exception:
        return ["/healthz", "/api", "/admin", "/accounts", "/shortener", "/static", "/favicon.ico"]


def start_haproxy(*, async_port: int, wsgi_port: int, nbthread: int, logs: Path) -> Running:
    """HAProxy with config/haproxy.cfg, its addresses and thread count from the environment."""
    reserved = logs / "reserved.lst"
    reserved.write_text("\n".join(reserved_paths()) + "\n")
    port = next(PORTS)
    env = {
        **os.environ,
        "EDGE_LISTEN": f"{HOST}:{port}",
        "EDGE_ASYNC": f"{HOST}:{async_port}",
        "EDGE_WSGI": f"{HOST}:{wsgi_port}",
        "EDGE_NBTHREAD": str(nbthread),
        "EDGE_RESERVED": str(reserved),
        "EDGE_CLIENTS_NAME_THEMSELVES": "1",  # the generator's 4,096 clients (X-Forwarded-For)
    }
    command = ["haproxy", "-f", str(HAPROXY_CFG)]
    check = subprocess.run([*command, "-c"], env=env, capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"haproxy.cfg: {check.stdout}{check.stderr}")
    return start(f"haproxy nbthread {nbthread}", [*command, "-db"], port=port, env=env, logs=logs)


def haproxy_stage(
    best: Config, *, env: dict, logs: Path, client: redis.Redis, paths: list[str], paths_file: Path,
    seconds: float, rounds: int, conns: int, open_seconds: float, app: str,
) -> dict:  # fmt: skip
    """`app` on `best`'s server direct and through HAProxy (nbthread 1 and 2), interleaved."""
    edge = start_config(replace(best, app=app), env=env, logs=logs)
    wsgi_port = next(PORTS)
    wsgi = start(
        "gunicorn config.wsgi",
        [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{wsgi_port}",
         "--workers", "2", "--log-level", "warning", "--no-control-socket"],
        port=wsgi_port, env={**os.environ, **WSGI_ENV}, logs=logs,
    )  # fmt: skip
    proxies: list[Running] = []
    out: dict = {"runs": []}
    try:
        wait_ready(edge)
        wait_ready(wsgi, timeout=60)
        proxies = [
            start_haproxy(async_port=edge.port, wsgi_port=wsgi_port, nbthread=n, logs=logs)
            for n in (1, 2)
        ]
        for proxy in proxies:
            wait_ready(proxy)  # /healthz: Django's, through the LB
        time.sleep(2.5)  # first health checks (inter 2s) mark both backends up
        # Routing: a short code goes to the async tier, pages to Django.
        checks = {}
        proxy = proxies[0]
        code = paths[0]
        for path in (code, "/", "/api/schema/", "/healthz", "/api", "/shortener/", "/a/b"):
            status, headers, _ = get(proxy.port, path)
            checks[path] = (
                f"{status} server={headers.get('server', '-')} {headers.get('location', '')[:40]}"
            )
        direct = get(edge.port, code)
        checks["direct " + code] = f"{direct[0]} server={direct[1].get('server', '-')}"
        out["checks"] = checks
        for path, text in checks.items():
            print(f"  {path:20} -> {text}")
        run_wrk(proxies[0].port, paths_file, seconds=1, connections=conns)
        run_wrk(proxies[1].port, paths_file, seconds=1, connections=conns)
        targets = [
            ("direct", edge, None),
            ("haproxy nbthread 1", proxies[0], proxies[0]),
            ("haproxy nbthread 2", proxies[1], proxies[1]),
        ]
        for rnd in range(rounds):
            for label, target, proxy_server in targets:
                also = [proxy_server.process.pid] if proxy_server else []
                load = partial(run_wrk, target.port, paths_file, seconds=seconds, connections=conns)
                run = measure(edge, client, f"wrk{conns}", rnd, load, also=also)
                run.name = label
                _check(run)
                out["runs"].append(run)
                print(_line(run), flush=True)
        peaks = {
            label: max((r for r in out["runs"] if r.name == label), key=lambda r: r.rate)
            for label, _, _ in targets
        }
        for label, target, proxy_server in targets:
            rate = peaks[label].rate / 2
            also = [proxy_server.process.pid] if proxy_server else []
            load = partial(open_loop_keepalive, target.port, paths, rate=rate, seconds=open_seconds)
            run = measure(edge, client, "open", 0, load, also=also)
            run.name = label
            out["runs"].append(run)
            print(_line(run), flush=True)
        out["peaks"] = peaks
    finally:
        for server in [*proxies, wsgi, edge]:
            stop(server)
    return out


def haproxy_table(out: dict, *, app: str) -> str:
    peaks = out["peaks"]
    direct = peaks["direct"]
    lines = [
        f"\n## {app} through HAProxy",
        "| path | req/s (best) | ratio to direct (rounds) | p99 at peak |"
        " p50 / p99 at half, open loop | HAProxy cores at peak | async tier µs/req |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, peak in peaks.items():
        rounds = []
        for rnd in sorted({r.round for r in out["runs"] if r.kind != "open"}):
            a = [
                r.rate
                for r in out["runs"]
                if r.name == label and r.round == rnd and r.kind != "open"
            ]
            b = [
                r.rate
                for r in out["runs"]
                if r.name == "direct" and r.round == rnd and r.kind != "open"
            ]
            rounds.append(a[0] / b[0])
        half = next(r for r in out["runs"] if r.name == label and r.kind == "open")
        cores = peak.extra.get("also_cores", ["-"])[0]
        lines.append(
            f"| {label} | {peak.rate:,.0f} | {peak.rate / direct.rate:.2f}x"
            f" ({statistics.median(rounds):.2f}x) | {peak.result.p99_ms:.2f} ms"
            f" | {half.result.p50_ms:.2f} / {half.result.p99_ms:.2f} ms |"
            f" {cores} | {peak.server_us:.0f} |"
        )
    return "\n".join(lines)


# --- profile -------------------------------------------------------------------------------------
def commandstats(client: redis.Redis) -> dict[str, dict]:
    return {k: v for k, v in client.info("commandstats").items()}


def profile_stage(
    best: Config, *, env: dict, logs: Path, client: redis.Redis, paths_file: Path, seconds: float,
    conns: int,
) -> dict:  # fmt: skip
    """py-spy on one worker of the floor under wrk, and Redis's own time per command."""
    edge = start_config(best, env=env, logs=logs)
    out: dict = {}
    try:
        wait_ready(edge)
        run_wrk(edge.port, paths_file, seconds=1, connections=conns)
        workers = [p for p in tree_pids(edge.process.pid) if p != edge.process.pid]
        worker = workers[0] if workers else edge.process.pid
        before = commandstats(client)
        raw = logs / "py-spy.txt"
        wrk = subprocess.Popen(
            ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds) + 2}s", "-s",
             str(REPO / "bench" / "redirect.lua"), f"http://{HOST}:{edge.port}", "--",
             str(paths_file), "1", "4096"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)
        spy = subprocess.run(
            [str(VENV_BIN / "py-spy"), "record", "-p", str(worker), "-d", str(int(seconds)),
             "-r", "250", "--format", "raw", "--nonblocking", "-o", str(raw)],
            capture_output=True, text=True,
        )  # fmt: skip
        wrk_out = wrk.communicate()[0]
        after = commandstats(client)
        out["wrk"] = next((x for x in wrk_out.splitlines() if x.startswith("Requests/sec")), "")
        out["redis"] = {
            name: {
                "calls": after[name]["calls"] - before.get(name, {}).get("calls", 0),
                "usec_per_call": round(
                    (after[name]["usec"] - before.get(name, {}).get("usec", 0))
                    / max(1, after[name]["calls"] - before.get(name, {}).get("calls", 0)), 2),
            }
            for name in after
            if after[name]["calls"] - before.get(name, {}).get("calls", 0) > 1000
        }  # fmt: skip
        if spy.returncode != 0 or not raw.exists():
            out["py-spy"] = f"failed: {spy.stdout[-500:]}{spy.stderr[-500:]}"
        else:
            out["py-spy"] = summarize_spy(raw)
    finally:
        stop(edge)
    return out


def summarize_spy(raw: Path) -> dict:
    """Shares of the worker's samples. py-spy sees Python frames only: a sample whose innermost
    frame is the worker's entry (granian's _spawn_*_worker, uvicorn's run) is time in native code
    under it: the event loop (uvloop), granian's Rust HTTP handling, or httptools."""
    native = "native code under the loop's entry (uvloop, httptools, granian's Rust)"
    writes = "socket writes from Python (transport.write/writelines)"
    client = "redis-py's Python (pool, packing, parsing glue)"
    server = "the server's Python (uvicorn's protocol, granian's glue)"
    own = "the app's own Python (bench/edge)"
    categories = dict.fromkeys((native, writes, client, server, own, "asyncio, other"), 0)
    leaf: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        last = frames[-1]
        leaf[last] = leaf.get(last, 0) + count
        if "_spawn_" in last or "run_forever" in last or "Runner.run (" in last:
            key = native
        elif "writelines" in last or "_flush (core/pipelined.py" in last or ".write (" in last:
            key = writes
        elif any("(redis/" in frame or "/redis/" in frame for frame in frames):
            key = client
        elif "(uvicorn/" in last or "(granian/" in last:
            key = server
        elif "bench/edge/" in last:
            key = own
        else:
            key = "asyncio, other"
        categories[key] += count
    top = sorted(leaf.items(), key=lambda kv: -kv[1])[:15]
    return {
        "samples": total,
        "shares": {k: round(v / max(1, total), 3) for k, v in categories.items()},
        "top leaves": [(name, round(count / max(1, total), 3)) for name, count in top],
    }


# --- main ----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default="main,workers,options,haproxy,profile")
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="16,32")
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument(
        "--best", default="", help="server/interface for the later stages, e.g. granian/rsgi"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--haproxy-apps", default="floor,floor_mux", help="apps measured via HAProxy"
    )
    args = parser.parse_args(argv)
    stages = args.stages.split(",")
    connections = [int(x) for x in args.connections.split(",")]
    client = redis.Redis.from_url(args.redis_url)
    if client.connection_pool.connection_kwargs.get("db") in (0, 1, 14, 15):
        parser.error("Redis db 0, 1, 14 and 15 belong to others")
    env = server_env(args.redis_url)
    codes = create_codes(client, CODES)
    paths = zipf_paths(codes, DRAWS, s=ZIPF_S)
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "stages": {}}
    tables: list[str] = []
    common = dict(
        env=env,
        client=client,
        paths=paths,
        seconds=args.seconds,
        rounds=args.rounds,
        open_seconds=args.open_seconds,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
            logs = Path(tmp)
            paths_file = logs / "paths.txt"
            paths_file.write_text("\n".join(paths) + "\n")
            common.update(logs=logs, paths_file=paths_file)
            best_shape = args.best or "granian/rsgi"
            best_conns = connections[-1]
            if "main" in stages:
                shapes = [("uvicorn", "asgi"), ("granian", "asgi"), ("granian", "rsgi")]
                configs = [Config(s, i, app) for s, i in shapes for app in APPS]
                stage = run_stage(
                    Stage("main: 2 workers"), configs, connections=connections, **common
                )
                tables.append(table(stage))
                print(tables[-1], flush=True)
                results["stages"]["main"] = _dump(stage)
                if not args.best:  # the shape whose floor peaks highest on the cheaper client
                    floors = [c for c in stage.configs.values() if c.app == "floor_mux"]
                    top = max(floors, key=lambda c: stage.peak(c.name).rate)
                    best_shape = f"{top.server}/{top.interface}"
                    best_conns = int(stage.peak(top.name).kind[3:])
            server, interface = best_shape.split("/")
            if "workers" in stages:
                apps = ("static", "floor", "bare_mux", "floor_mux")
                configs = [
                    Config(server, interface, app, workers=n) for n in (1, 2, 4) for app in apps
                ]
                stage = run_stage(
                    Stage(f"workers: {best_shape}"), configs, connections=[best_conns], **common
                )
                tables.append(table(stage))
                print(tables[-1], flush=True)
                results["stages"]["workers"] = _dump(stage)
            best = Config(server, interface, "floor")
            if "options" in stages and server == "granian":
                variants = [
                    ("default", ()),
                    ("st", ("--runtime-mode", "st")),
                    ("mt 2 threads", ("--runtime-mode", "mt", "--runtime-threads", "2")),
                    ("task-impl rust", ("--task-impl", "rust")),
                    ("http auto", ("--http", "auto")),
                ]
                configs = [
                    Config(server, interface, app, options=o, label=label)
                    for label, o in variants
                    for app in ("bare_mux", "floor_mux")
                ]
                stage = run_stage(
                    Stage(f"options: {best_shape} x2"), configs, connections=[best_conns], **common
                )
                tables.append(table(stage))
                print(tables[-1], flush=True)
                results["stages"]["options"] = _dump(stage)
            for app in args.haproxy_apps.split(",") if "haproxy" in stages else ():
                out = haproxy_stage(best, conns=best_conns, app=app, **common)
                tables.append(haproxy_table(out, app=app))
                print(tables[-1], flush=True)
                results["stages"][f"haproxy {app}"] = {
                    "checks": out["checks"],
                    "runs": [_run_dict(r) for r in out["runs"]],
                }
            for app in ("floor", "floor_mux") if "profile" in stages else ():
                out = profile_stage(
                    replace(best, app=app),
                    env=env,
                    logs=logs,
                    client=client,
                    paths_file=paths_file,
                    seconds=args.seconds,
                    conns=best_conns,
                )
                results["stages"][f"profile {app}"] = out
                print(f"\n## profile {app}\n" + json.dumps(out, indent=1), flush=True)
    finally:
        clean_up(client, codes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print("\n".join(tables))
    print(f"\nwritten: {RESULTS}")
    return 0


def _run_dict(run: Run) -> dict:
    r = run.result
    return {
        "name": run.name, "kind": run.kind, "round": run.round, "rate": round(r.rate),
        "p50_ms": round(r.p50_ms, 3), "p99_ms": round(r.p99_ms, 3), "errors": r.errors,
        "statuses": r.statuses, "server_us": round(run.server_us, 1),
        "redis_us": round(run.redis_us, 1), "generator_us": round(run.generator_us, 1),
        "box_busy": round(run.box_busy, 3), "generator_share": round(run.generator_share, 3),
        "irq_share": round(run.irq_share, 3), "others_share": round(run.others_share, 3),
        "late_p99_ms": r.late_p99_ms, **r.extra, **run.extra,
    }  # fmt: skip


def _dump(stage: Stage) -> dict:
    return {
        "configs": {k: vars(v) for k, v in stage.configs.items()},
        "runs": [_run_dict(r) for r in stage.runs],
    }


if __name__ == "__main__":
    sys.exit(main())
