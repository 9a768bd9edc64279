"""The redirect `/{code}` and the preview `/{code}+`, through Django (test client) and through the
WSGI fast path (config.wsgi's wrapper, called as a WSGI app): every status, the headers, and the
fast path answering cached redirects without the database."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone

from shortener import cache, clicks, visitors
from shortener.fastpath import RedirectFastPath
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


@pytest.fixture(autouse=True)
def _closed_breaker():
    cache.reset_breaker()


@pytest.fixture
def wsgi_app():
    """config.wsgi's application, built fresh. Django's test client does the same as this
    around each request: close_old_connections would close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield RedirectFastPath(get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def wsgi_get(
    app: Any, path: str, *, method: str = "GET", **environ: str
) -> tuple[int, dict[str, str], bytes]:
    """One request straight into a WSGI app: (status, headers, body)."""
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(),
        "wsgi.errors": BytesIO(),
        "HTTP_USER_AGENT": BROWSER,
        **environ,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return answer["status"], answer["headers"], body


def live_clicks(link) -> int:
    return clicks.pending_clicks(link_ids=[link.id]).get(link.id, 0)


# --- Statuses through Django ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("redirect_type", "cache_control"),
    [
        (301, "private, max-age=90"),
        (302, "no-store"),
        (307, "no-store"),
        (308, "private, max-age=90"),
    ],
)
def test_each_redirect_type_answers_its_status_with_location_and_cache_headers(
    client, redirect_type, cache_control
):
    link = LinkFactory(long_url="https://example.com/a?b=c", redirect_type=redirect_type)

    response = client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)

    assert response.status_code == redirect_type
    assert response["Location"] == "https://example.com/a?b=c"
    assert response["Cache-Control"] == cache_control
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert live_clicks(link) == 1


def test_a_destination_with_unicode_is_sent_ascii_safe(client):
    link = LinkFactory(long_url="https://example.com/straße?q=ä b")

    response = client.get(f"/{link.code}")

    assert response["Location"] == "https://example.com/stra%C3%9Fe?q=%C3%A4%20b"


def test_an_unknown_code_is_a_404_page(client):
    response = client.get("/NoSuchCode")

    assert response.status_code == 404
    assert b"There is no short link /NoSuchCode" in response.content
    assert response["Cache-Control"] == "no-store"


def test_a_disabled_link_is_410(client):
    link = LinkFactory(disabled=True)

    response = client.get(f"/{link.code}")

    assert response.status_code == 410
    assert b"has been disabled" in response.content


def test_an_expired_link_is_410(client):
    link = LinkFactory(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(f"/{link.code}")

    assert response.status_code == 410
    assert b"has expired" in response.content


def test_a_link_past_its_max_clicks_is_410(client):
    link = LinkFactory(max_clicks=2)

    statuses = [client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)]

    assert statuses == [302, 302, 410]
    assert b"has been used up" in client.get(f"/{link.code}").content
    assert live_clicks(link) == 2


def test_a_password_link_shows_the_password_page_and_counts_nothing(client):
    link = LinkFactory(password=make_password("sesame"))

    response = client.get(f"/{link.code}")

    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert link.long_url.encode() not in response.content
    assert live_clicks(link) == 0


def test_a_wrong_password_is_403_with_the_form_again(client):
    link = LinkFactory(password=make_password("sesame"))

    response = client.post(f"/{link.code}", {"password": "open"})

    assert response.status_code == 403
    assert b"That password is not right." in response.content
    assert b'aria-invalid="true"' in response.content
    assert live_clicks(link) == 0


@pytest.mark.parametrize("redirect_type", [302, 308])
def test_the_right_password_redirects_with_303_and_counts_the_click(client, redirect_type):
    # 303 whatever the type: a 307/308 would make the browser re-POST the password onward.
    link = LinkFactory(password=make_password("sesame"), redirect_type=redirect_type)
    client.get(f"/{link.code}")  # the page, cached

    response = client.post(f"/{link.code}", {"password": "sesame"}, HTTP_USER_AGENT=BROWSER)

    assert response.status_code == 303
    assert response["Location"] == link.long_url
    assert response["Cache-Control"] == "no-store"
    assert live_clicks(link) == 1


def test_a_used_up_password_link_says_so_before_asking_for_the_password(client):
    link = LinkFactory(password=make_password("sesame"), max_clicks=1)
    client.post(f"/{link.code}", {"password": "sesame"}, HTTP_USER_AGENT=BROWSER)

    response = client.get(f"/{link.code}")

    assert response.status_code == 410


def test_a_post_through_a_307_link_is_redirected_without_a_csrf_token(client):
    from django.test import Client

    link = LinkFactory(redirect_type=307, long_url="https://api.example.com/hook")

    response = Client(enforce_csrf_checks=True).post(
        f"/{link.code}", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 307
    assert response["Location"] == "https://api.example.com/hook"


def test_head_answers_like_get_but_counts_nothing_and_spends_nothing(client):
    link = LinkFactory(max_clicks=1)

    heads = [client.head(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code for _ in range(3)]

    assert heads == [302, 302, 302]
    assert live_clicks(link) == 0
    assert client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER).status_code == 302


def test_a_reserved_path_without_its_slash_still_finds_its_page(client):
    response = client.get("/shortener")

    assert response.status_code == 301
    assert response["Location"] == "/shortener/"


# --- Preview ------------------------------------------------------------------------------------


def test_the_preview_shows_the_destination_and_host_and_counts_nothing(client):
    link = LinkFactory(long_url="http://login.example.com/account?next=/")

    response = client.get(f"/{link.code}+")

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        '<p class="preview-destination" data-testid="preview-destination">http://'
        '<mark data-testid="preview-host">login.example.com</mark>/account?next=/</p>'
    ) in html
    assert f'href="/{link.code}"' in html
    assert f'datetime="{link.created_at.isoformat()}"' in html
    assert "does not use HTTPS" in html
    assert live_clicks(link) == 0


def test_the_preview_of_an_international_domain_shows_both_forms(client):
    link = LinkFactory(long_url="https://xn--pple-43d.com/")

    html = client.get(f"/{link.code}+").content.decode()

    assert "xn--pple-43d.com" in html
    assert "\u0430pple.com" in html  # a Cyrillic a (U+0430): the look-alike of apple.com


def test_the_preview_of_a_password_link_hides_the_destination(client):
    link = LinkFactory(password=make_password("sesame"), long_url="https://secret.example.com/")

    response = client.get(f"/{link.code}+")

    assert response.status_code == 200
    assert b"secret.example.com" not in response.content
    assert b"protected by a password" in response.content


def test_the_preview_of_an_unknown_or_gone_link_is_404_or_410(client):
    disabled = LinkFactory(disabled=True, long_url="https://phish.example.com/")
    used_up = LinkFactory(max_clicks=1)
    client.get(f"/{used_up.code}", HTTP_USER_AGENT=BROWSER)  # pending in Redis, not flushed

    assert client.get("/NoSuchCode+").status_code == 404
    gone = client.get(f"/{disabled.code}+")
    assert gone.status_code == 410
    assert b"phish.example.com" not in gone.content
    assert client.get(f"/{used_up.code}+").status_code == 410


# --- The fast path ------------------------------------------------------------------------------


def test_the_fast_path_serves_a_cached_redirect_without_the_database(
    wsgi_app, django_assert_num_queries
):
    link = LinkFactory(long_url="https://example.com/fast", redirect_type=301)
    assert wsgi_get(wsgi_app, f"/{link.code}")[0] == 301  # miss: Django fills the cache

    with django_assert_num_queries(0):
        status, headers, body = wsgi_get(wsgi_app, f"/{link.code}")

    assert (status, headers["Location"], body) == (301, "https://example.com/fast", b"")
    assert live_clicks(link) == 2


@pytest.mark.parametrize("redirect_type", [301, 302, 307, 308])
def test_the_fast_path_and_django_answer_with_the_same_redirect(client, wsgi_app, redirect_type):
    link = LinkFactory(redirect_type=redirect_type)
    through_django = client.get(f"/{link.code}", HTTP_USER_AGENT=BROWSER)  # fills the cache

    status, headers, body = wsgi_get(wsgi_app, f"/{link.code}")

    assert status == through_django.status_code == redirect_type
    redirect_headers = ("Location", "Cache-Control", "Referrer-Policy", "Content-Length")
    assert {name: headers[name] for name in redirect_headers} == {
        name: through_django[name] for name in redirect_headers
    }
    assert body == through_django.content == b""


def test_the_fast_path_sends_hsts_on_https_like_django(settings):
    settings.SECURE_HSTS_SECONDS = 3600
    app = RedirectFastPath(lambda environ, start_response: [])
    link = LinkFactory()
    cache.fill_link(
        code=link.code,
        lease_token=cache.visit(
            code=link.code, now_ms=0, count=False, visitor=visitors.Visitor("other", False, ""),
            take_lease=True,
        ).lease_token,
        link=cache.CachedLink.from_link(link),
    )  # fmt: skip

    _, headers, _ = wsgi_get(app, f"/{link.code}", HTTP_X_FORWARDED_PROTO="https")
    _, plain, _ = wsgi_get(app, f"/{link.code}")

    assert headers["Strict-Transport-Security"] == "max-age=3600"
    assert "Strict-Transport-Security" not in plain


def test_the_fast_path_leaves_everything_else_to_django(wsgi_app, django_assert_num_queries):
    protected = LinkFactory(password=make_password("sesame"))
    gone = LinkFactory(disabled=True)
    for link in (protected, gone):
        wsgi_get(wsgi_app, f"/{link.code}")  # cached now

    assert wsgi_get(wsgi_app, f"/{protected.code}")[0] == 200  # the password page
    with django_assert_num_queries(0):  # the fast path's answer is reused, not asked again
        assert wsgi_get(wsgi_app, f"/{gone.code}")[0] == 410
    assert wsgi_get(wsgi_app, "/NoSuchCode")[0] == 404
    assert wsgi_get(wsgi_app, "/shortener")[0] == 301
    assert wsgi_get(wsgi_app, f"/{gone.code}+")[0] == 410
    assert wsgi_get(wsgi_app, "/accounts/login/")[0] == 200


def test_the_fast_path_refuses_a_host_django_would_refuse(wsgi_app):
    link = LinkFactory()
    wsgi_get(wsgi_app, f"/{link.code}")

    status, _, _ = wsgi_get(wsgi_app, f"/{link.code}", HTTP_HOST="evil.example")

    assert status == 400
    assert live_clicks(link) == 1


def test_head_through_the_fast_path_counts_nothing(wsgi_app):
    link = LinkFactory()
    wsgi_get(wsgi_app, f"/{link.code}", method="HEAD")  # miss, through Django

    assert wsgi_get(wsgi_app, f"/{link.code}", method="HEAD")[0] == 302
    assert live_clicks(link) == 0


@pytest.fixture
def django_requests():
    """How many requests reached Django (its WSGI handler sends request_started)."""
    seen: list[object] = []

    def started(**kwargs: object) -> None:
        seen.append(kwargs)

    request_started.connect(started)
    yield seen
    request_started.disconnect(started)


def test_a_miss_is_resolved_by_the_fast_path_without_djangos_handler(
    wsgi_app, django_requests, django_assert_num_queries
):
    link = LinkFactory(long_url="https://example.com/cold")

    with django_assert_num_queries(1):  # the one indexed SELECT of the miss
        status, headers, _ = wsgi_get(wsgi_app, f"/{link.code}")

    assert (status, headers["Location"]) == (302, "https://example.com/cold")
    # The request signals were sent (the connection is looked after as in a request), but by
    # the fast path: Django's handler, its middleware and view never ran.
    assert [
        (started["sender"], started["environ"]["PATH_INFO"]) for started in django_requests
    ] == [(RedirectFastPath, f"/{link.code}")]
    entry = cache.CachedLink.unpack(cache.client().get(cache.keys_for(link.code).link))
    assert entry.location == "https://example.com/cold"
    assert live_clicks(link) == 1
    with django_assert_num_queries(0):
        assert wsgi_get(wsgi_app, f"/{link.code}")[0] == 302  # now a hit
    assert live_clicks(link) == 2


def test_a_miss_costs_two_round_trips_the_first_taking_the_lease_the_second_filling(
    wsgi_app, monkeypatch
):
    """The fast path's own visit takes the lease on a miss; one SELECT; then the counted visit,
    which fills the entry in the same script: two EVALSHAs, as the bare app's GET and SET."""
    from redis import Redis

    link = LinkFactory()
    sent: list[str] = []
    execute = Redis.execute_command

    def counting(self: Redis, *args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return execute(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", counting)
    assert wsgi_get(wsgi_app, f"/{link.code}")[0] == 302
    monkeypatch.undo()

    assert sent == ["EVALSHA", "EVALSHA"]
    assert live_clicks(link) == 1
    assert cache.client().exists(cache.keys_for(link.code).lease) == 0  # the fill released it
    entry = cache.CachedLink.unpack(cache.client().get(cache.keys_for(link.code).link))
    assert entry.location == link.long_url


def test_a_cached_unknown_code_gets_djangos_404_page_without_django(
    client, wsgi_app, django_requests
):
    assert wsgi_get(wsgi_app, "/NoSuchCode")[0] == 404  # a miss: Django, a negative entry
    assert wsgi_get(wsgi_app, "/NoSuchCode")[0] == 404  # cached: the page is rendered once
    assert [started["environ"]["PATH_INFO"] for started in django_requests[1:]] == ["/Zz0code0zZ"]
    django_requests.clear()

    status, headers, body = wsgi_get(wsgi_app, "/NoSuchCode")  # cached: the fast path

    assert django_requests == []
    assert status == 404
    reference = client.get("/NoSuchCode")  # Django's own answer
    assert body == reference.content
    assert b"There is no short link /NoSuchCode" in body
    assert headers == {name: value for name, value in reference.items()}
    assert headers["Cache-Control"] == "no-store"
    assert int(headers["Content-Length"]) == len(body)
    head_status, head_headers, head_body = wsgi_get(wsgi_app, "/NoSuchCode", method="HEAD")
    assert (head_status, head_body, head_headers) == (404, b"", headers)


def test_a_signed_in_visitor_or_a_route_name_gets_the_404_from_django(wsgi_app, django_requests):
    wsgi_get(wsgi_app, "/NoSuchCode")
    wsgi_get(wsgi_app, "/Shortener")  # "/shortener/" is a page: Django may redirect
    django_requests.clear()
    wsgi_get(wsgi_app, "/NoSuchCode", HTTP_COOKIE="sessionid=abc")
    assert len(django_requests) == 1
    assert wsgi_get(wsgi_app, "/Shortener")[0] == 404
    assert len(django_requests) == 2


@pytest.mark.parametrize(
    ("status", "header"),
    [
        ("404 Not Found", ("Set-Cookie", "csrftoken=abc; Path=/")),
        ("404 Not Found", ("Content-Security-Policy", "script-src 'nonce-r4nd0m'")),
        ("200 OK", ("Cache-Control", "no-store")),
    ],
)
def test_a_404_page_for_one_response_only_is_never_reused(status, header):
    """A page with a cookie or a CSP nonce (or not a 404 at all) is Django's to answer, always."""
    from shortener.fast404 import NotFoundPages

    calls: list[str] = []

    def app(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response(status, [("Content-Type", "text/html"), header])
        return [b"<p>no /Zz0code0zZ</p>"]

    pages = NotFoundPages(app)
    environ = {"REQUEST_METHOD": "GET", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http"}
    assert pages.answer(environ, "NoSuchCode") is None
    assert pages.answer(environ, "NoSuchCode") is None
    assert calls == ["/Zz0code0zZ"]  # asked once per Host: the verdict is remembered too


def test_a_plain_404_page_is_reused_with_the_code_swapped_in():
    from shortener.fast404 import NotFoundPages

    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/html"), ("Content-Length", "22")])
        return [b"<p>no /Zz0code0zZ</p>"]

    status, headers, body = NotFoundPages(app).answer(
        {"REQUEST_METHOD": "GET", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http"}, "abc"
    )
    assert (status, body) == ("404 Not Found", b"<p>no /abc</p>")
    assert headers == [("Content-Type", "text/html"), ("Content-Length", "14")]
