"""The product as `make run` serves it (the Procfile's lb, edge and web lines, unchanged): HAProxy
in front, a short-code GET to the async redirect tier, everything else to Django's WSGI tier
(config/haproxy.cfg, docs/operations.md "Serving")."""

from __future__ import annotations

import json
import time

import pytest

from core.redis import get_redis
from shortener import clicks
from tests.servers import served_stack
from tests.shortener.factories import LinkFactory
from tests.shortener.test_redirect import BROWSER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), served_stack() as running:
        yield running


def test_pages_api_and_admin_reach_django_and_short_codes_the_redirect_tier(stack):
    link = LinkFactory(long_url="https://example.com/served")

    for _ in range(2):  # a miss (resolved by the edge's Django thread), then a cached hit
        status, headers, _ = stack.get(f"/{link.code}", headers={"User-Agent": BROWSER})
        assert status == 302
        assert headers["location"] == "https://example.com/served"
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 2}

    status, headers, body = stack.get("/healthz")
    assert status == 200 and json.loads(body)["status"] in ("ok", "degraded")
    assert stack.get("/api/v1/links")[0] == 401  # the API, as Django answers it
    assert stack.get("/admin/login/")[0] == 200
    assert stack.get("/")[0] == 200
    # A reserved word looks like a short code but is Django's (manage.py routing_paths).
    status, _, body = stack.get("/about")
    assert status in (200, 404) and b"<html" in body.lower()


def test_cached_redirects_survive_the_django_tier_going_away():
    """The L7 split made visible: with gunicorn stopped, cached redirects are still served (by
    the redirect tier alone) while pages and the API get the load balancer's 503. (A stack of
    its own: this test takes a tier away.)"""
    link = LinkFactory(long_url="https://example.com/still-here")
    with served_stack() as stack:
        assert stack.get(f"/{link.code}")[0] == 302  # cached now

        stack.stop("web")
        deadline = time.monotonic() + 10
        while stack.get("/healthz")[0] != 503:  # HAProxy notices at once (connection refused)
            assert time.monotonic() < deadline
            time.sleep(0.1)

        status, headers, _ = stack.get(f"/{link.code}")
        assert status == 302 and headers["location"] == "https://example.com/still-here"
        assert stack.get("/api/v1/links")[0] == 503


def test_the_load_balancer_drops_a_client_named_by_the_client(stack):
    """HAProxy replaces any X-Forwarded-For a visitor sends with the address it sees, so nobody
    escapes the per-IP redirect limit (or spends someone else's) by naming another address."""
    link = LinkFactory()
    redis = get_redis()
    for key in redis.scan_iter("rl:{redirect:*"):
        redis.delete(key)

    status, _, _ = stack.get(f"/{link.code}", headers={"X-Forwarded-For": "203.0.113.9"})

    assert status == 302
    keys = list(redis.scan_iter("rl:{redirect:*"))
    assert keys and all("127.0.0.1" in key for key in keys)  # the peer HAProxy saw
    assert not any("203.0.113.9" in key for key in keys)
