from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from shortener.models import Link

pytestmark = pytest.mark.django_db


def test_seed_demo_runs_every_apps_seed_and_is_idempotent():
    first, second = StringIO(), StringIO()

    call_command("seed_demo", stdout=first)
    users = set(User.objects.values_list("username", flat=True))
    call_command("seed_demo", stdout=second)

    assert {"alice", "bob", "carol", "admin"} <= users
    assert set(User.objects.values_list("username", flat=True)) == users
    assert "alice / demo-pass-123" in first.getvalue()
    assert "Demo data ready." in second.getvalue()
    codes = set(Link.objects.values_list("code", flat=True))
    assert codes == {"seed", "snowflake", "once", "moved"}
    assert "shortener: created /seed" in first.getvalue()
    assert "shortener:" not in second.getvalue()  # nothing new the second time
