"""Browser pages for accounts. Sign-in and sign-out are Django's own views (accounts/urls.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import SignUpForm
from accounts.services import register_user
from core.errors import ConflictError, InvalidInputError

# register_user names API fields; the form shows password errors under the confirmation field.
_FORM_FIELD = {"username": "username", "password": "password2"}


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """GET: the sign-up form. POST: create the account, sign it in, go home; or the form again
    with errors (a username taken in any letter case is a form error, never a 500)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST) if request.method == "POST" else SignUpForm()
    if form.is_bound and form.is_valid():
        try:
            user = register_user(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except (ConflictError, InvalidInputError) as exc:
            # Lost a race the form's check could not see, or a rule the form does not run.
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(_FORM_FIELD.get(field), error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}. Your account is ready.")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


class SignInView(LoginView):
    """Django's LoginView, plus a confirmation message."""

    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Signed in as {form.get_user().username}.")
        return response


class SignOutView(LogoutView):
    """Django's LogoutView (POST only since Django 5), plus a confirmation message."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have signed out.")
        return response
