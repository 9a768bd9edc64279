"""ratelimit.pages.limit_request (the limiter for plain Django views), the key kinds it brought
("username", "user_or_ip"), and core.middleware's page for an ApplicationError. Real Redis."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory, override_settings

from core.errors import RateLimitedError
from core.middleware import ApplicationErrorPageMiddleware
from ratelimit import metrics, services
from ratelimit.errors import RateLimiterUnavailableError
from ratelimit.pages import limit_request
from ratelimit.policies import parse_policy
from ratelimit.throttles import REQUEST_ATTR
from tests.accounts.factories import UserFactory
from tests.ratelimit.test_redis_down import dead_redis  # noqa: F401  (fixture)

TWO_PER_5_MIN = {"algorithm": "sliding_log", "limit": 2, "window": 300, "methods": ["POST"]}
PAGES = {
    **settings.RATELIMIT_POLICIES,
    "page_ip": {**TWO_PER_5_MIN, "key": "ip"},
    "page_username": {**TWO_PER_5_MIN, "key": "username"},
    "page_closed": {**TWO_PER_5_MIN, "key": "ip", "on_redis_down": "fail_closed"},
    "page_open": {**TWO_PER_5_MIN, "key": "ip"},
}

rf = RequestFactory()


def post(path: str = "/form/", user=None, **meta: str):
    request = rf.post(path, **meta)
    request.user = user or AnonymousUser()
    return request


@override_settings(RATELIMIT_POLICIES=PAGES)
def test_limit_request_admits_the_limit_then_raises_429_with_retry_after_in_words():
    for _ in range(2):
        assert limit_request(post(), scope="page_ip", what="sign-in attempts").allowed

    with pytest.raises(RateLimitedError) as refused:
        limit_request(post(), scope="page_ip", what="sign-in attempts")

    assert refused.value.status_code == 429
    assert 295 <= refused.value.retry_after <= 300
    assert refused.value.message == "Too many sign-in attempts. Try again in 5 minutes."
    assert metrics.count(scope="page_ip", outcome="limited") == 1
    # Another client address has its own budget.
    assert limit_request(post(REMOTE_ADDR="198.51.100.7"), scope="page_ip").allowed


@override_settings(RATELIMIT_POLICIES=PAGES)
def test_requests_the_policy_does_not_name_are_not_counted():
    for _ in range(5):
        request = rf.get("/form/")
        request.user = AnonymousUser()
        assert limit_request(request, scope="page_ip") is None

    assert limit_request(post(), scope="page_ip").remaining == 1


@override_settings(RATELIMIT_POLICIES=PAGES)
def test_the_check_is_recorded_for_the_ratelimit_headers():
    request = post()

    limit_request(request, scope="page_ip")

    [(policy, decision)] = getattr(request, REQUEST_ATTR)
    assert (policy.scope, decision.remaining) == ("page_ip", 1)


@override_settings(RATELIMIT_POLICIES=PAGES)
def test_a_username_policy_counts_the_name_in_any_case_from_any_address():
    limit_request(post(REMOTE_ADDR="192.0.2.1"), scope="page_username", username="Dana")
    limit_request(post(REMOTE_ADDR="192.0.2.2"), scope="page_username", username="DANA")

    with pytest.raises(RateLimitedError):
        limit_request(post(REMOTE_ADDR="192.0.2.3"), scope="page_username", username="dana")
    assert limit_request(post(), scope="page_username", username="erin").allowed
    assert limit_request(post(), scope="page_username", username="") is None  # no name: IP's job


def test_the_username_identity_is_case_folded_and_a_keyed_digest_never_the_name():
    policy = parse_policy("login_username", {**TWO_PER_5_MIN, "key": "username"})

    keys = {
        services.identity(policy=policy, meta={}, username=name)
        for name in ("Straße", "STRASSE", "strasse", "\uff33trasse")  # fullwidth S: NFKC
    }

    [key] = keys
    assert "stra" not in key.lower()
    with override_settings(SECRET_KEY="another-deployment-another-key"):
        assert services.identity(policy=policy, meta={}, username="strasse") != key


@pytest.mark.django_db
def test_user_or_ip_is_the_user_when_signed_in_and_the_address_otherwise():
    policy = parse_policy("link_create", {**TWO_PER_5_MIN, "key": "user_or_ip"})
    meta = {"REMOTE_ADDR": "203.0.113.5"}

    assert services.identity(policy=policy, meta=meta, user_id=42) == "u42"
    assert services.identity(policy=policy, meta=meta) == "203.0.113.5"
    user = UserFactory()
    with override_settings(
        RATELIMIT_POLICIES={**PAGES, "page_user_or_ip": {**TWO_PER_5_MIN, "key": "user_or_ip"}}
    ):
        signed_in = [post(user=user, REMOTE_ADDR=f"192.0.2.{i}") for i in range(3)]
        limit_request(signed_in[0], scope="page_user_or_ip")
        limit_request(signed_in[1], scope="page_user_or_ip")
        with pytest.raises(RateLimitedError):  # one user, wherever from
            limit_request(signed_in[2], scope="page_user_or_ip")
        assert limit_request(post(REMOTE_ADDR="192.0.2.1"), scope="page_user_or_ip").allowed


@override_settings(RATELIMIT_POLICIES=PAGES)
def test_redis_down_fail_closed_raises_unavailable_and_fail_open_admits(dead_redis):  # noqa: F811
    with pytest.raises(RateLimiterUnavailableError) as closed:
        limit_request(post(), scope="page_closed")
    assert (closed.value.status_code, closed.value.retry_after) == (503, 2)

    assert limit_request(post(), scope="page_open").degraded


def test_the_middleware_leaves_api_paths_and_other_exceptions_to_their_handlers():
    middleware = ApplicationErrorPageMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    refused = RateLimitedError("Too many requests.", retry_after=5)

    assert middleware.process_exception(rf.post("/api/v1/links"), refused) is None
    assert middleware.process_exception(rf.post("/shortener/"), ValueError("a bug")) is None
