"""Demo data for `manage.py seed_demo`: three users and a superuser with known passwords.

The passwords are public on purpose: this is a demo seed for a development machine, never for a
deployment (anyone who reads this file can sign in as these users). `seed_demo` refuses to run
with DEBUG off, and `check_deploy` (run by `manage.py check --deploy`, core/checks.py) fails
while any of these accounts still signs in with its demo password.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.contrib.auth.hashers import check_password
from django.core.checks import CheckMessage
from django.core.checks import Error as CheckError
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from accounts.models import User
from accounts.services import issue_token, register_user
from core.errors import ConflictError

DEMO_USERNAMES = ("alice", "bob", "carol")
DEMO_PASSWORD = "demo-pass-123"  # public on purpose: see the module docstring
DEMO_ADMIN = "admin"  # a superuser, so a newcomer can open /admin/ at once
DEMO_ADMIN_PASSWORD = "admin-pass-123"  # public on purpose, like DEMO_PASSWORD


class Writer(Protocol):
    def write(self, msg: str, /) -> Any: ...


def seed(*, stdout: Writer) -> None:
    """Create the demo users `alice`, `bob` and `carol` (password `demo-pass-123`) and an API
    token for each, and a superuser `admin` (password `admin-pass-123`), where missing; write
    one line per user with its credentials, on every run, and how to get an API token. Tokens
    are never written: a console log is kept and shared, and the token endpoint gives them to
    whoever has the password.

    Idempotent: an existing user (matched ignoring case) is kept as it is, password included,
    and only gets a token if it has none. Safe to run concurrently with itself: a lost race on
    creation reads the winner's row.
    """
    _seed_admin(stdout=stdout)
    for username in DEMO_USERNAMES:
        user = _existing(username)
        created = False
        if user is None:
            try:
                user = register_user(username=username, password=DEMO_PASSWORD)
                created = True
            except ConflictError:
                user = _existing(username)
                assert user is not None  # the constraint said it exists
        issue_token(user=user)
        if created:
            stdout.write(f"accounts: created {user.username} / {DEMO_PASSWORD}")
        else:
            stdout.write(
                f"accounts: kept {user.username} (password {DEMO_PASSWORD} unless changed)"
            )
    stdout.write(
        "accounts: an API token: POST /api/v1/auth/token with "
        f'{{"username": "alice", "password": "{DEMO_PASSWORD}"}} (README, "API in one minute")'
    )


def check_deploy() -> list[CheckMessage]:
    """`check --deploy` (core/checks.py): an error naming every active demo account that still
    signs in with its public demo password. Compares hashes without the upgrade-on-check that
    User.check_password does, so the check never writes. A database that does not answer is a
    warning (the check could not run), not a pass."""
    demo_passwords = {name: DEMO_PASSWORD for name in DEMO_USERNAMES}
    demo_passwords[DEMO_ADMIN] = DEMO_ADMIN_PASSWORD
    try:
        users = list(
            User.objects.filter(username__in=demo_passwords, is_active=True).order_by("username")
        )
    except DatabaseError as exc:
        return [
            CheckWarning(
                f"Could not check for demo accounts with public passwords: {exc}".strip(),
                hint="Run `manage.py check --deploy` where the database answers.",
                id="accounts.W001",
            )
        ]
    exposed = [
        user.username
        for user in users
        if check_password(demo_passwords[user.username], user.password)
    ]
    if not exposed:
        return []
    return [
        CheckError(
            f"The demo accounts {', '.join(exposed)} still have their public passwords "
            "(accounts/demo.py): anyone who has read the code can sign in as them.",
            hint=(
                "Give each one a password of its own (`manage.py changepassword <name>`) or "
                "delete it. `manage.py seed_demo` is for a development machine only."
            ),
            id="accounts.E001",
        )
    ]


def _seed_admin(*, stdout: Writer) -> None:
    admin = _existing(DEMO_ADMIN)
    if admin is None:
        try:
            admin = register_user(username=DEMO_ADMIN, password=DEMO_ADMIN_PASSWORD)
        except ConflictError:
            admin = _existing(DEMO_ADMIN)  # a concurrent seed created it
            assert admin is not None  # the constraint said it exists
        else:
            admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["is_staff", "is_superuser"])
            stdout.write(f"accounts: created admin {DEMO_ADMIN} / {DEMO_ADMIN_PASSWORD}  (/admin/)")
            return
    if not admin.is_superuser:  # someone signed up as "admin" before the first seed
        stdout.write(f"accounts: kept {admin.username}, not an administrator: not made by the seed")
        return
    stdout.write(
        f"accounts: kept admin {admin.username} (password {DEMO_ADMIN_PASSWORD} unless changed)"
        "  (/admin/)"
    )


def _existing(username: str) -> User | None:
    try:
        return User.objects.get_by_natural_key(username)  # ignores case, like the constraint
    except User.DoesNotExist:
        return None
