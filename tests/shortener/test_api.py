"""/api/v1/links through HTTP: every status code, the error shape, pagination."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shortener.models import Link
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _error(response) -> dict:
    return response.json()["error"]


def test_create_returns_201_with_the_documented_fields(api):
    response = api.post(
        "/api/v1/links",
        {"long_url": "https://example.com/x", "alias": "launch", "max_clicks": 3},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], str) and int(body["id"]) > 0
    assert body["code"] == "launch"
    assert body["short_url"] == "http://testserver/launch"
    assert body["long_url"] == "https://example.com/x"
    assert body["max_clicks"] == 3 and body["expires_at"] is None
    assert body["redirect_type"] == 302 and body["clicks"] == 0 and body["state"] == "active"
    assert body["preview_url"] == "http://testserver/launch+"
    assert body["created_at"]


def test_create_requires_a_token():
    response = APIClient().post("/api/v1/links", {"long_url": "https://example.com"}, format="json")

    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"long_url": "javascript:alert(1)"}, "long_url"),
        ({}, "long_url"),
        ({"long_url": "https://example.com", "alias": "api"}, "alias"),
        ({"long_url": "https://example.com", "redirect_type": 303}, "redirect_type"),
        ({"long_url": "https://example.com", "max_clicks": 0}, "max_clicks"),
        ({"long_url": "https://example.com", "expires_at": "yesterday"}, "expires_at"),
        ({"long_url": "https://example.com", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.post("/api/v1/links", body, format="json")

    assert response.status_code == 400
    assert field in _error(response)["fields"]
    assert Link.objects.count() == 0


def test_an_unknown_field_is_a_400_naming_it_not_dropped_in_silence(api):
    # A misspelt "password" must not create a link without the password it asked for.
    response = api.post(
        "/api/v1/links",
        {"long_url": "https://example.com/secret", "pasword": "sesame"},
        format="json",
    )

    assert response.status_code == 400
    error = _error(response)
    assert list(error["fields"]) == ["pasword"]
    assert error["message"].startswith("pasword: Unknown field. The fields are: long_url, alias")
    assert "password" in error["message"]
    assert Link.objects.count() == 0


def test_a_taken_alias_is_a_409(api):
    LinkFactory(code="taken")

    response = api.post(
        "/api/v1/links", {"long_url": "https://a.example", "alias": "taken"}, format="json"
    )

    assert response.status_code == 409
    assert _error(response)["code"] == "alias_taken"


def test_list_shows_only_my_links_newest_first_with_a_cursor(api, user):
    mine = [LinkFactory(owner=user) for _ in range(3)]
    LinkFactory()  # someone else's

    first = api.get("/api/v1/links?limit=2").json()
    second = api.get(first["next"]).json()

    codes = [link["code"] for link in first["results"] + second["results"]]
    assert codes == [link.code for link in reversed(mine)]
    assert second["next"] is None


def test_a_cursor_that_is_not_ours_is_a_400_naming_it(api):
    response = api.get("/api/v1/links?cursor=abc")

    assert response.status_code == 400
    assert list(_error(response)["fields"]) == ["cursor"]


def test_list_costs_a_fixed_number_of_queries(api, user, django_assert_max_num_queries):
    for _ in range(20):
        LinkFactory(owner=user)

    with django_assert_max_num_queries(3):  # token, page, (no per-link queries)
        response = api.get("/api/v1/links")

    assert len(response.json()["results"]) == 20


def test_get_patch_delete_my_link(api, user):
    link = LinkFactory(owner=user, code="mine1")

    assert api.get("/api/v1/links/mine1").json()["code"] == "mine1"
    patched = api.patch(
        "/api/v1/links/mine1",
        {"long_url": "https://example.org/n", "disabled": True},
        format="json",
    )
    deleted = api.delete("/api/v1/links/mine1")

    assert patched.status_code == 200
    assert patched.json()["long_url"] == "https://example.org/n"
    assert patched.json()["state"] == "disabled"
    assert deleted.status_code == 204
    assert not Link.objects.filter(id=link.id).exists()


def test_someone_elses_link_is_a_404_for_every_verb(api):
    LinkFactory(code="theirs")

    for response in (
        api.get("/api/v1/links/theirs"),
        api.patch("/api/v1/links/theirs", {"disabled": True}, format="json"),
        api.delete("/api/v1/links/theirs"),
        api.get("/api/v1/links/theirs/stats"),
    ):
        assert response.status_code == 404
        assert _error(response)["code"] == "link_not_found"
    assert Link.objects.filter(code="theirs", disabled=False).exists()


@pytest.mark.parametrize("path", ["%00", "a%00b", "ab", "x" * 33, "%C3%BC", "a%20b"])
def test_a_string_that_cannot_be_a_code_is_a_404_without_a_query(api, path):
    # A NUL byte reached PostgreSQL, which refuses it in text: a 500 before.
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("get", "/stats")):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(api, method)(f"/api/v1/links/{path}{suffix}", {}, format="json")
        assert not [q for q in queries.captured_queries if "shortener_link" in q["sql"]]
        assert response.status_code == 404, (method, suffix)
        assert _error(response)["code"] == "link_not_found"


def test_patch_cannot_change_the_code_and_an_empty_one_changes_nothing(api, user):
    LinkFactory(owner=user, code="fixed")

    renamed = api.patch("/api/v1/links/fixed", {"alias": "other"}, format="json")
    empty = api.patch("/api/v1/links/fixed", {}, format="json")
    bad = api.patch("/api/v1/links/fixed", {"expires_at": "2001-01-01T00:00:00Z"}, format="json")

    recoded = api.patch("/api/v1/links/fixed", {"code": "other"}, format="json")
    typo = api.patch("/api/v1/links/fixed", {"max_click": 5}, format="json")

    assert renamed.status_code == 400 and "alias" in _error(renamed)["fields"]
    assert recoded.status_code == 400 and "cannot change" in _error(recoded)["message"]
    assert typo.status_code == 400 and list(_error(typo)["fields"]) == ["max_click"]
    assert empty.status_code == 200 and empty.json()["code"] == "fixed"
    assert bad.status_code == 400 and "expires_at" in _error(bad)["fields"]


def test_state_shows_expired_links(api, user):
    link = LinkFactory(owner=user, expires_at=timezone.now() - timedelta(seconds=1))

    assert api.get(f"/api/v1/links/{link.code}").json()["state"] == "expired"


def test_bulk_returns_one_result_per_item(api):
    LinkFactory(code="taken")
    body = {"links": [
        {"long_url": "https://example.com/1"},
        {"long_url": "mailto:a@b.c"},
        {"long_url": "https://example.com/3", "alias": "taken"},
    ]}  # fmt: skip

    response = api.post("/api/v1/links/bulk", body, format="json")

    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["failed"]) == (1, 2)
    assert [r["status"] for r in data["results"]] == [201, 400, 409]
    assert data["results"][0]["link"]["long_url"] == "https://example.com/1"
    assert data["results"][1]["error"]["fields"] == {
        "long_url": ["Only http:// and https:// URLs can be shortened."]
    }
    assert data["results"][2]["error"]["code"] == "alias_taken"


def test_bulk_over_the_limit_or_empty_is_a_400(api, settings):
    settings.SHORTENER_BULK_MAX = 3
    four = {"links": [{"long_url": f"https://example.com/{i}"} for i in range(4)]}

    too_many = api.post("/api/v1/links/bulk", four, format="json")
    empty = api.post("/api/v1/links/bulk", {"links": []}, format="json")
    malformed = api.post(
        "/api/v1/links/bulk", {"links": [{"long_url": 7, "max_clicks": "x"}]}, format="json"
    )
    unknown = api.post(
        "/api/v1/links/bulk", {"links": [{"long_url": "https://example.com/", "tags": ["x"]}]},
        format="json",
    )  # fmt: skip

    assert too_many.status_code == 400 and "At most 3" in _error(too_many)["message"]
    assert empty.status_code == 400
    assert malformed.status_code == 400
    assert unknown.status_code == 400 and "tags" in str(_error(unknown)["fields"])
    assert Link.objects.count() == 0


def test_stats_have_the_documented_shape(api, user):
    LinkFactory(owner=user, code="stat1")

    body = api.get("/api/v1/links/stat1/stats").json()

    assert set(body) == {"clicks", "by_day", "top_referrers", "devices", "bot_hits"}
    assert body["clicks"] == 0 and body["bot_hits"] == 0
    assert len(body["by_day"]) == 30


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_api_creates_of_one_alias_give_one_201(user):
    token = Token.objects.create(user=user).key

    def attempt(_: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            body = {"long_url": "https://example.com/", "alias": "same"}
            return client.post("/api/v1/links", body, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(attempt, range(50)))

    assert statuses.count(201) == 1
    assert statuses.count(409) == 49
    assert Link.objects.filter(code="same").count() == 1


def test_bulk_hashes_at_most_the_documented_number_of_passwords_per_request(api, settings):
    limit = settings.SHORTENER_BULK_MAX_PASSWORDS
    item = {"long_url": "https://example.com/", "password": "s3cret"}

    over = api.post("/api/v1/links/bulk", {"links": [item] * (limit + 1)}, format="json")
    at = api.post("/api/v1/links/bulk", {"links": [item] * limit}, format="json")

    assert over.status_code == 400
    assert list(_error(over)["fields"]) == ["links"]
    assert f"At most {limit} links with a password" in _error(over)["message"]
    assert at.status_code == 200 and at.json()["created"] == limit
    assert Link.objects.count() == limit
