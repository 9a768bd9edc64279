"""The auth API through its URLs: status codes and the one error body."""

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"

pytestmark = pytest.mark.django_db


def register(client: APIClient, username: str, password: str = PASSWORD):
    return client.post(REGISTER, {"username": username, "password": password}, format="json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_register_returns_201_with_string_id_username_and_token(api_client):
    response = register(api_client, "dana")

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="dana")
    token = Token.objects.get(user=user).key
    assert body == {"id": str(user.pk), "username": "dana", "token": token}
    assert user.check_password(PASSWORD)
    assert user.password != PASSWORD
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)


def test_register_refuses_fields_it_does_not_know(api_client):
    # "is_staff" is not an input: say so rather than ignore it in silence.
    response = api_client.post(
        REGISTER, {"username": "eve", "password": PASSWORD, "is_staff": True}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["is_staff"]
    assert not User.objects.filter(username="eve").exists()


def test_register_token_works_on_me(api_client):
    token = register(api_client, "dana").json()["token"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.get(ME)

    assert response.status_code == 200
    assert response.json() == {"id": str(User.objects.get().pk), "username": "dana"}


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("48151623420815", "entirely numeric"),
    ],
)
def test_weak_password_returns_400_naming_password_and_why(api_client, password, why):
    error = assert_error(register(api_client, "dana", password), 400, "invalid")

    assert list(error["fields"]) == ["password"]
    assert any(why in message for message in error["fields"]["password"])
    assert error["message"].startswith("password: ")
    assert not User.objects.exists()


def test_password_similar_to_the_username_returns_400(api_client):
    error = assert_error(register(api_client, "margaretha", "margaretha1"), 400, "invalid")

    assert any("too similar to the username" in m for m in error["fields"]["password"])


@pytest.mark.parametrize(
    "username",
    ["has space", "semi;colon", "slash/", "ünïcödé!", "x" * 151, ""],
)
def test_username_breaking_django_rules_returns_400_naming_username(api_client, username):
    error = assert_error(register(api_client, username), 400, "invalid")

    assert "username" in error["fields"]
    assert "password" not in error["fields"]
    assert not User.objects.exists()


def test_longest_valid_username_with_every_allowed_symbol_is_accepted(api_client):
    username = "a.b@c+d-e_f" + "x" * 139

    assert register(api_client, username).status_code == 201


def test_taken_username_returns_409_username_taken(api_client):
    UserFactory(username="dana")

    error = assert_error(register(api_client, "dana"), 409, "username_taken")

    assert error["fields"] == {"username": ["A user with that username already exists."]}


@pytest.mark.parametrize("second", ["Dana", "DANA", "dAnA"])
def test_username_taken_in_a_different_case_returns_409(api_client, second):
    assert register(api_client, "dana").status_code == 201

    error = assert_error(register(api_client, second), 409, "username_taken")

    assert "username" in error["fields"]
    assert User.objects.count() == 1


def test_malformed_json_returns_400_in_error_shape(api_client):
    response = api_client.post(REGISTER, '{"username": "dana",', content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_empty_body_returns_400_naming_both_fields(api_client):
    response = api_client.post(REGISTER, "", content_type="application/json")

    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"username", "password"}


def test_json_that_is_not_an_object_returns_400(api_client):
    response = api_client.post(REGISTER, '["dana", "pw"]', content_type="application/json")

    assert_error(response, 400, "invalid")


def test_register_and_token_need_no_csrf_token_even_with_a_session():
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory())

    assert register(client, "dana").status_code == 201
    body = {"username": "dana", "password": PASSWORD}
    assert client.post(TOKEN, body, format="json").status_code == 200


def test_token_returns_200_with_the_token_register_issued(api_client):
    issued = register(api_client, "dana").json()["token"]

    response = api_client.post(TOKEN, {"username": "dana", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": issued}


def test_token_accepts_the_username_in_any_case(api_client):
    UserFactory(username="dana")

    response = api_client.post(TOKEN, {"username": "DaNa", "password": PASSWORD}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("dana", "wrong-password"), ("nobody", PASSWORD), ("dana", PASSWORD.upper())],
)
def test_wrong_credentials_return_400_invalid_credentials(api_client, username, password):
    UserFactory(username="dana")

    response = api_client.post(TOKEN, {"username": username, "password": password}, format="json")

    error = assert_error(response, 400, "invalid_credentials")
    assert error["fields"] == {}
    assert not Token.objects.exists()


def test_inactive_user_gets_no_token(api_client):
    UserFactory(username="dana", is_active=False)

    response = api_client.post(TOKEN, {"username": "dana", "password": PASSWORD}, format="json")

    assert_error(response, 400, "invalid_credentials")


def test_token_with_missing_password_returns_400_naming_password(api_client):
    response = api_client.post(TOKEN, {"username": "dana"}, format="json")

    assert list(assert_error(response, 400, "invalid")["fields"]) == ["password"]


def test_me_without_credentials_returns_401_in_error_shape(api_client):
    response = api_client.get(ME)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_me_with_an_unknown_token_returns_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert_error(api_client.get(ME), 401, "authentication_failed")


def test_me_accepts_the_browser_session(api_client):
    user = UserFactory(username="dana")
    api_client.force_login(user)

    assert api_client.get(ME).json() == {"id": str(user.pk), "username": "dana"}


def test_schema_documents_the_auth_endpoints_and_their_errors(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    # 406 and 429 are on every operation, 413 and 415 on every one with a body
    # (core.openapi.document_common_errors).
    register = {"201", "400", "406", "409", "413", "415", "429"}
    assert set(paths["/api/v1/auth/register"]["post"]["responses"]) == register
    token = {"200", "400", "406", "413", "415", "429", "503"}  # 503: its limits fail closed
    assert set(paths["/api/v1/auth/token"]["post"]["responses"]) == token
    assert set(paths["/api/v1/auth/me"]["get"]["responses"]) == {"200", "401", "406", "429"}
    registered = schema["components"]["schemas"]["RegisteredUser"]["properties"]
    assert registered["id"]["type"] == "string"


# --- sign-in limits shared with the pages; look-alike names; blank passwords --------------------


def login_policies(**scopes: dict) -> dict:
    return {**settings.RATELIMIT_POLICIES, **scopes}


def log(limit: int, key: str) -> dict:
    return {"algorithm": "sliding_log", "limit": limit, "window": 300, "key": key,
            "methods": ["POST"], "on_redis_down": "fail_closed"}  # fmt: skip


@override_settings(RATELIMIT_POLICIES=login_policies(login_username=log(3, "username")))
def test_token_is_limited_per_username_from_the_same_budget_as_the_sign_in_page(api_client, client):
    UserFactory(username="dana")
    client.post("/accounts/login/", {"username": "Dana", "password": "wrong"})  # the page
    for i in range(2):
        body = {"username": "DANA", "password": "wrong"}
        meta = {"REMOTE_ADDR": f"198.51.100.{i}"}  # guesses from many addresses
        assert api_client.post(TOKEN, body, format="json", **meta).status_code == 400

    body = {"username": "dana", "password": PASSWORD}
    refused = api_client.post(TOKEN, body, format="json", REMOTE_ADDR="203.0.113.4")

    error = assert_error(refused, 429, "rate_limited")
    assert error["message"].startswith("Too many sign-in attempts. Try again in ")
    assert 1 <= int(refused["Retry-After"]) <= 300
    assert '"login_username";r=0' in refused["RateLimit"]
    assert not Token.objects.exists()


@override_settings(RATELIMIT_POLICIES=login_policies(login_ip=log(2, "ip")))
def test_token_is_limited_per_ip_by_the_login_ip_policy(api_client):
    for name in ("a", "b"):
        body = {"username": name, "password": "wrong"}
        assert api_client.post(TOKEN, body, format="json").status_code == 400

    refused = api_client.post(TOKEN, {"username": "c", "password": "x"}, format="json")

    assert_error(refused, 429, "rate_limited")
    assert '"login_ip";q=2;w=300' in refused["RateLimit-Policy"]


def test_register_refuses_a_name_mixing_scripts_with_400_naming_username(api_client):
    error = assert_error(register(api_client, "\u0430lice"), 400, "invalid")  # Cyrillic a

    assert list(error["fields"]) == ["username"]
    assert "mixes Cyrillic and Latin" in error["fields"]["username"][0]
    assert not User.objects.exists()


@pytest.mark.parametrize("lookalike", ["aIice", "a1ice"])
def test_register_refuses_a_look_alike_of_a_taken_name_with_409(api_client, lookalike):
    assert register(api_client, "alice").status_code == 201

    error = assert_error(register(api_client, lookalike), 409, "username_lookalike")

    assert error["fields"] == {
        "username": ["This username looks too much like an existing one. Please choose another."]
    }
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", [" " * 20, "\t \u00a0\u200b" * 4])  # tabs, nbsp, zero-width
def test_register_refuses_a_password_of_only_spaces_with_400_naming_password(api_client, password):
    error = assert_error(register(api_client, "dana", password), 400, "invalid")

    assert error["fields"] == {
        "password": ["This password is only spaces. Use letters, digits or symbols too."]
    }
