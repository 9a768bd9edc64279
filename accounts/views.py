"""Browser pages for accounts. Sign-in and sign-out are Django's own views (accounts/urls.py).

Sign-in (this one and the admin's, config/urls.py) and sign-up are rate limited with the API's
policies (`login_ip` + `login_username`, `auth_register`: docs/ratelimit.md), counted before
the password hash; a refusal is the 429 page (core.middleware).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
from ratelimit.pages import limit_request

# register_user names API fields; the form shows password errors under the confirmation field.
_FORM_FIELD = {"username": "username", "password": "password2"}


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """GET: the sign-up form. POST: create the account, sign it in, go home; or the form again
    with errors (a username taken in any letter case is a form error, never a 500)."""
    if request.user.is_authenticated:
        return redirect("home")
    if request.method == "POST":  # before the form: register_user writes a row and a hash
        limit_request(request, scope="auth_register", what="sign-ups from your network")
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


def limit_sign_in(request: HttpRequest) -> None:
    """Count one sign-in attempt (a POST; GETs of the form are free) per client IP and per
    username, the token endpoint's policies. Call it before the password is checked: the hash is
    what a guesser makes us pay for. Raises RateLimitedError (the 429 page), or
    RateLimiterUnavailableError (503) while Redis is down: both policies fail closed."""
    if request.method != "POST":
        return
    what = "sign-in attempts"
    limit_request(request, scope="login_ip", what=what)
    username = request.POST.get("username", "")
    limit_request(request, scope="login_username", username=username, what=what)


def sign_in_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`view` (a sign-in form: ours, the admin's) behind limit_sign_in."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit_sign_in(request)
        return view(request, *args, **kwargs)

    return wrapper


class SignInView(LoginView):
    """Django's LoginView, rate limited (limit_sign_in), plus a confirmation message."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit_sign_in(request)
        return super().post(request, *args, **kwargs)

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
