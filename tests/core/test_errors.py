"""Every API error leaves in one shape: {"error": {"code", "message", "fields"}}."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_errors")]


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_validation_error_names_the_field_and_says_what_is_wrong(api_client):
    response = api_client.post("/api/v1/echo", {"name": "far too long"}, format="json")

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert error["fields"] == {"name": ["Ensure this field has no more than 5 characters."]}
    assert error["message"] == "name: Ensure this field has no more than 5 characters."


def test_nested_validation_error_is_named_by_its_path(api_client):
    response = api_client.post(
        "/api/v1/echo", {"name": "ok", "nested": {"count": 0}}, format="json"
    )

    error = _error(response)
    assert error["fields"] == {"nested.count": ["Ensure this value is greater than or equal to 1."]}
    assert error["message"].startswith("nested.count: ")


def test_missing_field_is_a_400_naming_it(api_client):
    error = _error(api_client.post("/api/v1/echo", {}, format="json"))

    assert error["fields"] == {"name": ["This field is required."]}


def test_malformed_json_is_a_400_in_the_same_shape(api_client):
    response = api_client.post("/api/v1/echo", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_wrong_media_type_is_a_415(api_client):
    response = api_client.post("/api/v1/echo", "name=x", content_type="text/plain")

    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_application_errors_carry_their_status_and_code(api_client):
    conflict = api_client.get("/api/v1/conflict")
    gone = api_client.get("/api/v1/gone")

    assert conflict.status_code == 409
    assert _error(conflict) == {
        "code": "alias_taken",
        "message": "The alias 'x' is taken.",
        "fields": {},
    }
    assert gone.status_code == 410
    assert _error(gone)["code"] == "gone"


def test_rate_limited_errors_carry_retry_after(api_client):
    ours = api_client.get("/api/v1/limited")
    drf_throttle = api_client.get("/api/v1/throttled")

    assert ours.status_code == 429 and ours["Retry-After"] == "7"
    assert _error(ours)["code"] == "rate_limited"
    assert drf_throttle.status_code == 429 and drf_throttle["Retry-After"] == "3"
    assert _error(drf_throttle)["code"] == "rate_limited"


def test_missing_credentials_are_a_401_with_a_token_challenge(api_client):
    response = api_client.get("/api/v1/private")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert _error(response)["code"] == "not_authenticated"


def test_wrong_method_is_a_405(api_client):
    response = api_client.delete("/api/v1/echo")

    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_unknown_api_path_is_a_json_404(api_client):
    response = api_client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_a_bug_is_a_500_in_the_same_shape_without_the_exception_text():
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/bug")

    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "server_error"
    assert "a bug" not in error["message"]
