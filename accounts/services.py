"""Writes for accounts: creating users and issuing API tokens."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.models import User
from core.errors import ConflictError, InvalidInputError

USERNAME_TAKEN_MESSAGE = "A user with that username already exists."


def register_user(*, username: str, password: str) -> User:
    """Create an active, non-staff user with `password` hashed by the configured hasher.

    Raises InvalidInputError (400) with `fields` naming `username` (Django's User rules: at most
    150 characters of letters, digits and @/./+/-/_) and/or `password` (every configured
    password validator, run against this user so similarity to the username counts), with
    Django's messages saying why.

    Raises ConflictError (409, code `username_taken`, `fields.username`) when the username is
    taken ignoring case. That rule is the database's `lower(username)` unique constraint, not a
    prior SELECT: of any number of concurrent registrations of one name, exactly one commits.
    """
    user = User(username=User.normalize_username(username))
    errors: dict[str, list[str]] = {}
    try:
        # Field rules only; uniqueness is checked by the INSERT below, the one race-free place.
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        field, messages = next(iter(errors.items()))
        raise InvalidInputError(f"{field}: {messages[0]}", fields=errors)

    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        raise ConflictError(
            f"The username {user.username!r} is taken.",
            code="username_taken",
            fields={"username": [USERNAME_TAKEN_MESSAGE]},
        ) from None
    return user


def issue_token(*, user: User) -> str:
    """The API token of `user` (`Authorization: Token <key>`), created on first call.

    The same key is returned on every call until it is deleted (admin or a future rotation
    endpoint): signing in from a second client does not sign the first one out. Safe under
    concurrent calls for one user: the one-token-per-user unique constraint decides and the
    loser reads the winner's row (get_or_create).
    """
    token, _created = Token.objects.get_or_create(user=user)
    return token.key
