"""Expiries stay where Python can read them back and show them in any time zone (core.bounds):
out of range is a 400 that says why, through the form and the API; a value at the edge (or one
past it that got in anyway) never makes a page 500; rows stored before the bound are repaired."""

import importlib
import re
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.db import DataError, IntegrityError, connection, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import bounds
from core.snowflake import next_id
from shortener.models import Link, PendingInvalidation
from shortener.views import RECENT_SESSION_KEY
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

WEST, EAST, FAR_EAST = "America/Los_Angeles", "Asia/Tokyo", "Pacific/Kiritimati"  # -8, +9, +14
MESSAGE = bounds.DATETIME_RANGE_MESSAGE
BEYOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # readable, but not in Tokyo


def field_errors(html: str, field: str) -> list[str]:
    block = re.search(rf'<ul class="field-errors" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# --- the form -----------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [WEST, EAST, FAR_EAST, "UTC"])
@pytest.mark.parametrize("typed", ["9999-12-31T23:59", "3000-01-02T00:00", "0001-01-01T00:00"])
def test_the_home_page_form_refuses_dates_out_of_range_in_any_time_zone(client, zone, typed):
    client.cookies["tz"] = zone

    response = client.post("/shortener/", {"long_url": "https://example.com/", "expires_at": typed})

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "expires_at") == [MESSAGE]
    assert not Link.objects.exists()


def test_the_last_second_of_the_range_is_accepted_as_typed_in_the_browsers_zone(signed_in):
    signed_in.cookies["tz"] = EAST

    response = signed_in.post(
        "/shortener/", {"long_url": "https://example.com/", "expires_at": "3000-01-01T08:59"}
    )

    assert response.status_code == 302
    assert Link.objects.get().expires_at == datetime(2999, 12, 31, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize("zone", [WEST, EAST])
def test_the_edit_form_refuses_the_end_of_the_calendar(signed_in, user, zone):
    link = LinkFactory(owner=user)
    signed_in.cookies["tz"] = zone

    response = signed_in.post(
        f"/shortener/links/{link.code}/edit/",
        {"long_url": link.long_url, "expires_at": "9999-12-31T23:59", "redirect_type": "302"},
    )

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "expires_at") == [MESSAGE]
    link.refresh_from_db()
    assert link.expires_at is None


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "9999-12-31T23:59:59+09:00"]
)
def test_the_api_refuses_an_expiry_past_the_range_naming_expires_at(api, value):
    response = api.post(
        "/api/v1/links", {"long_url": "https://example.com/", "expires_at": value}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"expires_at": [MESSAGE]}
    assert error["message"] == f"expires_at: {MESSAGE}"
    assert not Link.objects.exists()


def test_the_api_refuses_an_expiry_that_overflows_when_read_in_utc(api):
    response = api.post(
        "/api/v1/links",
        {"long_url": "https://example.com/", "expires_at": "9999-12-31T23:59:59-05:00"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["expires_at"]


def test_the_api_accepts_the_last_second_of_the_range(api):
    response = api.post(
        "/api/v1/links",
        {"long_url": "https://example.com/", "expires_at": "2999-12-31T23:59:59Z"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["expires_at"] == "2999-12-31T23:59:59Z"


def test_patch_and_bulk_refuse_an_expiry_past_the_range(api, user):
    link = LinkFactory(owner=user)

    patched = api.patch(
        f"/api/v1/links/{link.code}", {"expires_at": "9999-12-31T23:59:59Z"}, format="json"
    )
    bulk = api.post(
        "/api/v1/links/bulk",
        {"links": [{"long_url": "https://example.com/", "expires_at": "9999-12-31T23:59:59Z"}]},
        format="json",
    )

    assert patched.status_code == 400
    assert patched.json()["error"]["fields"] == {"expires_at": [MESSAGE]}
    (result,) = bulk.json()["results"]
    assert result["status"] == 400 and result["error"]["fields"] == {"expires_at": [MESSAGE]}


# --- pages with a stored value at (or past) the edge --------------------------------------------


def _owner_pages(client, code: str) -> dict[str, int]:
    session = client.session
    session[RECENT_SESSION_KEY] = [code]
    session.save()
    paths = [
        "/shortener/links/",
        f"/shortener/links/{code}/edit/",
        f"/shortener/links/{code}/stats/",
        f"/shortener/links/{code}/delete/",
        f"/shortener/?created={code}",
        f"/{code}+",
        f"/shortener/links/{code}/qr.svg",
    ]
    return {path: client.get(path).status_code for path in paths}


@pytest.mark.parametrize("zone", [EAST, FAR_EAST, WEST])
def test_a_stored_expiry_at_the_end_of_the_range_renders_every_page(signed_in, user, zone):
    link = LinkFactory(owner=user, expires_at=bounds.DATETIME_MAX)
    signed_in.cookies["tz"] = zone

    statuses = _owner_pages(signed_in, link.code)

    assert set(statuses.values()) == {200}, statuses
    html = signed_in.get("/shortener/links/").content.decode()
    local = "1 Jan 3000, 08:59" if zone == EAST else None
    assert local is None or f"until {local}" in html
    assert signed_in.get(f"/{link.code}").status_code == 302


def test_the_database_refuses_an_expiry_past_the_range_whoever_writes_it(user):
    """The admin, a script, raw SQL: none bypasses the bound (constraint link_expires_at_in_range,
    migration 0005, possible once 0003 had repaired the rows)."""
    with pytest.raises(IntegrityError, match="link_expires_at_in_range"), transaction.atomic():
        LinkFactory(owner=user, expires_at=BEYOND)
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert("year10k", "10000-01-01 07:59:00+00")


def test_the_admin_refuses_an_expiry_past_the_range_with_the_bounds_message(client, user):
    link = LinkFactory(owner=user, code="adminedge")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    form = client.get(f"/admin/shortener/link/{link.id}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"expires_at_0": "9999-12-31", "expires_at_1": "23:59:59", "owner": user.pk})

    response = client.post(f"/admin/shortener/link/{link.id}/change/", data)

    assert response.status_code == 200  # the form again, with the error
    assert bounds.DATETIME_RANGE_MESSAGE in response.content.decode()
    link.refresh_from_db()
    assert link.expires_at is None


@pytest.mark.parametrize("expires_at", [bounds.DATETIME_MAX])
def test_the_api_and_the_admin_list_a_link_at_the_edge(api, user, client, expires_at):
    link = LinkFactory(owner=user, expires_at=expires_at)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.cookies["tz"] = EAST

    listed = api.get("/api/v1/links")
    detail = api.get(f"/api/v1/links/{link.code}")
    changelist = client.get("/admin/shortener/link/")
    change = client.get(f"/admin/shortener/link/{link.id}/change/")
    deleted = api.delete(f"/api/v1/links/{link.code}")

    assert listed.status_code == 200
    assert listed.json()["results"][0]["expires_at"] == expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert detail.status_code == 200
    assert changelist.status_code == 200 and link.code in changelist.content.decode()
    assert change.status_code == 200
    assert deleted.status_code == 204


# --- the repair of rows stored before the bound -------------------------------------------------


@pytest.fixture
def migration():
    return importlib.import_module("shortener.migrations.0003_clamp_expires_at")


def _insert(code: str, expires_at: str | None) -> None:
    """A row straight in SQL: psycopg cannot even send a Python datetime of the year 10000."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO shortener_link (id, code, is_alias, long_url, redirect_type,
                   expires_at, password, disabled, clicks, bot_hits, created_at, updated_at)
               VALUES (%s, %s, false, 'https://example.com/', 302, %s::timestamptz, '', false,
                   0, 0, now(), now())""",
            [next_id(), code, expires_at],
        )


def _expiry_text(code: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires_at::text FROM shortener_link WHERE code = %s", [code])
        return cursor.fetchone()[0]


def test_the_migration_brings_stored_expiries_back_into_the_range(migration):
    with connection.cursor() as cursor:  # as before 0005 added the bound (rolled back after)
        cursor.execute("ALTER TABLE shortener_link DROP CONSTRAINT link_expires_at_in_range")
    _insert("year10k", "10000-01-01 07:59:00+00")  # 9999-12-31T23:59 typed in Los Angeles
    _insert("lastday", "9999-12-31 23:59:59+00")
    _insert("ancient", "0044-03-15 12:00:00+00 BC")
    _insert("normal", "2031-01-15 12:30:00+00")
    _insert("never", None)
    with pytest.raises(DataError, match="after year 10K"):  # what every page met
        Link.objects.get(code="year10k")

    with connection.schema_editor() as editor:
        changed = migration.clamp_expires_at(apps, editor)

    assert changed == 3
    expiries = dict(Link.objects.values_list("code", "expires_at"))
    assert expiries == {
        "year10k": bounds.DATETIME_MAX,
        "lastday": bounds.DATETIME_MAX,
        "ancient": bounds.DATETIME_MIN,
        "normal": datetime(2031, 1, 15, 12, 30, tzinfo=UTC),
        "never": None,
    }
    assert sorted(PendingInvalidation.objects.values_list("code", flat=True)) == [
        "ancient", "lastday", "year10k",
    ]  # fmt: skip
    assert _expiry_text("normal") == "2031-01-15 12:30:00+00"


def test_the_migration_uses_the_bounds_of_core_bounds(migration):
    assert datetime.fromisoformat(migration.DATETIME_MAX) == bounds.DATETIME_MAX
    assert datetime.fromisoformat(migration.DATETIME_MIN) == bounds.DATETIME_MIN
