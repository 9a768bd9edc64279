"""The parts of bench/bench_cache.py that its figures rest on: the traffic it builds and the hits
it counts. The figures themselves are `make bench`'s business (docs/benchmarks.md)."""

from __future__ import annotations

import shutil

import pytest

from bench import bench_cache
from shortener import cache
from tests.shortener.factories import LinkFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


def test_the_zipf_exponent_gives_the_top_share_its_share():
    s = bench_cache.zipf_exponent(1000, share=0.2, top_share=0.8)
    weights = [1 / (k + 1) ** s for k in range(1000)]

    assert sum(weights[:200]) / sum(weights) == pytest.approx(0.8, abs=1e-6)


def test_replay_counts_the_hits_of_the_trace_second_half(settings):
    links = LinkFactory.create_batch(3)
    codes = [link.code for link in links]
    with bench_cache.private_redis() as url:
        settings.REDIS_URL = url
        cache.reset_breaker()
        try:
            # First half 0 1 0: warms the cache. Second half 1 0 2: two hits, then a miss.
            hits, measured = bench_cache.replay(codes, [0, 1, 0, 1, 0, 2])
        finally:
            cache.reset_breaker()

    assert (hits, measured) == (2, 3)
