"""The redirect's cache-aside (shortener/cache/): hits without the database, the negative cache,
invalidation after the services' writes, and the fill lease that closes the stale-fill race."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from shortener import cache, services
from shortener.models import Link, PendingInvalidation
from shortener.tasks import retry_invalidations_task
from shortener.visitors import Visitor
from tests.shortener.factories import LinkFactory, UserFactory

pytestmark = pytest.mark.django_db

PERSON = Visitor(device="desktop", is_bot=False, referrer_host="")


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache.reset_breaker()
    yield
    cache.reset_breaker()


def cached_fields(code: str) -> dict[str, str]:
    """The cached entry of `code` by field: {} when absent, {"id": "0"} when negative."""
    entry = cache.client().get(cache.keys_for(code).link)
    if entry is None:
        return {}
    if entry == cache.NEGATIVE_ENTRY:
        return {"id": "0"}
    fields = ("id", "type", "exp", "pw", "off", "max", "url")
    return dict(zip(fields, entry.split("|", 6), strict=True))


def test_a_cache_hit_does_not_touch_the_database(client, django_assert_num_queries):
    link = LinkFactory(long_url="https://example.com/hit")
    with django_assert_num_queries(1):  # the miss: one indexed SELECT
        assert client.get(f"/{link.code}").status_code == 302

    with django_assert_num_queries(0):
        response = client.get(f"/{link.code}")

    assert response["Location"] == "https://example.com/hit"
    assert cached_fields(link.code)["url"] == "https://example.com/hit"
    ttl = cache.client().ttl(cache.keys_for(link.code).link)
    assert 3500 < ttl <= 3600


def test_an_unknown_code_is_cached_briefly_so_a_scan_does_not_reach_the_database(
    client, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert client.get("/Probe42").status_code == 404

    with django_assert_num_queries(0):
        assert client.get("/Probe42").status_code == 404

    assert cached_fields("Probe42") == {"id": "0"}
    assert 0 < cache.client().ttl(cache.keys_for("Probe42").link) <= 60


def test_creating_a_link_under_a_negatively_cached_alias_makes_it_work_at_once(
    client, django_capture_on_commit_callbacks
):
    assert client.get("/fresh-alias").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        services.create_link(owner=None, long_url="https://example.com/new", alias="fresh-alias")

    assert client.get("/fresh-alias")["Location"] == "https://example.com/new"


def test_a_new_link_is_cached_as_it_is_created_so_its_first_click_is_a_hit(
    client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        link = services.create_link(owner=None, long_url="https://example.com/first")

    assert cached_fields(link.code)["url"] == "https://example.com/first"
    assert cache.client().exists(cache.keys_for(link.code).lease) == 0  # lease released
    with django_assert_num_queries(0):
        assert client.get(f"/{link.code}")["Location"] == "https://example.com/first"


def test_links_created_in_bulk_are_cached_too(django_capture_on_commit_callbacks):
    owner = UserFactory()
    items = [{"long_url": f"https://example.com/bulk/{i}"} for i in range(50)]
    with django_capture_on_commit_callbacks(execute=True):
        results = services.create_links_bulk(owner=owner, items=items)

    for result in results:
        assert cached_fields(result.link.code)["url"] == result.link.long_url


def test_with_cache_on_create_off_a_new_link_is_only_invalidated(
    settings, django_capture_on_commit_callbacks
):
    settings.SHORTENER_CACHE_ON_CREATE = False
    cache.client().set(cache.keys_for("was-unknown").link, cache.NEGATIVE_ENTRY)
    with django_capture_on_commit_callbacks(execute=True):
        services.create_link(owner=None, long_url="https://example.com/x", alias="was-unknown")

    assert cached_fields("was-unknown") == {}
    assert not PendingInvalidation.objects.exists()  # through the outbox, and done


def test_reserving_a_new_code_drops_what_redis_held_for_it():
    """Between INSERT and COMMIT: a negative entry cached while the code was unknown, and the
    entry and max-clicks gate of a deleted link whose invalidation Redis missed, go in the same
    round trip as the lease. So if Redis fails before the link is cached, nothing stale is left
    to answer for the code; its first click is a miss."""
    redis = cache.client()
    negative, reused = cache.keys_for("was-negative"), cache.keys_for("was-deleted")
    redis.set(negative.link, cache.NEGATIVE_ENTRY)
    redis.set(reused.link, "7|302||||3|https://example.com/old")
    redis.set(reused.gate, 3)

    tokens = cache.reserve_fills(codes=["was-negative", "was-deleted"])

    assert set(tokens) == {"was-negative", "was-deleted"}
    assert redis.exists(negative.link, reused.link, reused.gate) == 0
    assert redis.get(reused.lease) == tokens["was-deleted"]
    visit = cache.visit(code="was-negative", now_ms=0, count=False, visitor=PERSON)
    assert visit.state == "miss"


def test_an_update_committed_before_the_new_link_is_cached_wins():
    """Create commits; an update commits and invalidates before the creator's cache_new_links
    runs: the creator's copy is the old row and must not be cached."""
    link = LinkFactory(long_url="https://example.com/as-created")
    tokens = cache.reserve_fills(codes=[link.code])  # between INSERT and COMMIT
    Link.objects.filter(pk=link.pk).update(long_url="https://example.com/updated")
    cache.invalidate_link(code=link.code)  # the update's on_commit

    cache.cache_new_links(links=[link], tokens=tokens)

    assert cached_fields(link.code) == {}


def test_a_reader_that_saw_no_row_before_the_commit_cannot_fill_a_negative_entry():
    """A reader misses the new code before the creator commits, takes the fill lease and reads
    PostgreSQL (no row yet); the creator takes the lease over, commits and caches the link;
    the reader's negative fill comes last and must be refused."""
    reader = cache.visit(code="racy-code", now_ms=0, count=False, visitor=PERSON, take_lease=True)
    assert reader.state == "miss" and reader.lease_token

    link = LinkFactory(code="racy-code", long_url="https://example.com/racy")
    tokens = cache.reserve_fills(codes=[link.code])
    cache.cache_new_links(links=[link], tokens=tokens)
    late = cache.fill_link(code="racy-code", lease_token=reader.lease_token, link=None)

    assert late is False
    assert cached_fields("racy-code")["url"] == "https://example.com/racy"


READERS = 6


def _race_a_creation(alias: str, *, subnet: int) -> tuple[list[int], list[int]]:
    """READERS threads ask for `/alias` in a loop (misses, fill leases, negative fills) while it
    is created. Creation starts once every reader has had two answers (404s: the alias does not
    exist yet), and the readers stop once each has had three answers to requests it sent after
    create_link returned. Returns (statuses before, statuses after)."""
    created, stop = threading.Event(), threading.Event()
    before: list[int] = []
    after: list[int] = []
    answers_before = [0] * READERS
    answers_after = [0] * READERS

    def read(number: int) -> None:
        reader = Client(REMOTE_ADDR=f"10.9.{subnet}.{number}")  # each its own per-IP limit
        try:
            while not stop.is_set():
                sent_after = created.is_set()
                status = reader.get(f"/{alias}").status_code
                (after if sent_after else before).append(status)
                (answers_after if sent_after else answers_before)[number] += 1
        finally:
            connection.close()

    def wait_until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, "the readers stalled"
            time.sleep(0.005)

    readers = [threading.Thread(target=read, args=(number,)) for number in range(READERS)]
    for thread in readers:
        thread.start()
    try:
        wait_until(lambda: min(answers_before) >= 2)
        services.create_link(owner=None, long_url=f"https://example.com/{alias}", alias=alias)
        created.set()  # autocommit: the link is committed, and cached, by now
        wait_until(lambda: min(answers_after) >= 3)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    return before, after


@pytest.mark.django_db(transaction=True)
def test_readers_racing_a_creation_never_keep_a_stale_404():
    """Real commits and parallel connections: from the moment create_link returns, every answer
    must be the redirect and the cached entry the link. Three rounds, to meet more interleavings."""
    for round_number in range(3):
        alias = f"racing-{round_number}"
        before, after = _race_a_creation(alias, subnet=round_number)

        assert 404 in before  # the readers did race a negative entry
        assert set(after) == {302}, (alias, sorted(after))
        assert cached_fields(alias)["url"] == f"https://example.com/{alias}"


def test_an_update_is_seen_by_the_next_redirect(client, django_capture_on_commit_callbacks):
    link = LinkFactory(long_url="https://example.com/old")
    client.get(f"/{link.code}")

    with django_capture_on_commit_callbacks(execute=True):
        services.update_link(link=link, long_url="https://example.com/new", redirect_type=307)

    response = client.get(f"/{link.code}")
    assert (response.status_code, response["Location"]) == (307, "https://example.com/new")


def test_the_outbox_of_invalidations_is_emptied_when_redis_does_them(
    django_capture_on_commit_callbacks,
):
    link = LinkFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_link(link=link, long_url="https://example.com/edited")
        assert PendingInvalidation.objects.filter(code=link.code).exists()  # with the change
    assert not PendingInvalidation.objects.exists()
    assert services.retry_invalidations() == 0


@pytest.mark.django_db(transaction=True)
def test_the_retry_task_redoes_a_missed_invalidation_through_a_real_worker(
    client, celery_worker_process
):
    link = LinkFactory(long_url="https://example.com/old")
    client.get(f"/{link.code}")  # cached
    Link.objects.filter(pk=link.pk).update(long_url="https://example.com/new")
    PendingInvalidation.objects.create(code=link.code)  # as left by an update Redis missed

    cleared = retry_invalidations_task.apply_async().get(timeout=20)

    assert cleared == 1 and not PendingInvalidation.objects.exists()
    assert client.get(f"/{link.code}")["Location"] == "https://example.com/new"


def test_a_deleted_link_is_404_at_once(client, django_capture_on_commit_callbacks):
    link = LinkFactory()
    assert client.get(f"/{link.code}").status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_link(link=link)

    assert client.get(f"/{link.code}").status_code == 404


def test_invalidation_drops_the_entry_the_leases_and_the_gate():
    link = LinkFactory(max_clicks=5)
    keys = cache.keys_for(link.code)
    redis = cache.client()
    redis.set(keys.gate, 3)
    redis.set(keys.lease, "someone-filling")
    redis.set(keys.gate_lease, "someone-initialising-the-gate")
    redis.set(keys.link, cache.NEGATIVE_ENTRY)

    cache.invalidate_link(code=link.code)

    assert redis.exists(keys.link, keys.lease, keys.gate, keys.gate_lease) == 0


def test_a_fill_that_started_before_an_invalidation_is_refused():
    """The cache-aside race, step by step: reader misses and reads the old row; the writer
    commits and invalidates; the reader's fill would cache the old row for an hour."""
    link = LinkFactory(long_url="https://example.com/old")
    miss = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    assert miss.state == "miss" and miss.lease_token
    old_row = cache.load_link(code=link.code)

    Link.objects.filter(pk=link.pk).update(long_url="https://example.com/new")
    cache.invalidate_link(code=link.code)
    filled = cache.fill_link(
        code=link.code,
        lease_token=miss.lease_token,
        link=cache.CachedLink.from_link(old_row),
    )

    assert filled is False
    assert cached_fields(link.code) == {}


def test_the_fill_inside_the_counted_visit_keeps_the_lease_rule():
    """The miss's fill rides on its counted visit (visit.lua with `fill_token`): refused, like
    fill_link, when an invalidation came between the read and the fill; the visit still counts."""
    link = LinkFactory(long_url="https://example.com/old")
    miss = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    old_row = cache.load_cached_link(code=link.code)
    Link.objects.filter(pk=link.pk).update(long_url="https://example.com/new")
    cache.invalidate_link(code=link.code)

    late = cache.visit(
        code=link.code, now_ms=0, count=True, visitor=PERSON, inline=old_row,
        fill_token=miss.lease_token,
    )  # fmt: skip

    assert late.state == "ok" and late.location == "https://example.com/old"  # as read
    assert cached_fields(link.code) == {}  # but not cached
    fresh = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    fresh_row = cache.load_cached_link(code=link.code)
    cache.visit(
        code=link.code, now_ms=0, count=False, visitor=PERSON, inline=fresh_row,
        fill_token=fresh.lease_token,
    )  # fmt: skip
    assert cached_fields(link.code)["url"] == "https://example.com/new"
    assert cache.client().exists(cache.keys_for(link.code).lease) == 0


def test_a_late_fill_cannot_overwrite_the_next_readers_fresh_entry(client):
    link = LinkFactory(long_url="https://example.com/old")
    first = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    old_row = cache.load_link(code=link.code)
    Link.objects.filter(pk=link.pk).update(long_url="https://example.com/new")
    cache.invalidate_link(code=link.code)

    assert client.get(f"/{link.code}")["Location"] == "https://example.com/new"  # fills
    late = cache.fill_link(
        code=link.code, lease_token=first.lease_token, link=cache.CachedLink.from_link(old_row)
    )

    assert late is False
    assert cached_fields(link.code)["url"] == "https://example.com/new"
    assert client.get(f"/{link.code}")["Location"] == "https://example.com/new"


def test_only_one_reader_gets_the_lease_the_others_read_without_filling(client):
    link = LinkFactory(long_url="https://example.com/herd")
    holder = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    assert holder.lease_token

    other = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    started = time.monotonic()
    response = client.get(f"/{link.code}")  # waits a few ms for the holder, then reads

    assert other.state == "miss" and other.lease_token == ""
    assert response["Location"] == "https://example.com/herd"
    assert time.monotonic() - started < 1.0
    assert cached_fields(link.code) == {}  # only the lease holder fills


def test_rules_are_applied_to_the_cached_copy_at_the_time_of_the_visit():
    link = LinkFactory(expires_at="2030-01-01T00:00:00Z")
    in_2029 = 1_861_920_000_000
    in_2031 = 1_924_992_000_000
    token = cache.visit(code=link.code, now_ms=0, count=False, visitor=PERSON, take_lease=True)
    cache.fill_link(
        code=link.code,
        lease_token=token.lease_token,
        link=cache.CachedLink.from_link(cache.load_link(code=link.code)),
    )

    before = cache.visit(code=link.code, now_ms=in_2029, count=False, visitor=PERSON)
    after = cache.visit(code=link.code, now_ms=in_2031, count=False, visitor=PERSON)

    assert (before.state, after.state) == ("ok", "expired")


def test_invalidation_does_not_raise_when_redis_is_down(settings, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

    cache.invalidate_link(code="abc1234")
    cache.invalidate_links(codes=["abc1234", "def5678"])  # breaker open: skipped at once

    assert "could not invalidate" in caplog.text


def test_creation_works_when_redis_is_down_and_its_code_waits_in_the_outbox(
    settings, caplog, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

    with django_capture_on_commit_callbacks(execute=True):
        link = services.create_link(owner=None, long_url="https://example.com/offline")

    assert Link.objects.filter(code=link.code).exists()
    assert "their codes go to the outbox" in caplog.text
    # Redis is still down after the commit: the code waits for retry_invalidations.
    assert list(PendingInvalidation.objects.values_list("code", flat=True)) == [link.code]


def test_the_keys_one_script_touches_share_a_hash_tag_and_codes_spread_over_slots():
    keys = cache.keys_for("abc1234")
    tag = f"{{s{keys.slot}}}"

    assert all(tag in key for key in (*keys.for_visit, keys.gate_lease))
    assert keys.link == f"sl:{tag}:entry:abc1234"
    slots = {cache.slot_of(f"code{i}") for i in range(200)}
    assert slots == set(range(cache.SLOTS))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"long_url": "https://bücher.example/straße?q=ü", "redirect_type": 308},
        {"expires_at": "2031-05-06T07:08:09.123Z", "max_clicks": 7},
        {"password": "pbkdf2_sha256$x", "disabled": True},
    ],
)
def test_the_read_of_a_miss_equals_the_models_copy(fields):
    # load_cached_link reads the row with its own SQL (speed): it must see what the model sees.
    link = LinkFactory(**fields)

    assert cache.load_cached_link(code=link.code) == cache.CachedLink.from_link(
        cache.load_link(code=link.code)
    )
    assert cache.load_cached_link(code="NoSuchOne") is None


def test_an_entry_is_one_compact_string(client):
    """A hash of the seven fields would be stored as a hashtable (the URL is longer than
    hash-max-listpack-value), ~650 bytes; the packed string takes about a third of that."""
    url = "https://example.com/articles/2026/11/25/a-typical-article-slug?utm_source=newsletter"
    link = LinkFactory(long_url=url)
    client.get(f"/{link.code}")

    key = cache.keys_for(link.code).link
    assert cache.client().type(key) == "string"
    assert cache.client().memory_usage(key) < 300
    assert cache.CachedLink.unpack(cache.client().get(key)) == cache.CachedLink.from_link(link)


def test_a_url_with_the_separator_in_it_survives_the_round_trip(client):
    # iri_to_uri sends "|" as %7C, but the format does not rely on it: the URL comes last.
    raw = cache.CachedLink(7, "https://example.com/a|b?x=|1||", 302, None, False, False, None)
    assert cache.CachedLink.unpack(raw.packed()) == raw
    cache.client().set(cache.keys_for("piped").link, raw.packed(), ex=60)
    visit = cache.visit(code="piped", now_ms=0, count=False, visitor=PERSON)  # visit.lua's parse
    assert (visit.state, visit.link_id, visit.location) == ("ok", 7, raw.location)

    link = LinkFactory(long_url="https://example.com/a|b?x=1|2", max_clicks=9, redirect_type=307)
    for _ in range(2):  # the miss (PostgreSQL, fill), then the hit (the entry, through Lua)
        response = client.get(f"/{link.code}")
        assert response.status_code == 307
        assert response["Location"] == "https://example.com/a%7Cb?x=1%7C2"


def test_an_entry_this_code_cannot_read_is_a_miss_that_the_fill_replaces(client):
    link = LinkFactory(long_url="https://example.com/readable")
    key = cache.keys_for(link.code).link
    cache.client().set(key, "not|an|entry", ex=3600)

    response = client.get(f"/{link.code}")

    assert response["Location"] == "https://example.com/readable"
    assert cached_fields(link.code)["url"] == "https://example.com/readable"


def test_invalidation_also_drops_an_entry_in_the_former_hash_shape():
    """During a rolling deploy a process running the old code still reads sl:{sN}:link:<code>
    (a hash): an edit made through the new code must not leave it serving the old copy."""
    legacy = cache.keys.legacy_entry_key("oldshape")
    cache.client().hset(legacy, mapping={"id": "7", "url": "https://example.com/old"})

    assert cache.invalidate_link(code="oldshape")

    assert cache.client().exists(legacy) == 0
