from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import NON_FIELD_ERRORS

from accounts.models import User
from accounts.services import USERNAME_TAKEN_MESSAGE


class SignUpForm(UserCreationForm):
    """Django's sign-up form (username, password, confirmation) for our User.

    Its checks are the friendly first pass: Django's username rules, the password validators
    (errors on `password2`, Django's choice), and a case-insensitive "taken" check. The
    authoritative taken check is the database constraint that `register_user` hits; the view
    turns that ConflictError into the same form error.
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
