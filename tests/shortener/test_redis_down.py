"""Redis really stopped: a private `redis-server` started by the test, used, then frozen (SIGSTOP)
or killed. Never the shared Redis on 6379: other test runs use it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis as redis_py
from django.contrib.auth.hashers import make_password

from core.redis import fast_fail_retry
from core.snowflake import SnowflakeGenerator, next_id
from shortener import cache, clicks, services
from shortener.models import PendingInvalidation
from tests.shortener.factories import LinkFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


class PrivateRedis:
    def __init__(self, *, password: str | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning",
             *(("--requirepass", password) if password else ())],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                redis_py.Redis(port=self.port, password=password, socket_timeout=0.2).ping()
                return
            except redis_py.RedisError:
                assert time.monotonic() < deadline, "private redis-server did not start"
                time.sleep(0.02)

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)  # accepts connections, never answers

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            # SIGKILL ends a stopped process too; no SIGCONT first, or a frozen server could
            # still answer what was in flight before it dies.
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(settings) -> Iterator[PrivateRedis]:
    # The process-wide ID generator leases its worker id from settings.REDIS_URL on first use
    # and keeps that client: make sure it is the shared Redis, not the one this test kills.
    next_id()
    server = PrivateRedis()
    settings.REDIS_URL = server.url
    cache.reset_breaker()
    try:
        yield server
    finally:
        server.kill()
        cache.reset_breaker()


def test_redirects_and_creation_keep_working_when_redis_is_killed(
    client, private_redis, django_capture_on_commit_callbacks
):
    plain = LinkFactory(long_url="https://example.com/plain", redirect_type=301)
    protected = LinkFactory(password=make_password("sesame"), long_url="https://example.com/pw")
    limited = LinkFactory(max_clicks=5)
    for link in (plain, protected, limited):
        client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)  # cached in the private Redis
    assert clicks.pending_clicks(link_ids=[plain.id]) == {plain.id: 1}

    private_redis.kill()

    response = client.get(f"/{plain.code}", HTTP_USER_AGENT=BROWSER)
    assert (response.status_code, response["Location"]) == (301, "https://example.com/plain")
    assert client.get(f"/{protected.code}").status_code == 200
    unlocked = client.post(f"/{protected.code}", {"password": "sesame"})
    assert (unlocked.status_code, unlocked["Location"]) == (303, "https://example.com/pw")
    refused = client.get(f"/{limited.code}", HTTP_USER_AGENT=BROWSER)
    assert (refused.status_code, refused["Retry-After"]) == (503, "5")
    assert client.get("/NoSuchCode").status_code == 404
    assert client.get(f"/{plain.code}+").status_code == 200
    assert clicks.pending_clicks(link_ids=[plain.id]) == {}  # the live count: PostgreSQL's
    assert clicks.link_stats(link=plain)["clicks"] == 0
    assert clicks.flush_clicks().slots_failed == list(range(cache.SLOTS))
    # Creation: the invalidation after the commit only logs. (IDs come from this process's
    # Snowflake lease, here on the shared Redis; with its own Redis dead: the last test.)
    with django_capture_on_commit_callbacks(execute=True):
        created = services.create_link(owner=None, long_url="https://example.com/during")
    assert client.get(f"/{created.code}")["Location"] == "https://example.com/during"


def test_a_hung_redis_costs_one_slow_request_per_breaker_interval_not_every_request(
    client, private_redis
):
    link = LinkFactory()
    client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)

    private_redis.freeze()
    started = time.monotonic()
    first = client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)
    slow = time.monotonic() - started
    started = time.monotonic()
    rest = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER) for _ in range(20)]
    fast = time.monotonic() - started

    assert first.status_code == 302 and {r.status_code for r in rest} == {302}
    assert slow >= 0.5  # the socket timeout (0.5 s), plus one retry
    # Each request that asked the frozen Redis would wait its timeout (>= 0.5 s): 20 would take
    # >= 10 s. Far under that means the open breaker skipped Redis (a loose bound, not a speed
    # target: it holds on a loaded machine).
    assert fast < 5
    private_redis.thaw()
    time.sleep(cache.BREAKER_SECONDS)
    # A command that timed out was still in the frozen server's socket: it may run on thaw (a
    # timeout never means "not done"), so compare with the count after the thaw.
    before = clicks.pending_clicks(link_ids=[link.id])[link.id]
    client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)  # Redis again: counted
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: before + 1}


def test_edits_made_while_redis_is_unreachable_reach_the_cache_once_it_answers(
    client, private_redis, django_capture_on_commit_callbacks
):
    """A Redis that is unreachable but keeps its data (frozen, then thawed) would serve an
    edited or deleted link until the entry's TTL (1 h). The outbox of invalidations keeps the
    changes' codes in PostgreSQL, and retry_invalidations applies them once Redis answers."""
    edited = LinkFactory(long_url="https://example.com/before")
    deleted = LinkFactory(long_url="https://example.com/deleted")
    bystander = LinkFactory()
    for link in (edited, deleted, bystander):
        client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)  # cached in the private Redis

    private_redis.freeze()
    # This redirect times out and opens the breaker: the invalidations below are then never
    # sent (a command sent to a frozen Redis may still run when it thaws).
    assert client.get(f"/{bystander.code}", HTTP_USER_AGENT=BROWSER).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        services.update_link(link=edited, long_url="https://example.com/after")
        services.delete_link(link=deleted)
    assert sorted(PendingInvalidation.objects.values_list("code", flat=True)) == sorted(
        [edited.code, deleted.code]
    )
    private_redis.thaw()
    cache.reset_breaker()

    redis = cache.client()
    for link, url in (
        (edited, "https://example.com/before"),
        (deleted, "https://example.com/deleted"),
    ):
        assert cache.CachedLink.unpack(redis.get(cache.keys_for(link.code).link)).location == url
    assert services.retry_invalidations() == 2
    assert PendingInvalidation.objects.count() == 0
    assert client.get(f"/{edited.code}")["Location"] == "https://example.com/after"
    assert client.get(f"/{deleted.code}").status_code == 404


def test_a_link_created_while_redis_is_unreachable_is_not_hidden_by_a_negative_entry(
    client, private_redis, django_capture_on_commit_callbacks
):
    """Someone tries an alias before it exists: a negative entry (60 s). Redis becomes
    unreachable but keeps its data, and the alias is created meanwhile. Without the outbox that
    entry would answer 404 for the new link once Redis is back; the creation leaves its code in
    the outbox, and retry_invalidations drops the entry."""
    assert client.get("/soon-taken").status_code == 404  # cached as unknown
    bystander = LinkFactory()
    client.get(f"/{bystander.code}", HTTP_USER_AGENT=BROWSER)

    private_redis.freeze()
    assert client.get(f"/{bystander.code}", HTTP_USER_AGENT=BROWSER).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):  # the breaker is open now
        services.create_link(owner=None, long_url="https://example.com/new", alias="soon-taken")
    assert list(PendingInvalidation.objects.values_list("code", flat=True)) == ["soon-taken"]
    private_redis.thaw()
    cache.reset_breaker()

    negative = cache.client().get(cache.keys_for("soon-taken").link)
    assert negative == cache.NEGATIVE_ENTRY  # still there
    assert services.retry_invalidations() == 1
    response = client.get("/soon-taken", HTTP_USER_AGENT=BROWSER)
    assert (response.status_code, response["Location"]) == (302, "https://example.com/new")


def test_the_id_generator_keeps_issuing_after_its_redis_is_killed(private_redis):
    # Creation needs IDs. What happens past the lease deadline is core.snowflake's business
    # (tests/core/test_snowflake.py); the shortener relies on this much.
    generator = SnowflakeGenerator(
        redis_client=redis_py.Redis(
            port=private_redis.port, socket_timeout=0.2, retry=fast_fail_retry()
        ),
        lease_seconds=30.0,
    )
    first = generator.next_id()

    private_redis.kill()

    later = [generator.next_id() for _ in range(3)]
    assert first < later[0] < later[1] < later[2]
    generator.close()
