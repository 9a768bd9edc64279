"""The seed's cache sizing, measured: "Cache 80% of traffic (20% of URLs get 80% of clicks)".

    python -m bench.bench_cache [--links N] [--requests N] [--share F] [--top-share F] [--room F]

The claim has a premise (traffic where the top 20 % of links get 80 % of the clicks) and a
promise (a cache with room for 20 % of the links then serves 80 % of redirects). Here the premise
is built: codes are drawn from a Zipf distribution whose exponent is solved so that the top
`share` of links get `top_share` of the draws. The promise is then measured with the shortener's
own cache-aside code (`cache.visit`, then `visits.resolve_visit` on a miss: fill lease, one
SELECT, fill), against a private `redis-server` used as a pure cache, with an eviction policy
and `maxmemory` tuned until the cache holds as many entries as it has room for (`share` of the
links, or `--room`) at the end of the trace (`tune_room`). Each policy replays the same trace
from an empty cache; the first half warms the cache and the hit ratio is taken over the second.

- *ours*: `allkeys-lfu` with `maxmemory-samples 10` (Redis evicts the least frequently used of
  10 sampled keys: what a cache for skewed traffic should keep).
- baselines, same run, same trace: `allkeys-lfu` with Redis's default 5 samples, `allkeys-lru`,
  `allkeys-random`, and the oracle (a cache holding exactly the most requested links of the
  trace's second half, as many as it has room for, never evicting: the best any cache of that
  size can do).

`--room` gives the cache another room than `share` (how much memory does 80 % take?).

Goal: the seed's 80 % (LFU's hit ratio / 0.8 >= 1). Visits are HEADs (`count=False`): the cache
alone is measured, without click counters, which the shortener keeps in the same Redis and which
must never be evicted. That is also why the shortener's own Redis runs without `maxmemory`: its
cache is bounded by its TTL instead (docs/shortener.md, "Memory"). Links are created in the dev
database with `bulk_create` and deleted at the end; the dev Redis is not touched (the private
redis-server is killed).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from bench.common import Result, report, setup_django

SEED_HIT_RATIO = 0.8
# Eviction settings, ours first: LFU with 10 samples per eviction (Redis's LFU and LRU are
# approximations: each eviction compares `maxmemory-samples` random keys, 5 by default).
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("allkeys-lfu, 10 samples", {"maxmemory-policy": "allkeys-lfu", "maxmemory-samples": 10}),
    ("allkeys-lfu", {"maxmemory-policy": "allkeys-lfu"}),
    ("allkeys-lru", {"maxmemory-policy": "allkeys-lru"}),
    ("allkeys-random", {"maxmemory-policy": "allkeys-random"}),
]
REDIS_DEFAULTS = {"maxmemory-samples": 5}


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of its own on a free port, no persistence; its URL. Killed at the end."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed (scripts/setup.sh services)")
    import redis as redis_py

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis_py.Redis(port=port, socket_timeout=0.2).ping()
                break
            except redis_py.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=10)


def zipf_exponent(population: int, *, share: float, top_share: float) -> float:
    """The exponent s of a Zipf distribution over `population` ranks under which the top
    `share` of ranks draw `top_share` of the weight (bisection: that share grows with s)."""
    top = max(1, round(population * share))
    low, high = 0.0, 3.0
    for _ in range(60):
        s = (low + high) / 2
        weights = [1 / (k + 1) ** s for k in range(population)]
        if sum(weights[:top]) / sum(weights) < top_share:
            low = s
        else:
            high = s
    return (low + high) / 2


def replay(codes: list[str], trace: list[int]) -> tuple[int, int]:
    """Visit `trace` (indexes into `codes`) through the shortener's cache-aside, as the fast path
    does: (hits, requests) over the trace's second half."""
    from shortener import cache
    from shortener.visitors import Visitor
    from shortener.visits import now_ms, resolve_visit

    visitor = Visitor(device="desktop", is_bot=False, referrer_host="")
    hits = 0
    measured_from = len(trace) // 2
    for position, index in enumerate(trace):
        code = codes[index]
        visit = cache.visit(
            code=code, now_ms=now_ms(), count=False, visitor=visitor, take_lease=True
        )
        if visit.state == "miss":
            visit = resolve_visit(code=code, count=False, visitor=visitor, miss=visit)
        elif position >= measured_from:
            hits += visit.state == "ok"
        if visit.state != "ok":
            raise RuntimeError(f"/{code} answered {visit.state}, not a redirect")
    return hits, len(trace) - measured_from


def run_variant(
    redis: Any, codes: list[str], trace: list[int], *, config: dict[str, Any], maxmemory: int
) -> tuple[float, int, int]:
    """Replay `trace` from an empty cache under `config` (eviction settings) and `maxmemory`:
    (hit ratio over the trace's second half, entries held at the end, keys evicted)."""
    redis.flushall()
    redis.config_set("maxmemory", 0)
    redis.config_resetstat()
    for name, value in {**REDIS_DEFAULTS, **config}.items():
        redis.config_set(name, value)
    redis.config_set("maxmemory", maxmemory)
    hits, measured = replay(codes, trace)
    held, evicted = redis.dbsize(), redis.info("stats")["evicted_keys"]
    redis.config_set("maxmemory", 0)
    return hits / measured, held, evicted


def tune_room(
    redis: Any, codes: list[str], trace: list[int], room: int
) -> tuple[int, float, tuple[float, int, int]]:
    """(maxmemory under which the cache holds `room` entries at the end of the trace, within
    2 %, with the first variant; the bytes one entry takes; that variant's run).

    An entry's size is measured first: every code filled through the cache's own fill path,
    twice (the first also loads the scripts, which stay after FLUSHALL). Redis counts more than
    the entries against maxmemory (client buffers, its tables), so `room x entry` gives the
    cache another room: maxmemory is then tuned on the replay itself, from what an entry
    effectively cost in the previous run."""
    for _ in range(2):
        redis.flushall()
        empty = redis.info("memory")["used_memory"]
        replay(codes, list(range(len(codes))))
        per_entry = (redis.info("memory")["used_memory"] - empty) / len(codes)
    maxmemory = int(empty + room * per_entry)
    for _ in range(6):
        run = run_variant(redis, codes, trace, config=VARIANTS[0][1], maxmemory=maxmemory)
        held = run[1]
        if abs(held - room) <= room / 50:
            return maxmemory, per_entry, run
        maxmemory = int(empty + room * (maxmemory - empty) / max(held, 1))
    raise RuntimeError(f"maxmemory {maxmemory:,} holds {held:,} entries, not {room:,}")


def main(
    *,
    links: int = 10_000,
    requests: int = 100_000,
    share: float = 0.2,
    top_share: float = 0.8,
    room_share: float | None = None,
    verbose: bool = True,
) -> list[Result]:
    """The traffic: the top `share` of `links` draw `top_share` of `requests`. The cache: room
    for `room_share` of the links (default: `share`, the seed's claim)."""
    setup_django()
    from django.conf import settings

    from bench.bench_redirect import _clean_up, _create_links, _zipf_ranks
    from core.redis import get_redis
    from shortener import cache

    say = print if verbose else (lambda *_: None)
    s = zipf_exponent(links, share=share, top_share=top_share)
    trace = _zipf_ranks(links, requests, s=s, seed=80)
    popularity = collections.Counter(trace[len(trace) // 2 :])
    room_share = share if room_share is None else room_share
    room = round(links * room_share)
    oracle = sum(count for _, count in popularity.most_common(room)) / (len(trace) // 2)
    say(
        f"  {links:,} links, {requests:,} requests, Zipf s = {s:.3f}: the top {share:.0%} of"
        f" links draw {top_share:.0%} of requests by construction"
    )
    _clean_up(links=[], unknown=[])
    created: list[Any] = []
    original_url = settings.REDIS_URL
    try:
        created = _create_links(links, run=f"cache-{time.time_ns():x}")
        codes = [link.code for link in created]
        with private_redis() as url:
            settings.REDIS_URL = url  # the shortener's cache, for this process only
            cache.reset_breaker()
            redis = get_redis(url)
            maxmemory, per_entry, first = tune_room(redis, codes, trace, room)
            say(
                f"  one cached link: {per_entry:,.0f} bytes; maxmemory {maxmemory:,} bytes: room"
                f" for {room:,} links ({room_share:.0%})"
            )
            ratios: dict[str, float] = {}
            for label, config in VARIANTS:
                if label == VARIANTS[0][0]:
                    ratio, held, evicted = first  # the tuning's last run
                else:
                    ratio, held, evicted = run_variant(
                        redis, codes, trace, config=config, maxmemory=maxmemory
                    )
                ratios[label] = ratio
                say(
                    f"  {label:24s} hit ratio {ratio:6.1%}  entries held {held:,}"
                    f"  evicted {evicted:,}"
                )
            say(f"  {'oracle':24s} hit ratio {oracle:6.1%}  (the top {room:,} links, held)")
    finally:
        settings.REDIS_URL = original_url
        cache.reset_breaker()
        _clean_up(links=created, unknown=[])
    ours = ratios[VARIANTS[0][0]]
    return [
        report(
            f"cache.hit-ratio, memory for {room_share:.0%} of links (LFU) vs the seed's 80%",
            ours,
            SEED_HIT_RATIO,
            "hits/request",
            "the seed's claim",
            goal=1.0,
        ),
        *(
            report(f"cache.hit-ratio LFU vs {label}", ours, ratios[label], "hits/request", label)
            for label, _config in VARIANTS[1:]
        ),
        report(
            "cache.hit-ratio LFU vs the oracle",
            ours,
            oracle,
            "hits/request",
            "the top links, held (best possible)",
        ),
    ]


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.2, help="the top share of links")
    parser.add_argument("--top-share", type=float, default=0.8, help="what the top share draws")
    parser.add_argument("--room", type=float, help="cache room, share of links (default: --share)")
    args = parser.parse_args()
    main(
        links=args.links,
        requests=args.requests,
        share=args.share,
        top_share=args.top_share,
        room_share=args.room,
    )


if __name__ == "__main__":
    _cli()
