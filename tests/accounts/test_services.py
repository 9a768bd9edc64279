"""accounts.services, accounts.selectors and accounts.demo: the rules, without HTTP."""

from io import StringIO

import pytest
from django.core.management.base import OutputWrapper
from rest_framework.authtoken.models import Token

from accounts import demo
from accounts.models import User
from accounts.selectors import user_for_credentials
from accounts.services import issue_token, register_user
from core.errors import ConflictError, InvalidInputError
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_register_user_saves_an_ordinary_user_with_a_hashed_password():
    user = register_user(username="dana", password=PASSWORD)

    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    assert not user.is_superuser


def test_register_user_normalizes_the_username_to_nfkc():
    # Fullwidth "Dana" (U+FF24 ...) and "Dana" are one name once normalized: one account.
    user = register_user(username="\uff24\uff41\uff4e\uff41", password=PASSWORD)

    assert user.username == "Dana"
    with pytest.raises(ConflictError):
        register_user(username="dana", password=PASSWORD)


def test_register_user_reports_username_and_password_problems_together():
    with pytest.raises(InvalidInputError) as caught:
        register_user(username="no spaces", password="123")

    assert set(caught.value.fields) == {"username", "password"}


def test_register_user_refuses_a_name_taken_in_another_case_with_username_taken():
    register_user(username="Dana", password=PASSWORD)

    with pytest.raises(ConflictError) as caught:
        register_user(username="dANA", password=PASSWORD)

    assert caught.value.code == "username_taken"
    assert caught.value.status_code == 409
    assert list(caught.value.fields) == ["username"]


def test_issue_token_returns_the_same_key_every_time():
    user = UserFactory()

    assert issue_token(user=user) == issue_token(user=user)
    assert Token.objects.filter(user=user).count() == 1


def test_user_for_credentials_finds_the_user_ignoring_username_case():
    user = UserFactory(username="Dana")

    assert user_for_credentials(username="dana", password=PASSWORD) == user
    assert user_for_credentials(username="DANA", password=PASSWORD) == user


def test_user_for_credentials_is_none_for_a_wrong_password_unknown_user_or_inactive_user():
    UserFactory(username="dana")
    UserFactory(username="sleepy", is_active=False)

    assert user_for_credentials(username="dana", password="nope") is None
    assert user_for_credentials(username="nobody", password=PASSWORD) is None
    assert user_for_credentials(username="sleepy", password=PASSWORD) is None


def test_demo_seed_creates_three_users_with_tokens_and_prints_their_credentials():
    out = StringIO()

    demo.seed(stdout=OutputWrapper(out))

    for username in ("alice", "bob", "carol"):
        user = User.objects.get(username=username)
        assert user.check_password(demo.DEMO_PASSWORD)
        key = Token.objects.get(user=user).key
        assert f"{username} / {demo.DEMO_PASSWORD}" in out.getvalue()
        assert key not in out.getvalue()  # tokens stay out of the console log
    admin = User.objects.get(username=demo.DEMO_ADMIN)
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(demo.DEMO_ADMIN_PASSWORD)
    assert f"{demo.DEMO_ADMIN} / {demo.DEMO_ADMIN_PASSWORD}" in out.getvalue()


def test_demo_seed_twice_changes_nothing_and_keeps_a_changed_password():
    demo.seed(stdout=OutputWrapper(StringIO()))
    alice = User.objects.get(username="alice")
    alice.set_password("changed-by-alice")
    alice.save()
    tokens = dict(Token.objects.values_list("user__username", "key"))

    out = StringIO()
    demo.seed(stdout=OutputWrapper(out))

    assert User.objects.count() == 4  # alice, bob, carol and admin
    assert dict(Token.objects.values_list("user__username", "key")) == tokens
    assert User.objects.get(username="alice").check_password("changed-by-alice")
    assert out.getvalue().count("kept") == 4


def test_admin_lists_and_adds_users(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/user/add/").status_code == 200


# --- look-alike usernames, blank passwords ------------------------------------------------------


def test_register_user_stores_the_username_skeleton():
    user = register_user(username="a1ice", password=PASSWORD)

    user.refresh_from_db()
    assert user.username_skeleton == "alice"


@pytest.mark.parametrize(
    ("existing", "lookalike"),
    [
        ("alice", "aIice"),  # capital i for l
        ("alice", "a1ice"),  # digit one for l
        ("bob", "b\u043eb"),  # refused already as mixed script; here the rule is the skeleton
        ("ace", "\u0430\u0441\u0435"),  # all Cyrillic: one script, alice's trick for "ace"
        ("modem", "rnodern"),  # r n for m
    ],
)
def test_register_user_refuses_a_name_that_looks_like_a_taken_one(existing, lookalike):
    register_user(username=existing, password=PASSWORD)

    with pytest.raises((ConflictError, InvalidInputError)) as caught:
        register_user(username=lookalike, password=PASSWORD)

    assert list(caught.value.fields) == ["username"]
    assert User.objects.count() == 1


def test_a_whole_script_look_alike_is_a_409_username_lookalike():
    register_user(username="ace", password=PASSWORD)

    with pytest.raises(ConflictError) as caught:
        register_user(username="\u0430\u0441\u0435", password=PASSWORD)

    assert caught.value.code == "username_lookalike"


@pytest.mark.parametrize("name", ["\u0430lice", "b\u043eb", "\u0391laskaJazz", "ab\u06612"])
def test_register_user_refuses_names_that_mix_scripts(name):
    with pytest.raises(InvalidInputError) as caught:
        register_user(username=name, password=PASSWORD)

    assert list(caught.value.fields) == ["username"]
    assert "Use letters from one alphabet only" in caught.value.fields["username"][0]


@pytest.mark.parametrize(
    "name", ["dana", "Zoë", "Δημήτρης", "Дмитрий", "東京とうきょう", "e2e-dana_1"]
)
def test_register_user_accepts_names_in_one_script(name):
    assert register_user(username=name, password=PASSWORD).username == name


def test_a_factory_or_admin_rename_keeps_the_skeleton_in_step():
    user = UserFactory(username="alice")
    assert user.username_skeleton == "alice"

    user.username = "bob"
    user.save(update_fields=["username"])

    user.refresh_from_db()
    assert user.username_skeleton == "bob"


def test_the_migration_backfill_keeps_the_older_of_two_look_alikes_and_renames_nobody():
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("accounts.migrations.0003_username_skeleton")
    older = UserFactory(username="alice")
    # Signed up before the rule: a look-alike without a skeleton (bulk_create skips save()).
    [newer] = User.objects.bulk_create([User(username="aIice")])
    User.objects.update(username_skeleton=None)

    backfill.backfill_skeletons(apps, None)

    assert User.objects.get(pk=older.pk).username_skeleton == "alice"
    assert User.objects.get(pk=newer.pk).username_skeleton is None
    assert User.objects.get(pk=newer.pk).username == "aIice"
    with pytest.raises(ConflictError):
        register_user(username="a1ice", password=PASSWORD)


@pytest.mark.parametrize("password", [" " * 20, "\n\t ", "\u3000" * 10, "\u200b" * 12])
def test_register_user_refuses_a_password_of_only_whitespace_or_invisible_characters(password):
    with pytest.raises(InvalidInputError) as caught:
        register_user(username="dana", password=password)

    assert any(
        m.startswith("This password is only spaces.") for m in caught.value.fields["password"]
    )


def test_spaces_inside_a_password_are_fine():
    assert register_user(username="dana", password="  correct horse battery  ").check_password(
        "  correct horse battery  "
    )
