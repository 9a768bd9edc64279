"""`manage.py seed_demo`: development only, idempotent, and what it prints on every start."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from rest_framework.authtoken.models import Token

from accounts.models import User
from shortener.clicks import link_stats
from shortener.models import ClickEvent, Link
from tests.conftest import ROOT, _database_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True  # what `make run` sets; the test settings have it off


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_runs_every_apps_seed_and_is_idempotent(debug_on):
    first = seed()
    users = set(User.objects.values_list("username", flat=True))
    second = seed()

    assert {"alice", "bob", "carol", "admin"} <= users
    assert set(User.objects.values_list("username", flat=True)) == users
    assert "alice / demo-pass-123" in first
    assert "Demo data ready." in second
    codes = set(Link.objects.values_list("code", flat=True))
    assert codes == {"seed", "snowflake", "once", "moved"}
    assert "shortener: created /seed" in first
    assert "shortener: created" not in second  # nothing new the second time


def test_seed_demo_refuses_with_debug_off_and_writes_nothing(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        seed()

    assert not User.objects.exists()
    assert not Link.objects.exists()


@pytest.mark.django_db(transaction=True)  # the command runs in a process of its own
def test_seed_demo_with_debug_off_exits_non_zero_with_a_message():
    env = {**os.environ, "DEBUG": "false", "DATABASE_URL": _database_url(connection.settings_dict)}

    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "DEBUG is off" in result.stderr
    assert "make run" in result.stderr
    assert not User.objects.exists()


def test_every_start_prints_the_admin_password_and_how_to_get_a_token_not_the_tokens(debug_on):
    first = seed()
    second = seed()

    assert "accounts: created admin admin / admin-pass-123" in first
    assert "accounts: kept admin admin (password admin-pass-123 unless changed)" in second
    assert "accounts: kept alice (password demo-pass-123 unless changed)" in second
    for output in (first, second):
        assert "POST /api/v1/auth/token" in output
        for key in Token.objects.values_list("key", flat=True):
            assert key not in output


def test_the_demo_links_have_clicks_and_a_click_history_that_is_not_flat(debug_on):
    seed()

    for code in ("seed", "snowflake", "moved"):
        link = Link.objects.get(code=code)
        per_day = [day["clicks"] for day in link_stats(link=link)["by_day"]]
        events = ClickEvent.objects.filter(link=link)
        assert link.clicks == events.filter(is_bot=False).count() > 0
        assert link.bot_hits == events.filter(is_bot=True).count()
        assert sum(per_day) == link.clicks  # every event is within the last 30 days
        assert len(set(per_day)) > 3, per_day  # not flat
        assert events.exclude(referrer_host="").exists()
        assert link.created_at < events.order_by("occurred_at").first().occurred_at
    once = Link.objects.get(code="once")
    assert once.clicks == 0  # max_clicks=1: left for the newcomer to try


def test_seeding_twice_does_not_double_the_clicks(debug_on):
    seed()
    before = dict(Link.objects.values_list("code", "clicks"))
    events = ClickEvent.objects.count()

    seed()

    assert dict(Link.objects.values_list("code", "clicks")) == before
    assert ClickEvent.objects.count() == events


def test_an_old_demo_history_moves_forward_to_the_last_days_with_the_same_counts(debug_on):
    seed()
    link = Link.objects.get(code="seed")
    assert link.clicks > 0
    ClickEvent.objects.filter(link=link).update(occurred_at=F("occurred_at") - timedelta(days=90))
    assert sum(day["clicks"] for day in link_stats(link=link)["by_day"]) == 0

    seed()

    link.refresh_from_db()
    per_day = [day["clicks"] for day in link_stats(link=link)["by_day"]]
    assert sum(per_day) == link.clicks == ClickEvent.objects.filter(link=link, is_bot=False).count()
    assert len(set(per_day)) > 3, per_day
    assert per_day[-1] == 0  # history ends yesterday: nothing dated in the future
