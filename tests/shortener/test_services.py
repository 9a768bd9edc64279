"""shortener.services: creation, bulk, update, delete — the rules, without HTTP."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection
from django.utils import timezone

from core import base62, snowflake
from core.errors import InvalidInputError
from shortener import services
from shortener.errors import AliasTakenError
from shortener.models import Link
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db


def test_a_link_gets_a_snowflake_id_and_a_random_seven_character_code():
    owner = UserFactory()

    first = services.create_link(owner=owner, long_url="https://example.com/a")
    second = services.create_link(owner=owner, long_url="https://example.com/a")

    assert snowflake.decode(first.id).created_at <= timezone.now()
    assert second.id > first.id
    assert len(first.code) == 7 and base62.is_base62(first.code)
    assert first.code != second.code  # same URL, two links: each click stream is its own
    assert not first.is_alias and first.redirect_type == 302


def test_anonymous_links_have_no_owner():
    link = services.create_link(owner=None, long_url="https://example.com/")

    assert link.owner is None
    assert Link.objects.get(code=link.code).owner_id is None


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(InvalidInputError) as caught:
        services.create_link(
            owner=None,
            long_url="ftp://x",
            alias="a",
            expires_at=timezone.now() - timedelta(minutes=1),
            max_clicks=0,
            redirect_type=303,
        )

    assert set(caught.value.fields) == {
        "long_url", "alias", "expires_at", "max_clicks", "redirect_type",
    }  # fmt: skip
    assert Link.objects.count() == 0  # never a half-written row


def test_a_taken_alias_is_a_conflict():
    services.create_link(owner=None, long_url="https://example.com/", alias="launch")

    with pytest.raises(AliasTakenError) as caught:
        services.create_link(owner=UserFactory(), long_url="https://example.org/", alias="launch")

    assert caught.value.status_code == 409
    assert caught.value.fields == {"alias": ["The alias 'launch' is taken."]}


def test_aliases_are_case_sensitive_like_codes():
    services.create_link(owner=None, long_url="https://example.com/", alias="Launch")

    assert services.create_link(owner=None, long_url="https://example.com/", alias="launch")


def test_a_random_code_collision_is_redrawn_not_an_error(monkeypatch):
    taken = LinkFactory(code="AAAAAAA")
    draws = iter(["AAAAAAA", "BBBBBBB"])
    monkeypatch.setattr(services, "random_code", lambda length: next(draws))

    link = services.create_link(owner=None, long_url="https://example.com/")

    assert link.code == "BBBBBBB" and link.id != taken.id


def test_the_password_is_stored_hashed():
    link = services.create_link(owner=None, long_url="https://example.com/", password="s3cret")

    assert link.password != "s3cret" and link.password.startswith("md5$")  # tests' fast hasher
    assert check_password("s3cret", link.password)


def test_update_changes_only_the_given_fields_and_can_remove_the_password():
    link = services.create_link(
        owner=None, long_url="https://example.com/", password="pw", max_clicks=5
    )

    services.update_link(link=link, long_url="https://example.org/new", password="")

    link.refresh_from_db()
    assert link.long_url == "https://example.org/new"
    assert link.password == "" and link.max_clicks == 5


def test_update_refuses_bad_values_and_changes_nothing():
    link = LinkFactory(long_url="https://example.com/")

    with pytest.raises(InvalidInputError) as caught:
        services.update_link(link=link, long_url="javascript:alert(1)", max_clicks=3)

    assert list(caught.value.fields) == ["long_url"]
    link.refresh_from_db()
    assert link.long_url == "https://example.com/" and link.max_clicks is None


def test_delete_frees_the_alias():
    link = services.create_link(owner=None, long_url="https://example.com/", alias="again")

    services.delete_link(link=link)

    assert services.create_link(owner=None, long_url="https://example.com/", alias="again")


def test_bulk_creates_valid_items_and_reports_each_bad_one_in_order():
    LinkFactory(code="taken")
    items = [
        {"long_url": "https://example.com/1"},
        {"long_url": "nope"},
        {"long_url": "https://example.com/3", "alias": "taken"},
        {"long_url": "https://example.com/4", "alias": "twice"},
        {"long_url": "https://example.com/5", "alias": "twice"},
    ]

    results = services.create_links_bulk(owner=UserFactory(), items=items)

    assert [r.status for r in results] == [201, 400, 409, 201, 409]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert results[1].error.fields == {
        "long_url": ["Only http:// and https:// URLs can be shortened."]
    }
    assert Link.objects.filter(code="twice").count() == 1
    assert Link.objects.count() == 3  # 'taken', item 0, item 3


def test_bulk_of_a_thousand_takes_a_handful_of_queries(django_assert_max_num_queries):
    owner = UserFactory()
    items = [{"long_url": f"https://example.com/{i}"} for i in range(1000)]

    with django_assert_max_num_queries(8):
        results = services.create_links_bulk(owner=owner, items=items)

    assert all(r.status == 201 for r in results)
    assert len({r.link.code for r in results}) == 1000


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_creates_of_one_alias_make_exactly_one_link():
    owner = UserFactory()

    def attempt(_: int) -> str:
        try:
            services.create_link(owner=owner, long_url="https://example.com/", alias="race")
            return "created"
        except AliasTakenError:
            return "taken"
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(50)))

    assert outcomes.count("created") == 1
    assert outcomes.count("taken") == 49
    assert Link.objects.filter(code="race").count() == 1
