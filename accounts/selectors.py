"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth import authenticate

from accounts.models import User


def user_for_credentials(*, username: str, password: str) -> User | None:
    """The active user with this username (ignoring case) and password, or None.

    Goes through Django's authentication backends, so the answer is the same as the browser
    sign-in's: inactive users get None, and an unknown username still costs one password hash
    (ModelBackend), so response time does not reveal which usernames exist.
    """
    user = authenticate(request=None, username=username, password=password)
    return user if isinstance(user, User) else None
