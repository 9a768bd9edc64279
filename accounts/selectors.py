"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth import authenticate

from accounts.models import User
from accounts.usernames import username_skeleton


def user_for_credentials(*, username: str, password: str) -> User | None:
    """The active user with this username (ignoring case) and password, or None.

    Goes through Django's authentication backends, so the answer is the same as the browser
    sign-in's: inactive users get None, and an unknown username still costs one password hash
    (ModelBackend), so response time does not reveal which usernames exist.
    """
    user = authenticate(request=None, username=username, password=password)
    return user if isinstance(user, User) else None


def lookalike_username(*, username: str, exclude_pk: int | None = None) -> str | None:
    """The name of the user (other than `exclude_pk`) whose name looks like `username`, having
    its TR39 skeleton ("alice" for "aIice" with a capital i), or None. One indexed lookup."""
    skeleton = username_skeleton(User.normalize_username(username))
    found = User.objects.filter(username_skeleton=skeleton).exclude(pk=exclude_pk)
    return found.values_list("username", flat=True).first()
