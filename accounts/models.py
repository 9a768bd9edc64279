from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower


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

    Usernames are unique ignoring case ("Alice" and "alice" are one account), enforced by the
    database so that two concurrent sign-ups cannot both win.
    """

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
        ]
