"""max_clicks is exact: an atomic Redis gate, initialised from PostgreSQL plus what Redis still
holds, reconciled by the flush. The concurrency test goes through real HTTP to gunicorn serving
config.wsgi (the fast path in front of Django), several processes and threads racing."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from shortener import cache, clicks
from shortener.models import Link
from tests.servers import gunicorn
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
BOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache.reset_breaker()


@pytest.fixture
def gunicorn_url() -> Iterator[tuple[str, int]]:
    """gunicorn serving config.wsgi: 3 processes x 4 threads (tests/servers.py)."""
    with gunicorn("--workers", "3", "--threads", "4", "--worker-class", "gthread") as url:
        yield url


def get(host: str, port: int, path: str, *, ua: str = BROWSER) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path, headers={"User-Agent": ua})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_requests_to_a_10_click_link_redirect_exactly_10(gunicorn_url):
    link = LinkFactory(max_clicks=10)
    barrier = threading.Barrier(200)
    statuses: list[int] = []

    def one() -> None:
        barrier.wait()
        statuses.append(get(*gunicorn_url, f"/{link.code}"))

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(statuses) == {302: 10, 410: 190}
    clicks.flush_clicks()
    link.refresh_from_db()
    assert link.clicks == 10


def test_bots_do_not_use_up_a_max_clicks_link(client):
    link = LinkFactory(max_clicks=1)

    bots = [client.get(f"/{link.code}", HTTP_USER_AGENT=BOT).status_code for _ in range(5)]
    person = client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code
    bot_after = client.get(f"/{link.code}", HTTP_USER_AGENT=BOT).status_code

    assert (bots, person, bot_after) == ([302] * 5, 302, 410)


def test_the_gate_starts_from_flushed_and_pending_clicks(client):
    link = LinkFactory(max_clicks=10, clicks=6)  # 6 already flushed
    visit_twice = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER) for _ in range(2)]
    assert [r.status_code for r in visit_twice] == [302, 302]
    cache.invalidate_link(code=link.code)  # the gate is re-read: 10 - 6 - 2 pending = 2 left

    statuses = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)]

    assert statuses == [302, 302, 410]
    assert cache.client().get(cache.keys_for(link.code).gate) == "0"


def test_a_used_up_link_stays_used_up_after_the_flush_and_an_invalidation(client):
    link = LinkFactory(max_clicks=1)
    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 302
    clicks.flush_clicks()
    cache.invalidate_link(code=link.code)

    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 410


def test_the_flush_lowers_a_gate_that_is_higher_than_the_database_allows(client):
    link = LinkFactory(max_clicks=5)
    client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)  # gate 5 -> 4, one click pending
    Link.objects.filter(pk=link.pk).update(clicks=3)  # e.g. counted elsewhere meanwhile

    report = clicks.flush_clicks()

    # Database: 3 + 1 flushed = 4 of 5 used: 1 left, not the gate's 4.
    assert report.gates_lowered == 1
    assert cache.client().get(cache.keys_for(link.code).gate) == "1"
    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 302
    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 410


def test_a_raised_max_clicks_applies_after_the_update(client, django_capture_on_commit_callbacks):
    from shortener import services

    link = LinkFactory(max_clicks=1)
    client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)
    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 410

    with django_capture_on_commit_callbacks(execute=True):
        services.update_link(link=link, max_clicks=3)

    statuses = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)]
    assert statuses == [302, 302, 410]


def test_a_gate_computed_from_a_max_clicks_read_before_an_update_is_refused(client):
    """The cache-aside race again, for the gate: one reader starts initialising it from the old
    max_clicks; an update commits and invalidates; the stale gate must not be installed."""
    link = LinkFactory(max_clicks=10)
    token, in_redis = clicks.begin_gate_init(code=link.code, link_id=link.id)
    old_max = Link.objects.get(pk=link.pk).max_clicks

    Link.objects.filter(pk=link.pk).update(max_clicks=2)
    cache.invalidate_link(code=link.code)
    installed = clicks.finish_gate_init(code=link.code, token=token, left=old_max - in_redis)

    assert installed is False
    statuses = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)]
    assert statuses == [302, 302, 410]


def test_only_one_caller_initialises_a_gate_at_a_time():
    link = LinkFactory(max_clicks=3)
    first = clicks.begin_gate_init(code=link.code, link_id=link.id)

    assert first is not None
    assert clicks.begin_gate_init(code=link.code, link_id=link.id) is None
    assert clicks.finish_gate_init(code=link.code, token=first[0], left=3) is True
    assert clicks.begin_gate_init(code=link.code, link_id=link.id) is None  # the gate exists
