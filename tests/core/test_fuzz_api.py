"""Property-based fuzzing of every operation in /api/schema/ (schemathesis), in-process through
the WSGI application against the real test database and Redis (issue #11: the schema tells the
truth, so generated clients and fuzzers agree with the server).

For every generated request, as a user with a token and anonymously: no 5xx; a documented status
with a body and headers that match the schema; an error body in the one shape of docs/api.md,
"Errors"; and no refusal of a schema-valid request for a reason the schema could have stated
(an unknown field, a length, a range). Refusals by rules a client cannot know (a taken alias, a
blocked host, a common password) are the API's business, hence schemathesis'
`positive_data_acceptance` is off; so is `negative_data_rejection`, since DRF's fields coerce
(`"max_clicks": "5"` is 5) and accepting more than the schema promises breaks no client.

Deterministic (derandomized, no example database) and bounded (max_examples per operation).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from config.wsgi import application
from shortener.models import Link
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
schema.config.checks.update(
    excluded_check_names=["positive_data_acceptance", "negative_data_rejection"]
)

OWN_CODE = "fuzz-own"  # a link of the fuzzing user: {code} sometimes names a real one

# Deeper runs locally: FUZZ_MAX_EXAMPLES=500 pytest tests/core/test_fuzz_api.py
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))

FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases every run: a CI failure reproduces locally
    database=None,
    deadline=None,  # a cold Redis script or a password hash is slow, not wrong
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # `db`: every case runs in the test's transaction
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction() -> Iterator[None]:
    """Django's WSGI handler closes the database connection around each request unless it is
    in autocommit, which inside the test's transaction it never is, so the next query fails.
    Django's test client disconnects the same receiver for the same reason."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def _generous_limits(settings) -> None:
    """Every policy raised far past what one run sends: the token endpoint's 60 per 5 minutes
    would otherwise answer most cases with a 429. test_a_rate_limited_answer_conforms keeps a
    real 429 under the checks."""
    settings.RATELIMIT_POLICIES = {
        scope: {
            **policy,
            "limit": 1_000_000,
            **({"burst": 1_000_000} if "burst" in policy else {}),
        }
        for scope, policy in settings.RATELIMIT_POLICIES.items()
    }


@pytest.fixture
def token(_generous_limits) -> str:
    user = UserFactory()
    LinkFactory(owner=user, code=OWN_CODE)
    return Token.objects.create(user=user).key


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters or "code" not in path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, "code": OWN_CODE}])


def one_error_shape(ctx, response, case) -> None:
    """docs/api.md, "Errors": {"error": {"code", "message", "fields"}}, with `fields` one flat
    object from a path to a non-empty list of messages."""
    if response.status_code < 400:
        return
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], dict), error
    for path, messages in error["fields"].items():
        assert isinstance(messages, list) and messages, error
        assert all(isinstance(message, str) and message for message in messages), (path, error)


# DRF's words for a refusal of shape: each names a rule the schema can state. A schema-valid
# request refused with one of them means the schema left that rule out.
_SHAPE_REFUSALS = (
    "Unknown field",
    "This field is required",
    "This field may not be null",
    "This field may not be blank",
    "Ensure this field has",  # max_length / min_length
    "Ensure this value is",  # max_value / min_value
    "is not a valid choice",
    "Not a valid string",
    "A valid integer is required",
    "Must be a valid boolean",
    "Datetime has wrong format",
)


def no_refusal_the_schema_could_state(ctx, response, case) -> None:
    """A request schemathesis generated as valid is not refused for its shape."""
    meta = case.meta
    if response.status_code != 400 or meta is None or meta.generation.mode.is_negative:
        return
    if any(component.mode.is_negative for component in meta.components.values()):
        return
    fields = response.json()["error"]["fields"]
    for path, messages in fields.items():
        for message in messages:
            assert not message.startswith(_SHAPE_REFUSALS), (
                f"a schema-valid request was refused for its shape: {path}: {message}"
            )


CHECKS = [one_error_shape, no_refusal_the_schema_could_state]


@schema.parametrize()
@FUZZ
def test_api_as_a_user(case, token):
    # Passed to the call, not set on the case: schemathesis then knows the credentials are
    # real, and its ignored_auth check also replays the request without them and with a wrong
    # token (both must be a 401).
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, additional_checks=CHECKS)


@schema.parametrize()
@settings(FUZZ, max_examples=max(1, MAX_EXAMPLES // 2))
def test_api_anonymously(case, _generous_limits):
    if case.headers:
        case.headers.pop("Authorization", None)
    case.call_and_validate(additional_checks=CHECKS)


def test_a_rate_limited_answer_conforms(settings, token):
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "user": {"algorithm": "token_bucket", "limit": 1, "window": 3600, "key": "user"},
    }
    me = schema["/api/v1/auth/me"]["GET"]
    headers = {"Authorization": f"Token {token}"}

    admitted = me.Case().call_and_validate(headers=headers, additional_checks=CHECKS)
    refused = me.Case().call_and_validate(headers=headers, additional_checks=CHECKS)

    assert admitted.status_code == 200
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"][0]) >= 1  # lower-cased by schemathesis


# --- found by fuzzing and probing, fixed in core/ -------------------------------------------------


def test_a_strict_request_body_is_documented_closed():
    components = schema.raw_schema["components"]["schemas"]

    assert components["LinkInputRequest"]["additionalProperties"] is False
    assert components["RegistrationRequest"]["additionalProperties"] is False
    assert "additionalProperties" not in components["Link"]  # responses stay open


def test_a_text_field_that_may_not_be_blank_is_documented_as_not_only_whitespace():
    from core.openapi import NOT_ONLY_WHITESPACE

    link = schema.raw_schema["components"]["schemas"]["LinkInputRequest"]["properties"]

    assert link["long_url"]["pattern"] == NOT_ONLY_WHITESPACE  # "\u00a0" was a 400 "blank"
    assert "pattern" not in link["password"]  # kept as sent (trim_whitespace=False), may be blank


@pytest.mark.parametrize("charset", ["punycode", "unicode_escape", "latin-1", "utf-16"])
def test_the_body_is_read_as_utf8_whatever_the_charset(client, charset):
    # punycode was a 500 (a bare UnicodeError); unicode_escape rewrote backslashes.
    body = '{"username": "\u00e9", "password": "x"}'.encode()  # é in UTF-8
    # generic(), not post(): post() re-encodes the body into the charset it is given.
    response = client.generic(
        "POST", "/api/v1/auth/token", body, content_type=f"application/json; charset={charset}"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"  # parsed as UTF-8


def test_a_body_that_is_not_utf8_names_the_byte_and_the_ignored_charset(client):
    body = b'{"username": "\xe9"}'  # é in latin-1
    response = client.generic(
        "POST", "/api/v1/auth/token", body, content_type="application/json; charset=latin-1"
    )

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "parse_error"
    assert "byte 14" in error["message"] and "not latin-1" in error["message"]


def test_a_host_not_served_is_a_400_in_the_one_error_shape_under_api(client):
    api = client.get("/api/v1/auth/me", HTTP_HOST="evil.example")
    page = client.get("/shortener/", HTTP_HOST="evil.example")

    assert api.status_code == 400
    assert api.json()["error"]["code"] == "bad_request"
    assert "evil.example" not in api.json()["error"]["message"]  # the client's header not echoed
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")


# --- what the fuzzer found in modules outside core/ (the lead removes each marker with the fix) ---


def _operation(path: str, method: str) -> dict:
    return schema.raw_schema["paths"][path][method]


def test_every_operation_documents_406_and_every_body_415():
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            assert "406" in operation["responses"], f"{method} {path}"
            if "requestBody" in operation:
                assert "415" in operation["responses"], f"{method} {path}"


def test_the_links_list_documents_cursor_and_limit():
    parameters = {p["name"]: p for p in _operation("/api/v1/links", "get").get("parameters", [])}

    assert {"cursor", "limit"} <= set(parameters)
    assert parameters["limit"]["schema"]["minimum"] == 1


def test_an_empty_link_patch_changes_nothing_and_answers_200(api_client):
    """The schema allows `{}` (every PATCH field is optional), so the server takes it: a no-op,
    as Stripe's and GitHub's updates answer it, rather than a 400 no client could foresee."""
    user = UserFactory()
    link = LinkFactory(owner=user)
    api_client.force_authenticate(user)
    before = Link.objects.get(pk=link.pk).updated_at

    response = api_client.patch(f"/api/v1/links/{link.code}", {}, format="json")

    assert response.status_code == 200 and response.json()["code"] == link.code
    assert Link.objects.get(pk=link.pk).updated_at == before


def test_the_schema_does_not_reflect_a_version_query(client):
    response = client.get("/api/schema/", {"version": "a\r\nSet-Cookie: x=1"})

    assert response.status_code == 200
    assert "Set-Cookie" not in response.content.decode()


def test_registration_states_the_shortest_password():
    from django.contrib.auth.password_validation import (
        MinimumLengthValidator,
        get_default_password_validators,
    )

    shortest = next(
        v.min_length
        for v in get_default_password_validators()
        if isinstance(v, MinimumLengthValidator)
    )
    password = schema.raw_schema["components"]["schemas"]["RegistrationRequest"]["properties"][
        "password"
    ]

    assert password.get("minLength") == shortest
