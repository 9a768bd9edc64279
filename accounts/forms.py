from typing import Any

from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from accounts.models import User
from accounts.selectors import lookalike_username
from accounts.services import USERNAME_TAKEN_MESSAGE
from accounts.usernames import LOOKALIKE_MESSAGE


class LookalikeUsernameMixin:
    """A user form's clean_username also refuses a name that looks like another user's (its
    TR39 skeleton is theirs: accounts/usernames.py). A friendly first pass: the authoritative
    check is the skeleton's unique constraint, at the INSERT."""

    cleaned_data: dict[str, Any]
    instance: User

    def clean_username(self) -> str | None:
        parent = getattr(super(), "clean_username", None)
        username = parent() if parent is not None else self.cleaned_data.get("username")
        if not username:
            return username
        existing = lookalike_username(username=username, exclude_pk=self.instance.pk)
        if existing is not None and existing.casefold() == username.casefold():
            # Committed by a concurrent sign-up since the case-insensitive check above.
            raise ValidationError(USERNAME_TAKEN_MESSAGE, code="username_taken")
        if existing is not None:
            raise ValidationError(LOOKALIKE_MESSAGE, code="username_lookalike")
        return username


class SignUpForm(LookalikeUsernameMixin, UserCreationForm):
    """Django's sign-up form (username, password, confirmation) for our User.

    Its checks are the friendly first pass: Django's username rules, one script per name
    (User.clean), the password validators (errors on `password2`, Django's choice), and the
    "taken" checks: ignoring case, and by look-alike skeleton. The authoritative taken checks
    are the database constraints that `register_user` hits; the view turns that ConflictError
    into the same form error.
    """

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)

    def _post_clean(self) -> None:
        super()._post_clean()
        # When another sign-up of the name commits between clean_username's check and model
        # validation, model validation reports it twice: the exact-case unique field error and
        # the lower(username) constraint's error, which is form-wide (the constraint is an
        # expression, not a field). Show it once, on the username field.
        non_field = self._errors.get(NON_FIELD_ERRORS)
        if not non_field:
            return
        errors = non_field.as_data()
        others = [error for error in errors if error.code != "username_taken"]
        if len(others) == len(errors):
            return
        if others:
            self._errors[NON_FIELD_ERRORS] = self.error_class(
                others, error_class="nonfield", renderer=self.renderer
            )
        else:
            del self._errors[NON_FIELD_ERRORS]
        if "username" not in self._errors:
            self.add_error("username", USERNAME_TAKEN_MESSAGE)
