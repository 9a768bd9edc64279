"""Demo data for `manage.py seed_demo`: three users with known passwords and API tokens.

The shared password is public on purpose: this is a demo seed for a local or throwaway
deployment, never for a real one (anyone who reads this file can sign in as these users).
"""

from __future__ import annotations

from typing import Any, Protocol

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
    one line per user with its credentials.

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
        token = issue_token(user=user)
        if created:
            stdout.write(f"accounts: created {user.username} / {DEMO_PASSWORD}  API token {token}")
        else:
            stdout.write(
                f"accounts: kept {user.username} (password {DEMO_PASSWORD} unless changed)"
                f"  API token {token}"
            )


def _seed_admin(*, stdout: Writer) -> None:
    admin = _existing(DEMO_ADMIN)
    if admin is None:
        try:
            admin = register_user(username=DEMO_ADMIN, password=DEMO_ADMIN_PASSWORD)
        except ConflictError:
            return  # a concurrent seed created it
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])
        stdout.write(f"accounts: created admin {DEMO_ADMIN} / {DEMO_ADMIN_PASSWORD}  (/admin/)")
    else:
        stdout.write(f"accounts: kept admin {admin.username} (/admin/)")


def _existing(username: str) -> User | None:
    try:
        return User.objects.get_by_natural_key(username)  # ignores case, like the constraint
    except User.DoesNotExist:
        return None
