"""The limiter on /api/v1/ through the URL: IETF headers, 429 bodies, scopes, shadow mode,
anonymous callers per IP, and X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token

from ratelimit import metrics
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

BIG = {"algorithm": "token_bucket", "limit": 1000, "window": 60}


def policies(**scopes: dict) -> dict:
    """Every scope the API uses, roomy, with `scopes` replacing some."""
    base = {
        "user": {**BIG, "key": "user"},
        "anon": {**BIG, "key": "ip"},
        "link_create": {**BIG, "key": "user", "methods": ["POST"]},
        "link_bulk_create": {**BIG, "key": "user"},
        "login_ip": {**BIG, "key": "ip"},
        "login_username": {**BIG, "key": "username"},
        "auth_register": {**BIG, "key": "ip"},
        "redirect": {**BIG, "key": "ip"},
        "link_password": {**BIG, "key": "ip_path"},
    }
    return {**base, **scopes}


@pytest.fixture
def token_client(api_client):
    user = UserFactory()
    token, _ = Token.objects.get_or_create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api_client


@override_settings(
    RATELIMIT_POLICIES=policies(
        user={"algorithm": "sliding_log", "limit": 3, "window": 60, "key": "user"}
    )
)
def test_responses_carry_ratelimit_headers_and_the_fourth_request_is_a_429(token_client):
    answers = [token_client.get("/api/v1/links") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Policy"] == '"user";q=3;w=60'
    assert answers[0]["RateLimit"] == '"user";r=2;t=60'
    assert answers[2]["RateLimit"] == '"user";r=0;t=60'
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert set(refused.json()["error"]) == {"code", "message", "fields"}
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit"].startswith('"user";r=0;t=')
    assert metrics.count(scope="user", outcome="limited") == 1


@override_settings(
    RATELIMIT_POLICIES=policies(
        link_create={
            "algorithm": "fixed_window",
            "limit": 2,
            "window": 60,
            "key": "user",
            "methods": ["POST"],
        },
    )
)
def test_link_creation_has_its_own_scope_that_counts_posts_only(token_client):
    for _ in range(5):
        assert token_client.get("/api/v1/links").status_code == 200
    posts = [
        token_client.post("/api/v1/links", {"long_url": f"https://example.com/{i}"}, format="json")
        for i in range(3)
    ]
    assert [p.status_code for p in posts] == [201, 201, 429]
    assert posts[0]["RateLimit-Policy"] == '"user";q=1000;w=60, "link_create";q=2;w=60'
    assert ', "link_create";r=0;t=' in posts[1]["RateLimit"]


@override_settings(
    RATELIMIT_POLICIES=policies(
        link_bulk_create={"algorithm": "gcra", "limit": 1, "window": 60, "key": "user"}
    )
)
def test_bulk_creation_is_limited_by_its_scope(token_client):
    body = {"links": [{"long_url": "https://example.com/bulk"}]}
    first = token_client.post("/api/v1/links/bulk", body, format="json")
    second = token_client.post("/api/v1/links/bulk", body, format="json")
    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second["Retry-After"]) == 60


@override_settings(
    RATELIMIT_POLICIES=policies(
        user={
            "algorithm": "token_bucket",
            "limit": 2,
            "window": 60,
            "key": "user",
            "mode": "shadow",
        }
    )
)
def test_shadow_mode_never_refuses_but_the_headers_and_metrics_say_it_would_have(token_client):
    answers = [token_client.get("/api/v1/links") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[3]["RateLimit"].startswith('"user";r=0;')
    assert "Retry-After" not in answers[3]
    assert metrics.count(scope="user", outcome="shadow_limited") == 2
    assert metrics.count(scope="user", outcome="allowed") == 2


def _token_attempt(api_client, **meta: str):
    return api_client.post(
        "/api/v1/auth/token", {"username": "nobody", "password": "wrong"}, format="json", **meta
    )


@override_settings(
    RATELIMIT_POLICIES=policies(
        anon={"algorithm": "sliding_counter", "limit": 2, "window": 60, "key": "ip"}
    )
)
def test_anonymous_callers_are_limited_per_client_ip(api_client):
    first = [_token_attempt(api_client, REMOTE_ADDR="198.51.100.1") for _ in range(3)]
    assert [a.status_code for a in first] == [400, 400, 429]
    assert _token_attempt(api_client, REMOTE_ADDR="198.51.100.2").status_code == 400
    assert '"anon";q=2;w=60' in first[0]["RateLimit-Policy"]


@override_settings(
    RATELIMIT_TRUSTED_PROXIES=["10.0.0.0/8"],
    RATELIMIT_POLICIES=policies(
        anon={"algorithm": "fixed_window", "limit": 1, "window": 60, "key": "ip"}
    ),
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(api_client):
    # An untrusted peer rotating X-Forwarded-For is still one client: its own address.
    spoofed = [
        _token_attempt(api_client, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
        for i in range(2)
    ]
    assert [a.status_code for a in spoofed] == [400, 429]
    # Behind our proxy, the client is the rightmost address the proxy did not vouch for; what
    # the client wrote further left does not matter.
    via_proxy = [
        _token_attempt(
            api_client,
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 198.51.100.7, 10.1.2.3",
        )
        for i in range(2)
    ]
    assert [a.status_code for a in via_proxy] == [400, 429]
    other = _token_attempt(api_client, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 400


def test_the_default_policies_let_the_existing_parallel_tests_through(settings):
    # tests/shortener and tests/accounts send 50 creates/registrations at once from one user
    # and one IP: the defaults must admit a burst of 50 (docs/ratelimit.md, "Defaults").
    from ratelimit.policies import all_policies

    found = all_policies()
    for scope in ("user", "anon", "link_create", "auth_register", "login_ip"):
        assert found[scope].quota >= 50, scope
