"""What a careless or hostile client sends, answered with a 4xx in the one error shape: bodies
too deep, too large or not quite JSON, crafted cursors and limits, and the one `fields` shape.
The server-level cases also go through gunicorn, the server a visitor reaches."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.parsers import MAX_JSON_DEPTH
from shortener.models import Link
from tests.accounts.factories import UserFactory
from tests.servers import gunicorn, request
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

TOO_BIG = 2_621_440 + 1  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB), plus one byte


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory()).key}")
    return client


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def _post_raw(client, path: str, body: bytes | str):
    return client.post(path, body, content_type="application/json")


# --- bodies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/register"])
def test_a_thousand_open_brackets_is_a_400_not_a_recursion_error(client, path):
    response = _post_raw(client, path, "[" * 1000)

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "parse_error"
    assert "nests" in error["message"] and str(MAX_JSON_DEPTH) in error["message"]


def test_nesting_is_refused_past_the_documented_depth_and_not_before(client):
    def nested(depth: int) -> str:
        return '{"username": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    deepest_allowed = _post_raw(client, "/api/v1/auth/token", nested(MAX_JSON_DEPTH))
    too_deep = _post_raw(client, "/api/v1/auth/token", nested(MAX_JSON_DEPTH + 1))

    assert _error(deepest_allowed)["code"] == "invalid"  # parsed; the serializer refuses a list
    assert _error(too_deep)["code"] == "parse_error"


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    body = json.dumps({"username": "[" * 100, "password": "{" * 500})

    response = _post_raw(client, "/api/v1/auth/token", body)

    assert _error(response)["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"username": 1' + "1" * 5000 + "}", "more than 4,300 digits"),
        (b'{"username": "\xff"}', "not valid utf-8 text"),
        ('{"username": NaN}', "NaN is not a JSON number"),
        ('{"username": "a",}', "not valid JSON"),
    ],
)
def test_parse_errors_say_what_is_wrong_without_python_internals(client, body, expected):
    response = _post_raw(client, "/api/v1/auth/token", body)

    error = _error(response)
    assert response.status_code == 400 and error["code"] == "parse_error"
    assert expected in error["message"]
    for internal in ("sys.", "set_int_max_str_digits", "utf-8-sig", "codec", "JSON parse error"):
        assert internal not in error["message"]


def test_a_byte_order_mark_is_skipped_not_refused(client):
    body = "\ufeff" + json.dumps({"username": "nobody", "password": "wrong-password"})

    response = client.post("/api/v1/auth/token", body.encode(), content_type="application/json")

    assert _error(response)["code"] == "invalid_credentials"


def test_a_body_over_the_upload_limit_is_a_413_in_the_error_shape(client):
    body = json.dumps({"username": "a" * TOO_BIG, "password": "x"})

    response = _post_raw(client, "/api/v1/auth/token", body)

    assert response.status_code == 413
    error = _error(response)
    assert error["code"] == "request_too_large"
    assert "2,621,440 bytes" in error["message"]


def test_a_page_form_over_the_upload_limit_is_a_413_page_without_a_traceback(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.post("/accounts/login/", {"username": "a" * TOO_BIG, "password": "x"})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "more than this site accepts" in page and "2,621,440 bytes" in page
    assert not [r for r in caplog.records if r.exc_info]


# --- cursors and limits -------------------------------------------------------------------------


def _cursor(query: str | bytes) -> str:
    raw = query.encode() if isinstance(query, str) else query
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("p=abc"),
        _cursor("p=1.5"),
        _cursor("p=\x00"),
        _cursor("p=-5"),
        _cursor("p=99999999999999999999999"),
        _cursor("r=x&p=5"),
        _cursor(b"p=\xff"),
        "%%%not-base64",
        "abc",
    ],
)
def test_a_crafted_cursor_is_a_400_naming_it(api, cursor):
    LinkFactory()

    response = api.get("/api/v1/links", {"cursor": cursor})

    assert response.status_code == 400
    error = _error(response)
    assert error["fields"] == {
        "cursor": ["Not a cursor from this API: pass `next` or `previous` as given."]
    }


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "1.5", "²", " 5"])
def test_a_limit_that_is_not_a_positive_whole_number_is_a_400_naming_it(api, limit):
    response = api.get("/api/v1/links", {"limit": limit})

    assert response.status_code == 400
    assert list(_error(response)["fields"]) == ["limit"]


def test_a_limit_over_the_maximum_is_capped(api):
    assert api.get("/api/v1/links", {"limit": "999999999999999999999"}).status_code == 200
    assert api.get("/api/v1/links", {"limit": "7"}).status_code == 200


# --- the one shape of `fields` ------------------------------------------------------------------


def test_bulk_errors_name_each_item_by_path_like_every_other_error(api):
    empty = api.post("/api/v1/links/bulk", {"links": []}, format="json")
    bad_item = api.post(
        "/api/v1/links/bulk",
        {"links": [{"long_url": "https://example.com/"}, {"long_url": ["x"], "max_clicks": "x"}]},
        format="json",
    )

    assert _error(empty)["fields"] == {"links": ["This list may not be empty."]}
    assert _error(empty)["message"] == "links: This list may not be empty."
    fields = _error(bad_item)["fields"]
    assert set(fields) == {"links[1].long_url", "links[1].max_clicks"}
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in fields.values())
    assert _error(bad_item)["message"].startswith("links[1].")
    assert Link.objects.count() == 0


# --- through the real server --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_served_app_refuses_deep_large_and_crafted_input_with_4xx():
    with gunicorn("--workers", "1") as (host, port):
        deep = request(host, port, "POST", "/api/v1/auth/token", body=b"[" * 1000,
                       headers={"Content-Type": "application/json"})  # fmt: skip
        large = request(host, port, "POST", "/api/v1/auth/token", body=b'"' + b"a" * TOO_BIG,
                        headers={"Content-Type": "application/json"})  # fmt: skip
        _, headers, _ = request(host, port, "GET", "/accounts/login/")  # a browser's CSRF cookie
        cookie = headers["Set-Cookie"].split(";", 1)[0]
        form = request(host, port, "POST", "/accounts/login/", body=b"username=" + b"a" * TOO_BIG,
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "Cookie": cookie})  # fmt: skip

    assert deep[0] == 400 and json.loads(deep[2])["error"]["code"] == "parse_error"
    assert large[0] == 413 and json.loads(large[2])["error"]["code"] == "request_too_large"
    assert form[0] == 413 and b"more than this site accepts" in form[2]


# --- page parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["99999999999999999999", "²", "1.5", "-1", "\x00"])
@pytest.mark.parametrize("name", ["before", "after"])
def test_my_links_page_parameters_that_are_not_ids_show_the_first_page(client, name, value):
    user = UserFactory()
    LinkFactory(owner=user, code="mine1")
    client.force_login(user)

    response = client.get("/shortener/links/", {name: value})

    assert response.status_code == 200
    assert b"mine1" in response.content
