"""Cached redirects on the async edge, as the product serves them (issue #12): the redirect tier of
`make run` (uvicorn x2, `config.edge`) against the least an async app can do on the same server
with the same settings, in the same run.

    python -m bench.bench_edge [--seconds S] [--rounds R]

Servers, side by side (all uvicorn x2, `--http httptools --loop uvloop`, keep-alive, no access log,
like the Procfile's `edge` line):
    ours     config.edge:application: the per-IP limit, the visit (max-clicks gate, click count +
             event, bots), the domain's headers; misses and pages to Django in a thread
    bare     bench.edge.apps:asgi_bare_mux: one Redis GET + 302, on the same client (core.pipelined)
    floor    bench.edge.apps:asgi_floor_mux: one EVALSHA doing our redirect's Redis work (GCRA
             per-IP limit + GET + HINCRBY + XADD) + 302
and around them:
    lb       HAProxy (config/haproxy.cfg, 1 thread, as `make run`) in front of ours and of sync
    sync     gunicorn sync x4 serving config.wsgi: the edge the product had before (the old row)

Goals (the issue's): ours ≥ 0.8x bare and ≥ 0.9x floor (peaks); ≥ 12,000 cached redirects/s; p99
< 10 ms at half of ours' peak, open loop, Zipf codes. Reported without a goal: through HAProxy
against direct; ours against the old sync edge; misses, unknown codes and Zipf-from-cold on ours
against the same on sync (their own baselines are bench_redirect's); a page (`/`) through HAProxy
against gunicorn direct, so Django's pages are seen not to get slower.

Method: links created in the dev database and deleted after (bench_redirect's helpers, so the
same clean-up); the bare and floor apps read `bench:redirect:<code>` copies of the same codes.
Peaks: wrk (bench/redirect.lua, keep-alive, 1 thread) at 32 and 64 connections (sync: 16, its
best), best of `rounds` interleaved rounds; each ratio is best/best, the median of the per-round
ratios beside it. p99: bench/edge/openloop.py (open loop over keep-alive connections, every request
timed from its scheduled send). The generator shares the 2 cores: its CPU share is reported with
every figure. Requests name 4,096 clients in X-Forwarded-For, so the per-IP limit refuses none.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from bench import bench_redirect as sync_bench
from bench.common import Result, report, setup_django
from bench.edge import run as edge_run
from bench.edge.openloop import open_loop_keepalive
from bench.loadgen import HOST, LoadResult, closed_loop, run_wrk

SEED_REDIRECTS_PER_SECOND = 12_000
P99_BUDGET_MS = 10.0
ASYNC_CONNECTIONS = (32, 64)
SYNC_CONNECTIONS = 16
HOT_LINKS = 4_000
COLD_LINKS = 2_000  # per server: Zipf-from-cold needs codes no one has visited
UNKNOWN = 1_000
VENV_BIN = Path(sys.executable).parent


def _uvicorn(target: str, port: int) -> list[str]:
    """The Procfile's `edge` line, on `port`, serving `target`."""
    return [
        str(VENV_BIN / "uvicorn"), target, "--host", HOST, "--port", str(port), "--workers", "2",
        "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--no-server-header",
        "--no-proxy-headers",
        "--log-level", "warning", "--backlog", "2048",
    ]  # fmt: skip


def _gunicorn(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{HOST}:{port}", "--workers",
        str(sync_bench.WORKERS), "--log-level", "warning", "--no-control-socket",
    ]  # fmt: skip


@contextlib.contextmanager
def _servers(logs: Path) -> Iterator[dict[str, edge_run.Running]]:
    env = sync_bench._environment()  # dev DB and Redis, the policy's and the headers' settings
    env["PYTHONPATH"] = str(edge_run.REPO)
    servers: dict[str, edge_run.Running] = {}
    try:
        for name, target in (
            ("ours", "config.edge:application"),
            ("bare", "bench.edge.apps:asgi_bare_mux"),
            ("floor", "bench.edge.apps:asgi_floor_mux"),
        ):
            port = next(edge_run.PORTS)
            servers[name] = edge_run.start(
                name, _uvicorn(target, port), port=port, env=env, logs=logs
            )
        port = next(edge_run.PORTS)
        servers["sync"] = edge_run.start("sync", _gunicorn(port), port=port, env=env, logs=logs)
        for name, server in servers.items():
            edge_run.wait_ready(server, path="/healthz" if name == "sync" else "/healthz/edge")
        servers["lb"] = edge_run.start_haproxy(
            async_port=servers["ours"].port, wsgi_port=servers["sync"].port, nbthread=1, logs=logs
        )
        servers["lb"].name = "lb"
        edge_run.wait_ready(servers["lb"], path="/healthz")
        yield servers
    finally:
        for server in servers.values():
            edge_run.stop(server)


def _paths_file(directory: Path, name: str, paths: list[str]) -> Path:
    path = directory / f"{name}.txt"
    path.write_text("\n".join(paths) + "\n")
    return path


def _zipf(codes: list[str], draws: int, *, seed: int) -> list[str]:
    return edge_run.zipf_paths(codes, draws, s=sync_bench.ZIPF_S, seed=seed)


def _statuses_ok(result: LoadResult, what: str, notes: list[str], expected: str = "302") -> None:
    """A note unless every answer was `expected` (wrk reports only "non-2xx/3xx")."""
    unexpected = {k: v for k, v in result.statuses.items() if k != expected}
    if result.errors or unexpected:
        notes.append(f"{what}: {result.errors} errors, statuses {result.statuses}")


def main(*, seconds: float = 5.0, rounds: int = 3, verbose: bool = True) -> list[Result]:
    setup_django()
    sync_bench._require_wrk()
    from core.redis import get_redis
    from shortener.fastpath import CODE_PATH_RE

    say = print if verbose else (lambda *_: None)
    redis = get_redis()
    run = f"{time.time_ns():x}"
    sync_bench._clean_up(links=[], unknown=[])  # what a crashed run left
    created: list[Any] = []
    unknown: list[str] = []
    notes: list[str] = []
    runs: list[edge_run.Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as scratch:
        directory = Path(scratch)
        try:
            started = time.monotonic()
            hot = sync_bench._create_links(HOT_LINKS, run=run)
            cold_ours = sync_bench._create_links(COLD_LINKS, run=run)
            cold_sync = sync_bench._create_links(COLD_LINKS, run=run)
            created = hot + cold_ours + cold_sync
            unknown = sync_bench._unknown_codes(UNKNOWN)
            assert all(CODE_PATH_RE.fullmatch(f"/{link.code}") for link in hot)
            box = sync_bench.BoxAccount()
            with _servers(directory) as servers:
                ours, sync, lb = servers["ours"], servers["sync"], servers["lb"]

                def measure(server, kind, rnd, load, *, target=None, also=()):
                    result = edge_run.measure(server, redis, kind, rnd, load, also=also)
                    result.name = target or server.name
                    runs.append(result)
                    say(edge_run._line(result))
                    return result

                # 1. Misses: each hot code once, in quarters taken in turns (the cache is shared,
                # so a code is a miss only for whoever asks first). This also warms the cache.
                hot_paths = [f"/{link.code}" for link in hot]
                quarters = [hot_paths[i::4] for i in range(4)]
                miss: dict[str, list[LoadResult]] = {"ours": [], "sync": []}
                for index, quarter in enumerate(quarters):
                    server = ours if index % 2 == 0 else sync
                    load = partial(closed_loop, server.port, quarter, concurrency=16, timeout=60)
                    result = measure(server, "miss", index // 2, load).result
                    _statuses_ok(result, f"misses on {server.name}", notes)
                    miss[server.name].append(result)
                with redis.pipeline(transaction=False) as pipe:  # the bare apps' copies
                    for link in hot:
                        pipe.set(edge_run.KEY_PREFIX + link.code, link.long_url, ex=3600)
                    pipe.execute()

                # 2. Peaks on cached codes, Zipf, interleaved rounds.
                zipf_file = _paths_file(
                    directory, "zipf", _zipf([link.code for link in hot], 100_000, seed=7)
                )
                targets = [
                    ("ours", ours, ASYNC_CONNECTIONS, ()),
                    ("bare", servers["bare"], ASYNC_CONNECTIONS, ()),
                    ("floor", servers["floor"], ASYNC_CONNECTIONS, ()),
                    ("lb", lb, ASYNC_CONNECTIONS, ()),
                    ("sync", sync, (SYNC_CONNECTIONS,), ()),
                ]
                for _, server, _, _ in targets:  # warm: workers, pools, connections
                    run_wrk(server.port, zipf_file, seconds=1, connections=32)
                for rnd in range(rounds):
                    for name, server, connections, _ in targets:
                        for conns in connections:
                            load = partial(
                                run_wrk, server.port, zipf_file, seconds=seconds, connections=conns
                            )
                            also = [lb.process.pid] if name == "lb" else []
                            # the lb's CPU is HAProxy's: measure the tier behind it as the server
                            measured = ours if name == "lb" else server
                            result = measure(
                                measured, f"wrk{conns}", rnd, load, target=name, also=also
                            ).result
                            _statuses_ok(result, f"peak of {name}", notes)

                def peak(name: str) -> edge_run.Run:
                    return max(
                        (r for r in runs if r.name == name and r.kind.startswith("wrk")),
                        key=lambda r: r.rate,
                    )

                def round_ratio(over: str, under: str) -> float:
                    ratios = []
                    for rnd in range(rounds):
                        a = [r.rate for r in runs if r.name == over and r.round == rnd
                             and r.kind.startswith("wrk")]  # fmt: skip
                        b = [r.rate for r in runs if r.name == under and r.round == rnd
                             and r.kind.startswith("wrk")]  # fmt: skip
                        ratios.append(max(a) / max(b))
                    return statistics.median(ratios)

                # 3. p99 at half of the peak, open loop, Zipf: ours, and the floor at ours' rate;
                # through HAProxy at half of its own peak.
                zipf_paths = _zipf([link.code for link in hot], 50_000, seed=11)
                half = peak("ours").rate / 2
                open_seconds = seconds + 3
                paced = {}
                for name, server, rate in (
                    ("ours", ours, half),
                    ("floor", servers["floor"], half),
                    ("lb", lb, peak("lb").rate / 2),
                ):
                    load = partial(
                        open_loop_keepalive, server.port, zipf_paths, rate=rate,
                        seconds=open_seconds,
                    )  # fmt: skip
                    measured = ours if name == "lb" else server
                    also = [lb.process.pid] if name == "lb" else []
                    paced[name] = measure(measured, "open", 0, load, target=name, also=also)
                    _statuses_ok(paced[name].result, f"open loop on {name}", notes)

                # 4. Unknown codes: a first pass fills the negative cache, then wrk.
                unknown_paths = [f"/{code}" for code in unknown]
                for server in (ours, sync):
                    first = closed_loop(server.port, unknown_paths, concurrency=16, timeout=60)
                    if set(first.statuses) - {"404"}:
                        notes.append(f"unknown codes on {server.name}: {first.statuses}")
                unknown_file = _paths_file(directory, "unknown", unknown_paths)
                negative = {}
                for name, server, conns in (
                    ("ours", ours, ASYNC_CONNECTIONS[0]),
                    ("sync", sync, SYNC_CONNECTIONS),
                ):
                    load = partial(
                        run_wrk, server.port, unknown_file, seconds=seconds, connections=conns
                    )
                    negative[name] = measure(server, "unknown", 0, load, target=f"{name} unknown")

                # 5. Zipf from a cold cache: each side its own codes, the same ranks.
                cold = {}
                for name, server, links in (("ours", ours, cold_ours), ("sync", sync, cold_sync)):
                    paths = _zipf([link.code for link in links], 2 * len(links), seed=4)
                    load = partial(closed_loop, server.port, paths, concurrency=16, timeout=60)
                    cold[name] = measure(server, "cold", 0, load, target=f"{name} cold")
                    _statuses_ok(cold[name].result, f"Zipf cold on {name}", notes)
                hits = 1 - len(set(paths)) / len(paths)

                # 6. A page: `/` through HAProxy against gunicorn direct, interleaved.
                page_file = _paths_file(directory, "page", ["/"])
                page: dict[str, list[LoadResult]] = {"lb": [], "sync": []}
                for rnd in range(2):
                    for name, server in (("lb", lb), ("sync", sync)):
                        load = partial(
                            run_wrk, server.port, page_file, seconds=max(2, seconds - 2),
                            connections=SYNC_CONNECTIONS,
                        )  # fmt: skip
                        page[name].append(
                            measure(sync, "page", rnd, load, target=f"{name} page").result
                        )
            shares = box.stop()
        finally:
            sync_bench._clean_up(links=created, unknown=unknown)
            edge_run.clean_up(redis, [link.code for link in created])
    say(
        "  the box during the run: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
        + f"; whole benchmark {time.monotonic() - started:.0f}s"
    )  # fmt: skip
    if shares["others"] > 0.05:
        notes.append(f"other processes used {shares['others']:.0%} of the box: figures disturbed")
    for note in notes:
        say(f"  NOTE: {note}")

    def extra(run_: edge_run.Run, **more: Any) -> dict[str, Any]:
        r = run_.result
        return {
            "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "errors": r.errors, "statuses": r.statuses,
            "connections": run_.kind, "server_us_per_request": round(run_.server_us, 1),
            "redis_us_per_request": round(run_.redis_us, 1),
            "generator_share": round(run_.generator_share, 3),
            "box_busy": round(run_.box_busy, 3), **run_.extra, **more,
            **({"notes": list(notes)} if notes else {}), "box": shares,
        }  # fmt: skip

    ours_peak = peak("ours")
    results = [
        report("edge.hit-peak vs bare async GET", ours_peak.rate, peak("bare").rate, "req/s",
               "bare async GET + 302", goal=0.8)
        | extra(ours_peak, median_round_ratio=round_ratio("ours", "bare")),
        report("edge.hit-peak vs async floor", ours_peak.rate, peak("floor").rate, "req/s",
               "async floor (limit + GET + count)", goal=0.9)
        | extra(ours_peak, median_round_ratio=round_ratio("ours", "floor")),
        report("edge.hit-peak vs the seed's 12,000/s", ours_peak.rate, SEED_REDIRECTS_PER_SECOND,
               "req/s", "the seed's target", goal=1.0)
        | extra(ours_peak),
        report(f"edge.p99 at half peak ({half:,.0f}/s, open loop)", paced["ours"].result.p99_ms,
               P99_BUDGET_MS, "ms", "the 10 ms budget", higher_is_better=False, goal=1.0)
        | extra(paced["ours"], floor_p99_ms=paced["floor"].result.p99_ms),
        report("edge.through HAProxy vs direct", peak("lb").rate, ours_peak.rate, "req/s",
               "the redirect tier direct")
        | extra(peak("lb"), median_round_ratio=round_ratio("lb", "ours"),
                p99_at_half_ms=paced["lb"].result.p99_ms, half_rate=paced["lb"].result.rate),
        report("edge.hit-peak vs the old sync edge", ours_peak.rate, peak("sync").rate, "req/s",
               "gunicorn sync x4, config.wsgi")
        | extra(ours_peak, median_round_ratio=round_ratio("ours", "sync")),
        report("edge.miss vs sync miss", max(r.rate for r in miss["ours"]),
               max(r.rate for r in miss["sync"]), "req/s", "the same on gunicorn sync"),
        report("edge.unknown code vs sync", negative["ours"].rate, negative["sync"].rate, "req/s",
               "the same on gunicorn sync")
        | extra(negative["ours"]),
        report(f"edge.zipf-cold ({hits:.0%} hits) vs sync", cold["ours"].rate, cold["sync"].rate,
               "req/s", "the same on gunicorn sync")
        | extra(cold["ours"]),
        report("page / through HAProxy vs gunicorn direct", max(r.rate for r in page["lb"]),
               max(r.rate for r in page["sync"]), "req/s", "gunicorn direct"),
    ]  # fmt: skip
    return results


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(seconds=args.seconds, rounds=args.rounds)


if __name__ == "__main__":
    _cli()
