"""Write-behind click counting (shortener/clicks/): Redis on the redirect, PostgreSQL in batches
through a real Celery worker, exactly once across retries and crashes; bots recorded apart;
the stats read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shortener import cache, clicks, visitors
from shortener.models import ClickEvent, ClickFlush, Link
from shortener.tasks import flush_clicks_task
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache.reset_breaker()


def visit(client, link, times: int = 1, *, ua: str = DESKTOP, referer: str = "") -> None:
    for _ in range(times):
        response = client.get(f"/{link.code}", HTTP_USER_AGENT=ua, HTTP_REFERER=referer)
        assert response.status_code == 302


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (DESKTOP, ("desktop", False)),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15", ("desktop", False)),
        (IPHONE, ("mobile", False)),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36",
            ("mobile", False),
        ),
        ("Mozilla/5.0 (Linux; Android 13; SM-X710) Chrome/131.0 Safari/537.36", ("tablet", False)),
        ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15", ("tablet", False)),
        ("Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) Mobile Safari", ("mobile", False)),
        ("", ("other", False)),
        (GOOGLEBOT, ("bot", True)),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ("bot", True)),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", ("bot", True)),
        (
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            ("bot", True),
        ),
        ("Twitterbot/1.0", ("bot", True)),
        ("WhatsApp/2.23.20.0 A", ("bot", True)),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", ("bot", True)),
        ("curl/8.5.0", ("bot", True)),
        ("python-requests/2.32.3", ("bot", True)),
    ],
)
def test_user_agents_are_classified_by_device_and_bots_are_recognised(user_agent, expected):
    assert visitors.classify_user_agent(user_agent) == expected


@pytest.mark.parametrize(
    ("referer", "host"),
    [
        ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com"),
        ("https://user:pw@WWW.Example.COM:8443/x", "www.example.com"),
        ("http://[2001:db8::1]/", "[2001:db8::1]"),
        ("", ""),
        ("not a url", ""),
    ],
)
def test_only_the_host_of_the_referrer_is_kept(referer, host):
    assert visitors.referrer_host(referer) == host


def test_a_click_is_counted_in_redis_and_not_written_to_the_database(
    client, django_assert_num_queries
):
    link = LinkFactory()
    visit(client, link)

    with django_assert_num_queries(0):
        visit(client, link, 2)

    assert clicks.pending_clicks(link_ids=[link.id, 12345]) == {link.id: 3, 12345: 0}
    link.refresh_from_db()
    assert link.clicks == 0
    assert ClickEvent.objects.count() == 0


def test_bots_are_recorded_but_not_counted_as_clicks(client):
    link = LinkFactory()
    visit(client, link, 2, ua=GOOGLEBOT)
    visit(client, link, 1)

    clicks.flush_clicks()

    link.refresh_from_db()
    assert (link.clicks, link.bot_hits) == (1, 2)
    events = ClickEvent.objects.filter(link=link)
    assert sorted((e.device, e.is_bot) for e in events) == [
        ("bot", True),
        ("bot", True),
        ("desktop", False),
    ]
    assert clicks.link_stats(link=link)["clicks"] == 1


@pytest.mark.django_db(transaction=True)
def test_the_flush_task_moves_counts_and_events_to_postgres_through_a_real_worker(
    client, celery_worker_process
):
    link, other = LinkFactory(), LinkFactory()
    visit(client, link, 3, referer="https://news.ycombinator.com/item?id=1")
    visit(client, other, 1, ua=IPHONE)

    result = flush_clicks_task.apply_async()  # routed to the `clicks` queue
    report = result.get(timeout=20)

    assert report["clicks"] == 4 and report["events"] == 4
    link.refresh_from_db()
    other.refresh_from_db()
    assert (link.clicks, other.clicks) == (3, 1)
    assert ClickEvent.objects.filter(link=link, referrer_host="news.ycombinator.com").count() == 3
    assert ClickEvent.objects.get(link=other).device == "mobile"
    assert clicks.pending_clicks(link_ids=[link.id, other.id]) == {link.id: 0, other.id: 0}
    assert sum(ClickFlush.objects.values_list("clicks", flat=True)) == 4


def test_applying_the_same_batch_twice_counts_it_once(client):
    link = LinkFactory()
    visit(client, link, 4)
    slot = cache.slot_of(link.code)
    (batch,) = clicks.seal_batches(slot=slot)
    counts = cache.client().hgetall(batch)
    report = clicks.FlushReport()

    first = clicks.apply_batch(slot=slot, batch=batch, counts=counts, report=report)
    second = clicks.apply_batch(slot=slot, batch=batch, counts=counts, report=report)

    link.refresh_from_db()
    assert (first, second, link.clicks) == (True, False, 4)
    assert ClickFlush.objects.get(batch=batch).clicks == 4


def test_a_flush_that_died_after_its_commit_is_finished_without_counting_twice(client):
    link = LinkFactory()
    visit(client, link, 3)
    slot = cache.slot_of(link.code)
    (batch,) = clicks.seal_batches(slot=slot)
    clicks.apply_batch(
        slot=slot, batch=batch, counts=cache.client().hgetall(batch), report=clicks.FlushReport()
    )
    # ... the worker dies here: committed, but the batch is still open in Redis.
    visit(client, link, 2)  # meanwhile, new clicks

    report = clicks.flush_clicks()

    link.refresh_from_db()
    assert link.clicks == 5
    assert report.batches == 1  # only the new one; the old one was found applied and closed
    assert cache.client().smembers(cache.batches_key(slot)) == set()
    assert not cache.client().exists(batch)


def test_a_flush_that_died_before_its_commit_is_resumed(client):
    link = LinkFactory()
    visit(client, link, 3)
    clicks.seal_batches(slot=cache.slot_of(link.code))  # sealed, then the worker died

    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 3}  # still visible as live
    clicks.flush_clicks()

    link.refresh_from_db()
    assert link.clicks == 3
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 0}


def test_events_a_dead_flusher_read_are_claimed_and_stored_once(client):
    link = LinkFactory()
    visit(client, link, 3)
    slot = cache.slot_of(link.code)
    redis = cache.client()
    stream = cache.events_key(slot)
    redis.xgroup_create(stream, clicks.GROUP, id="0")
    taken = redis.xreadgroup(clicks.GROUP, "dead-worker", {stream: ">"}, count=10)[0][1]
    clicks.store_events(slot=slot, entries=taken)  # stored, then it died before XACK

    report = clicks.flush_clicks(claim_idle_ms=0)

    assert report.events == 3
    assert ClickEvent.objects.filter(link=link).count() == 3
    assert redis.xlen(stream) == 0
    assert redis.xpending(stream, clicks.GROUP)["pending"] == 0


def test_counts_and_events_of_a_deleted_link_are_dropped(client):
    link, kept = LinkFactory(), LinkFactory()
    visit(client, link, 2)
    visit(client, kept, 1)
    Link.objects.filter(pk=link.pk).delete()

    report = clicks.flush_clicks()

    kept.refresh_from_db()
    assert kept.clicks == 1
    assert report.events == 3
    assert list(ClickEvent.objects.values_list("link_id", flat=True)) == [kept.id]


def test_link_stats_counts_human_clicks_by_day_referrer_and_device(client):
    link = LinkFactory()
    visit(client, link, 2, referer="https://news.ycombinator.com/")
    visit(client, link, 1, ua=IPHONE)
    visit(client, link, 1, ua=GOOGLEBOT, referer="https://www.google.com/")
    clicks.flush_clicks()
    old = datetime.now(UTC) - timedelta(days=40)
    ClickEvent.objects.create(link=link, stream_id="x:1", occurred_at=old, device="desktop")
    visit(client, link, 1)  # pending: in `clicks`, not yet in the events
    link.refresh_from_db()

    stats = clicks.link_stats(link=link)

    today = datetime.now(UTC).date()
    assert stats["clicks"] == 4
    assert stats["bot_hits"] == 1
    assert len(stats["by_day"]) == 30
    assert stats["by_day"][-1] == {"day": today.isoformat(), "clicks": 3}
    assert stats["by_day"][0]["day"] == (today - timedelta(days=29)).isoformat()
    assert sum(day["clicks"] for day in stats["by_day"]) == 3
    assert stats["top_referrers"] == [
        {"host": "news.ycombinator.com", "clicks": 2},
        {"host": "(direct)", "clicks": 1},
    ]
    assert stats["devices"] == {"desktop": 2, "mobile": 1, "tablet": 0, "other": 0}


def test_link_stats_reads_the_database_with_three_aggregate_queries(django_assert_num_queries):
    link = LinkFactory()

    with django_assert_num_queries(3):
        clicks.link_stats(link=link)


def test_a_stopped_flush_loses_the_oldest_events_but_never_a_count(monkeypatch):
    monkeypatch.setattr(cache.visits, "EVENTS_MAXLEN", 100)  # where visit() reads it
    link = LinkFactory()
    person = visitors.Visitor(device="desktop", is_bot=False, referrer_host="")
    miss = cache.visit(code=link.code, now_ms=0, count=False, visitor=person, take_lease=True)
    cache.fill_link(
        code=link.code, lease_token=miss.lease_token, link=cache.CachedLink.from_link(link)
    )

    for _ in range(1000):
        assert cache.visit(code=link.code, now_ms=0, count=True, visitor=person).state == "ok"

    kept = cache.client().xlen(cache.events_key(cache.slot_of(link.code)))
    assert 100 <= kept < 300  # MAXLEN ~ trims whole stream nodes (100 entries each)
    clicks.flush_clicks()
    link.refresh_from_db()
    assert link.clicks == 1000
    assert ClickEvent.objects.filter(link=link).count() == kept
