"""The async redirect edge (shortener/edge.py, config/edge.py), called as an ASGI app on an event
loop of its own: cached redirects answered there with the same headers as the other edges,
everything else by the WSGI application in a thread, counted once. Its fallback thread has its
own database connection, so these tests commit (transaction=True)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.wsgi import get_wsgi_application

from ratelimit import metrics
from shortener import clicks, visits
from shortener.edge import RedirectEdge
from shortener.fastpath import RedirectFastPath
from tests.asyncio_helpers import run_in_new_loop
from tests.shortener.factories import LinkFactory
from tests.shortener.test_redirect import BROWSER, wsgi_get

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def edge() -> RedirectEdge:
    metrics.reset()  # in-process counts: this test's requests only
    return RedirectEdge(RedirectFastPath(get_wsgi_application()))


def asgi_get(
    app: RedirectEdge,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    scheme: str = "http",
    client: str = "198.51.100.40",
) -> tuple[int, dict[str, str], bytes]:
    """One request into the ASGI app: (status, headers, body)."""
    sent: list[dict[str, Any]] = []
    request_headers = {"host": "testserver", "user-agent": BROWSER, **(headers or {})}
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "scheme": scheme,
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in request_headers.items()],
        "client": (client, 50000), "server": ("testserver", 80),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run_in_new_loop(lambda: app(scope, receive, send))
    start = sent[0]
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:])


def live_clicks(link) -> int:
    return clicks.pending_clicks(link_ids=[link.id]).get(link.id, 0)


@pytest.mark.parametrize("redirect_type", [301, 302, 307, 308])
def test_a_cached_redirect_is_answered_by_the_edge_with_the_fast_paths_headers(edge, redirect_type):
    link = LinkFactory(redirect_type=redirect_type)
    visits.answer(code=link.code, method="GET", environ={"REMOTE_ADDR": "198.51.100.41"})

    status, headers, body = asgi_get(edge, f"/{link.code}")
    fast_status, fast_headers, fast_body = wsgi_get(edge.wsgi_app, f"/{link.code}")

    assert status == fast_status == redirect_type
    for name in ("Location", "Cache-Control", "Referrer-Policy", "Content-Length"):
        assert headers[name.lower()] == fast_headers[name]
    assert body == fast_body == b""
    assert live_clicks(link) == 3  # the fill, the edge, the fast path


def test_a_miss_goes_to_the_wsgi_app_and_is_counted_once(edge):
    link = LinkFactory(long_url="https://example.com/cold")

    status, headers, _ = asgi_get(edge, f"/{link.code}")
    again, _, _ = asgi_get(edge, f"/{link.code}")  # now cached: the edge's own

    assert (status, headers["location"], again) == (302, "https://example.com/cold", 302)
    assert live_clicks(link) == 2
    assert metrics.count(scope="redirect", outcome="allowed") == 2  # one per request


def test_pages_and_the_api_reach_django_unchanged(edge):
    gone = LinkFactory(disabled=True)

    unknown = asgi_get(edge, "/nosuchcode")
    disabled = asgi_get(edge, f"/{gone.code}")
    home = asgi_get(edge, "/")
    token = asgi_get(
        edge, "/api/v1/auth/token", method="POST", body=b'{"username": "a", "password": "b"}',
        headers={"content-type": "application/json"},
    )  # fmt: skip

    assert unknown[0] == 404 and b"nosuchcode" in unknown[2]
    assert disabled[0] == 410
    assert home[0] == 200 and b"<html" in home[2]
    assert token[0] == 400 and b"invalid_credentials" in token[2]


def test_a_host_django_would_refuse_is_refused(edge):
    link = LinkFactory()
    visits.answer(code=link.code, method="GET", environ={"REMOTE_ADDR": "198.51.100.42"})

    status, _, _ = asgi_get(edge, f"/{link.code}", headers={"host": "evil.example"})

    assert status == 400
    assert live_clicks(link) == 1  # the fill only


def test_over_the_limit_the_edge_refuses_and_counts_nothing(edge, settings):
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "redirect": {"algorithm": "gcra", "limit": 2, "window": 60, "key": "ip"},
    }
    link = LinkFactory()
    visits.answer(code=link.code, method="GET", environ={"REMOTE_ADDR": "198.51.100.43"})

    statuses = [asgi_get(edge, f"/{link.code}", client="198.51.100.43")[0] for _ in range(2)]
    status, headers, body = asgi_get(edge, f"/{link.code}", client="198.51.100.43")

    assert statuses == [302, 429] and status == 429
    assert headers["retry-after"] and body.startswith(b"Too many requests")
    assert live_clicks(link) == 2


def test_hsts_on_https_only(edge, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    edge = RedirectEdge(edge.wsgi_app)  # reads its settings once, like Django's middleware
    link = LinkFactory()
    visits.answer(code=link.code, method="GET", environ={"REMOTE_ADDR": "198.51.100.44"})

    _, secure, _ = asgi_get(edge, f"/{link.code}", scheme="https")
    _, plain, _ = asgi_get(edge, f"/{link.code}")

    assert secure["strict-transport-security"] == "max-age=3600"
    assert "strict-transport-security" not in plain


def test_the_tiers_own_health_check_needs_neither_django_nor_a_database(edge, monkeypatch):
    def no_wsgi(environ, start_response):  # pragma: no cover - must not be called
        raise AssertionError("the health check reached the WSGI application")

    monkeypatch.setattr(edge, "wsgi_app", no_wsgi)
    status, headers, body = asgi_get(edge, "/healthz/edge")

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body == b'{"status": "ok", "tier": "redirect"}'


def test_header_names_with_underscores_are_dropped_so_no_client_names_its_own_address():
    from shortener.edge import _environ

    scope = {
        "type": "http", "method": "GET", "path": "/x", "query_string": b"",
        "headers": [(b"x_forwarded_for", b"198.51.100.77"), (b"x-forwarded-for", b"10.0.0.1")],
        "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip
    assert _environ(scope)["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
