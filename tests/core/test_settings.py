"""Settings come from the environment; production values pass `check --deploy` cleanly, unless
demo accounts still have their public passwords."""

import os
import secrets
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import global_settings
from django.core.management.base import OutputWrapper
from django.db import connection

from accounts import demo
from accounts.models import User
from tests.conftest import ROOT, _database_url

# check --deploy reads the database (accounts.demo.check_deploy): the tests' database, with
# what the test committed in it, never the developer's own (where `make run` seeded the demo).
pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "sd.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def _check_deploy(env: dict) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process (tests/e2e/conftest.py);
    # a deployment never has it, and check --deploy rightly refuses it.
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    database = {"DATABASE_URL": _database_url(connection.settings_dict)}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **database, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_has_no_warnings_with_production_environment():
    result = _check_deploy(PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_local_defaults():
    # The defaults are for a laptop on plain http; they must not pass as production settings.
    result = _check_deploy({})

    assert result.returncode != 0
    for warning in ("W004", "W008", "W009", "W012", "W016"):
        assert f"security.{warning}" in result.stderr


def test_check_deploy_fails_while_a_demo_account_keeps_its_public_password(settings):
    # The real hashers, as a deployment has them (the tests' MD5 is unknown to the subprocess).
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    demo.seed(stdout=OutputWrapper(StringIO()))
    for username in ("alice", "bob", "carol"):
        user = User.objects.get(username=username)
        user.set_password(f"{username}-own-passphrase")
        user.save()

    still_demo = _check_deploy(PRODUCTION)
    admin = User.objects.get(username="admin")
    admin.set_password("admin-own-passphrase")
    admin.save()
    changed = _check_deploy(PRODUCTION)

    assert still_demo.returncode != 0
    assert "accounts.E001" in still_demo.stderr
    assert "admin" in still_demo.stderr and "alice" not in still_demo.stderr
    assert changed.returncode == 0, changed.stderr
    assert "no issues" in changed.stdout


def test_check_deploy_says_so_when_it_cannot_read_the_demo_accounts():
    url = _database_url({**connection.settings_dict, "NAME": "no_such_database_h3"})

    result = _check_deploy({**PRODUCTION, "DATABASE_URL": url})

    assert result.returncode != 0  # --fail-level WARNING: a check that could not run is no pass
    assert "accounts.W001" in result.stderr
