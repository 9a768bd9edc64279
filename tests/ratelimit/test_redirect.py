"""The per-IP redirect limit, through the WSGI fast path and through Django, counted once per
request; and the per-IP+code limit on a link's password form."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.test import override_settings

from ratelimit import metrics
from shortener import cache
from tests.ratelimit.test_api import policies
from tests.shortener.factories import LinkFactory
from tests.shortener.test_redirect import wsgi_app, wsgi_get  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

TINY_REDIRECT = policies(
    redirect={"algorithm": "gcra", "limit": 2, "window": 60, "key": "ip",
              "headers_on_success": False},
)  # fmt: skip


@pytest.fixture(autouse=True)
def _closed_cache_breaker():
    cache.reset_breaker()


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_the_fast_path_refuses_an_ip_over_the_redirect_limit_before_any_lookup(
    wsgi_app,  # noqa: F811
    django_assert_num_queries,
):
    link = LinkFactory()
    answers = [wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.4") for _ in range(2)]
    assert [status for status, _, _ in answers] == [302, 302]
    assert "RateLimit" not in answers[0][1]  # headers_on_success: False
    with django_assert_num_queries(0):
        status, headers, body = wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.4")
    assert status == 429
    assert int(headers["Retry-After"]) == 30
    assert headers["RateLimit-Policy"] == '"redirect";q=2;w=60'
    assert headers["RateLimit"].startswith('"redirect";r=0;t=')
    assert body.startswith(b"Too many requests")
    assert wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.5")[0] == 302


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_a_request_falling_through_the_fast_path_is_counted_once(wsgi_app):  # noqa: F811
    # A miss goes through the fast path's check, then to Django's view, which must not count
    # it again: two misses are two requests, not four.
    codes = [LinkFactory().code for _ in range(2)]
    for code in codes:
        assert wsgi_get(wsgi_app, f"/{code}", REMOTE_ADDR="198.51.100.6")[0] == 302
    assert metrics.count(scope="redirect", outcome="allowed") == 2
    assert wsgi_get(wsgi_app, f"/{codes[0]}", REMOTE_ADDR="198.51.100.6")[0] == 429


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_django_limits_redirects_that_never_met_the_fast_path(client):
    link = LinkFactory(redirect_type=307)
    statuses = [client.post(f"/{link.code}").status_code for _ in range(3)]
    assert statuses == [307, 307, 429]
    refused = client.get(f"/{link.code}")
    assert refused.status_code == 429
    assert refused["Retry-After"] and refused["Cache-Control"] == "no-store"


@override_settings(
    RATELIMIT_POLICIES=policies(
        link_password={"algorithm": "sliding_log", "limit": 2, "window": 300, "key": "ip_path"}
    )
)
def test_password_tries_are_limited_per_ip_and_code(client, django_assert_num_queries):
    link = LinkFactory(password=make_password("right"))
    other = LinkFactory(password=make_password("right"))
    tries = [client.post(f"/{link.code}", {"password": "wrong"}).status_code for _ in range(2)]
    assert tries == [403, 403]
    with django_assert_num_queries(0):  # refused before the row is read or a hash computed
        refused = client.post(f"/{link.code}", {"password": "right"})
    assert refused.status_code == 429
    assert refused["RateLimit-Policy"] == '"link_password";q=2;w=300'
    assert 1 <= int(refused["Retry-After"]) <= 300
    # Another link from the same address, and the same link from another, are not affected.
    assert client.post(f"/{other.code}", {"password": "right"}).status_code == 303
    assert (
        client.post(f"/{link.code}", {"password": "right"}, REMOTE_ADDR="192.0.2.77").status_code
        == 303
    )


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_a_cached_redirect_is_one_round_trip_and_a_refused_one_counts_no_click(
    wsgi_app,  # noqa: F811
    monkeypatch,
):
    """The limit and the visit run in one script (core.lua.chain): one Redis command per
    cached redirect; and a refusal stops before the visit, so no click is counted."""
    from redis import Redis

    from shortener import clicks

    link = LinkFactory()
    assert wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.8")[0] == 302  # fills
    sent: list[str] = []
    execute = Redis.execute_command

    def counting(self, *args, **options):
        sent.append(str(args[0]))
        return execute(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", counting)
    assert wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.8")[0] == 302
    assert sent == ["EVALSHA"]
    assert wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.8")[0] == 429
    monkeypatch.undo()
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 2}  # not 3


@override_settings(
    RATELIMIT_POLICIES=policies(
        redirect={"algorithm": "gcra", "limit": 1, "window": 60, "key": "ip", "mode": "shadow"}
    )
)
def test_in_shadow_mode_the_redirect_limit_reports_and_every_visit_redirects_and_counts(
    wsgi_app,  # noqa: F811
):
    from shortener import clicks

    link = LinkFactory()
    statuses = [
        wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.9")[0] for _ in range(4)
    ]
    assert statuses == [302] * 4
    assert metrics.count(scope="redirect", outcome="shadow_limited") == 3
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 4}


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_a_prepared_check_names_the_key_check_rate_would_use():
    from ratelimit.algorithms import redis_key
    from ratelimit.services import prepare_check

    check = prepare_check(scope="link_password", environ={"REMOTE_ADDR": "192.0.2.1"}, path="a{b}c")
    assert check.identity == "192.0.2.1|a{b}c"
    assert check.redis_key == redis_key(
        algorithm=check.policy.algorithm, key=f"link_password:{check.identity}"
    )
    assert check.redis_key.startswith("rl:{link_password:192.0.2.1|a(b)c}:")
    assert prepare_check(scope="redirect", environ={"REMOTE_ADDR": "192.0.2.1"}).args == (
        2, 60_000_000, 2, 1
    )  # fmt: skip


def test_a_changed_policy_is_seen_at_once(settings):
    from ratelimit.services import prepare_check

    settings.RATELIMIT_POLICIES = TINY_REDIRECT
    assert prepare_check(scope="redirect", environ={"REMOTE_ADDR": "192.0.2.1"}).args[0] == 2
    settings.RATELIMIT_POLICIES = policies(
        redirect={"algorithm": "gcra", "limit": 7, "window": 1, "key": "ip"}
    )
    assert prepare_check(scope="redirect", environ={"REMOTE_ADDR": "192.0.2.1"}).args[0] == 7


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_both_edges_send_the_same_refusal(wsgi_app, client):  # noqa: F811
    """One rendering of a refusal (shortener.visits.refusal_response): the fast path's and
    Django's view's 429 carry the same status, headers and body."""
    link = LinkFactory(redirect_type=307)
    for _ in range(2):
        wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.9")
    fast_status, fast_headers, fast_body = wsgi_get(
        wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.9"
    )
    for _ in range(2):
        client.post(f"/{link.code}", REMOTE_ADDR="198.51.100.10")  # POST: only Django sees it
    django = client.post(f"/{link.code}", REMOTE_ADDR="198.51.100.10")

    assert fast_status == django.status_code == 429
    assert fast_body == django.content
    ours = {"Content-Type", "Cache-Control", "Retry-After", "RateLimit-Policy"}
    assert {k: fast_headers[k] for k in ours} == {k: django[k] for k in ours}
    # The remaining time may tick between the two requests; the rest of the field may not.
    assert fast_headers["RateLimit"].startswith('"redirect";r=0;t=')
    assert django["RateLimit"].startswith('"redirect";r=0;t=')


@override_settings(RATELIMIT_POLICIES=TINY_REDIRECT)
def test_a_page_the_fast_path_leaves_to_django_is_counted_once(wsgi_app):  # noqa: F811
    # A password link: the fast path asks the domain, leaves the page to Django's view, which
    # asks again; the per-IP limit counts one request, not two.
    link = LinkFactory(password=make_password("x"))
    status, _, body = wsgi_get(wsgi_app, f"/{link.code}", REMOTE_ADDR="198.51.100.11")
    assert status == 200 and b"password" in body.lower()
    assert metrics.count(scope="redirect", outcome="allowed") == 1
