"""The auth API: register, obtain a token, and who am I.

`register` and `token` are open endpoints (no authentication, hence no CSRF): they are how a
client gets credentials in the first place. Everything else in the API authenticates with
`Authorization: Token <key>` (or the browser session).
"""

from __future__ import annotations

from django.contrib.auth.password_validation import (
    MinimumLengthValidator,
    get_default_password_validators,
)
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_for_credentials
from accounts.services import issue_token, register_user
from core.errors import InvalidInputError
from core.openapi import error_response
from core.serializers import StrictSerializer
from ratelimit.pages import limit_request

_TOO_SHORT = "This password is too short. It must contain at least 8 characters."
_MALFORMED = "Malformed JSON (`parse_error`), or a required field missing (`invalid`)."
PASSWORD_MAX_LENGTH = 4096  # stops megabyte "passwords" reaching the hasher


def _shortest_password() -> tuple[int, str]:
    """The configured MinimumLengthValidator's bound and its message, so the schema states the
    rule (`minLength`) and the API refuses a short password in the validator's own words."""
    for validator in get_default_password_validators():
        if isinstance(validator, MinimumLengthValidator):
            try:
                validator.validate("")
            except ValidationError as exc:
                return validator.min_length, exc.messages[0]
    return 1, "Give a password."


class NewPasswordField(serializers.CharField):
    """A password being chosen: its spaces kept, its length within the validators' minimum
    (stated in the schema) and PASSWORD_MAX_LENGTH; the other rules are register_user's."""

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        shortest, too_short = _shortest_password()
        super().__init__(
            min_length=shortest,
            max_length=PASSWORD_MAX_LENGTH,
            trim_whitespace=False,
            error_messages={"min_length": too_short},
            **kwargs,
        )


class UserRegisterApi(APIView):
    """POST /api/v1/auth/register: create an account and return it with its API token."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_scope = "auth_register"

    class InputSerializer(StrictSerializer):
        # Shape only; the username and password rules are register_user's (one place for both).
        username = serializers.CharField(max_length=150)
        password = NewPasswordField()  # keeps its spaces

        class Meta:
            ref_name = "Registration"

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField(help_text="64-bit id, as a string.")
        username = serializers.CharField()
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")

        class Meta:
            ref_name = "RegisteredUser"

    @extend_schema(
        operation_id="auth_register",
        summary="Register a user and get an API token",
        tags=["auth"],
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: error_response(
                "The username breaks Django's username rules or mixes scripts (Latin and "
                "Cyrillic letters in one name), or the password fails a password validator (too "
                "short, common, all digits, only spaces...; `fields` names which and says why). "
                + _MALFORMED,
                "invalid",
                f"password: {_TOO_SHORT}",
                {"password": [_TOO_SHORT]},
            ),
            409: error_response(
                "The username is taken, compared ignoring case (`username_taken`), or looks like "
                "a taken one: the same Unicode TR39 confusable skeleton, as 'aIice' with a "
                "capital i has alice's (`username_lookalike`).",
                "username_taken",
                "The username 'alice' is taken.",
                {"username": ["A user with that username already exists."]},
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = register_user(**data.validated_data)
        out = {"id": user.pk, "username": user.username, "token": issue_token(user=user)}
        return Response(self.OutputSerializer(out).data, status=status.HTTP_201_CREATED)


class TokenIssueApi(APIView):
    """POST /api/v1/auth/token: exchange a username and password for the user's API token.

    Wrong credentials are 400 `invalid_credentials`, not 401: like OAuth 2's token endpoint
    (RFC 6749 §5.2, `invalid_grant`), the request is what is wrong, and there is no
    authentication scheme to challenge with (`WWW-Authenticate`). The message does not say
    whether the username exists.
    """

    permission_classes = (AllowAny,)
    authentication_classes = ()
    # Password guessing: per client IP here (the throttle), per username in post(); the sign-in
    # pages count against the same two policies (accounts.views.limit_sign_in).
    throttle_scope = "login_ip"

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)

        class Meta:
            ref_name = "Credentials"

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")

        class Meta:
            ref_name = "Token"

    @extend_schema(
        operation_id="auth_token",
        summary="Exchange username and password for the API token",
        tags=["auth"],
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: error_response(
                "Wrong username or password, or an inactive account (`invalid_credentials`). "
                + _MALFORMED,
                "invalid_credentials",
                "Unable to sign in with the given username and password.",
            ),
            503: error_response(
                "Redis, which keeps the sign-in limits, does not answer: the endpoint refuses "
                "rather than allow unlimited password guesses. Retry after `Retry-After`.",
                "rate_limiter_unavailable",
                "The rate limiter is unavailable; try again shortly.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        limit_request(request, scope="login_username", username=username, what="sign-in attempts")
        user = user_for_credentials(**data.validated_data)
        if user is None:
            raise InvalidInputError(
                "Unable to sign in with the given username and password.",
                code="invalid_credentials",
            )
        return Response(self.OutputSerializer({"token": issue_token(user=user)}).data)


class CurrentUserDetailApi(APIView):
    """GET /api/v1/auth/me: the authenticated caller."""

    permission_classes = (IsAuthenticated,)

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField(help_text="64-bit id, as a string.")
        username = serializers.CharField()

        class Meta:
            ref_name = "CurrentUser"

    @extend_schema(
        operation_id="auth_me",
        summary="The authenticated caller",
        tags=["auth"],
        responses={
            200: OutputSerializer,
            401: error_response(
                "No credentials (`not_authenticated`) or an unknown token "
                "(`authentication_failed`).",
                "not_authenticated",
                "Authentication credentials were not provided.",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)
