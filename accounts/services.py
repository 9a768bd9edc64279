"""Writes for accounts: creating users and issuing API tokens."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.usernames import LOOKALIKE_MESSAGE
from core.errors import ConflictError, InvalidInputError

USERNAME_TAKEN_MESSAGE = "A user with that username already exists."
SKELETON_CONSTRAINT = "accounts_user_username_skeleton_unique"


def register_user(*, username: str, password: str) -> User:
    """Create an active, non-staff user with `password` hashed by the configured hasher.

    Raises InvalidInputError (400) with `fields` naming `username` (Django's User rules: at most
    150 characters of letters, digits and @/./+/-/_) and/or `password` (every configured
    password validator, run against this user so similarity to the username counts), with
    Django's messages saying why.

    The username may not mix scripts (400, `fields.username`): "alice" with a Cyrillic "a".

    Raises ConflictError (409, `fields.username`) when the username is taken ignoring case (code
    `username_taken`) or looks like a taken one, its TR39 skeleton being another user's (code
    `username_lookalike`: "aIice" with a capital i beside "alice"). Both rules are the
    database's unique constraints, not a prior SELECT: of any number of concurrent registrations
    of one name, or of look-alike names, exactly one commits.
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
    except IntegrityError as exc:
        if _violated_constraint(exc) == SKELETON_CONSTRAINT and not _taken(user.username):
            raise ConflictError(
                f"The username {user.username!r} looks too much like an existing one.",
                code="username_lookalike",
                fields={"username": [LOOKALIKE_MESSAGE]},
            ) from None
        raise ConflictError(
            f"The username {user.username!r} is taken.",
            code="username_taken",
            fields={"username": [USERNAME_TAKEN_MESSAGE]},
        ) from None
    return user


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reports (psycopg's diagnostics), if any."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _taken(username: str) -> bool:
    """Whether `username` itself is taken (ignoring case). An insert that breaks several unique
    constraints reports one of them, and a name taken outright is also its own look-alike: say
    "taken" then, the plainer truth."""
    try:
        User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        return False
    return True


def issue_token(*, user: User) -> str:
    """The API token of `user` (`Authorization: Token <key>`), created on first call.

    The same key is returned on every call until it is deleted (admin or a future rotation
    endpoint): signing in from a second client does not sign the first one out. Safe under
    concurrent calls for one user: the one-token-per-user unique constraint decides and the
    loser reads the winner's row (get_or_create).
    """
    token, _created = Token.objects.get_or_create(user=user)
    return token.key
