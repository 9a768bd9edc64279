from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from accounts.usernames import LOOKALIKE_MESSAGE, username_skeleton, validate_single_script


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username: str | None) -> "User":
        """The user whose username equals `username` ignoring case, as the database's
        `lower(username)` unique constraint compares them: "Alice" signs in to "alice".

        Raises User.DoesNotExist. The constraint guarantees at most one match, and the
        comparison runs in PostgreSQL (not Python's str.lower) so both sides use one rule
        and the constraint's expression index serves the lookup.
        """
        return self.alias(username_lower=Lower(self.model.USERNAME_FIELD)).get(
            username_lower=Lower(models.Value(username))
        )


class User(AbstractUser):
    """The project's user. A custom model from day one, as Django advises, so that later issues
    can add fields (display name, bio for the timeline) without a painful swap.

    Usernames are unique ignoring case ("Alice" and "alice" are one account) and by their TR39
    skeleton ("aIice" with a capital i looks like "alice": accounts/usernames.py), both enforced
    by the database so that two concurrent sign-ups cannot both win. A name mixes no scripts
    (clean(): every form and register_user refuse "alice" spelt with a Cyrillic "a", U+0430).
    """

    # Derived from username, kept in step by save(). NULL only for a user that migration 0003
    # found to look like an older one: kept as it was (never renamed behind anyone's back), the
    # older user holds the skeleton, so no new look-alike of either can sign up.
    username_skeleton = models.TextField(blank=True, null=True, editable=False)  # noqa: DJ001

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        db_table = "accounts_user"
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_code="username_taken",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                fields=["username_skeleton"],
                name="accounts_user_username_skeleton_unique",
                violation_error_code="username_lookalike",
                violation_error_message=LOOKALIKE_MESSAGE,
            ),
        ]

    def clean(self) -> None:
        super().clean()  # NFKC-normalises the username
        try:
            validate_single_script(self.username)
        except ValidationError as exc:
            raise ValidationError({"username": exc.error_list}) from None

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The skeleton must never lag the username, whoever writes the row (sign-up, the admin,
        # createsuperuser, factories): a derived column kept here, not a rule. (QuerySet.update
        # and bulk_create bypass save(): set username_skeleton yourself there.)
        if self._state.adding or self.username_skeleton is not None:
            self.username_skeleton = username_skeleton(self.username)
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "username" in update_fields:
                kwargs["update_fields"] = {*update_fields, "username_skeleton"}
        super().save(*args, **kwargs)
