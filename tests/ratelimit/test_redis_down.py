"""Redis really stopped: a private `redis-server` holds the limiter's state (the shared Redis
on 6379 is never touched), the test kills it, and each policy does what it says: fail_open
admits and counts `redis_down_open`, fail_closed answers 503 + Retry-After. Never a 500."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token

from ratelimit import metrics
from ratelimit.errors import RateLimitBackendError
from ratelimit.services import BREAKER_SECONDS, check_rate
from tests.accounts.factories import UserFactory
from tests.ratelimit.test_api import policies
from tests.shortener.factories import LinkFactory
from tests.shortener.test_redirect import wsgi_app, wsgi_get  # noqa: F401  (fixture)
from tests.shortener.test_redis_down import PrivateRedis, private_redis  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

TINY = {"algorithm": "token_bucket", "limit": 5, "window": 60}


@pytest.fixture
def dead_redis(settings) -> Iterator[PrivateRedis]:
    """The limiter pointed at a private redis-server that has just been killed."""
    server = PrivateRedis()
    settings.RATELIMIT_REDIS_URL = server.url
    try:
        check_rate(algorithm="gcra", key="warm", limit=1, window_seconds=1)  # pool connected
        server.kill()
        yield server
    finally:
        server.kill()


def test_check_rate_raises_the_backend_error_and_the_breaker_spares_the_next_calls(dead_redis):
    with pytest.raises(RateLimitBackendError):
        check_rate(algorithm="token_bucket", key="k", limit=1, window_seconds=1)
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(RateLimitBackendError):
            check_rate(algorithm="token_bucket", key="k", limit=1, window_seconds=1)
    assert time.monotonic() - started < 0.1  # the open breaker: no connection attempts


@override_settings(RATELIMIT_POLICIES=policies(user={**TINY, "key": "user"}))
def test_fail_open_admits_counts_and_sends_no_made_up_headers(api_client, dead_redis):
    token, _ = Token.objects.get_or_create(user=UserFactory())
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    answers = [api_client.get("/api/v1/links") for _ in range(8)]  # more than the limit
    assert [a.status_code for a in answers] == [200] * 8
    assert "RateLimit" not in answers[0]
    assert metrics.count(scope="user", outcome="redis_down_open") == 8


@override_settings(
    RATELIMIT_POLICIES=policies(login_ip={**TINY, "key": "ip", "on_redis_down": "fail_closed"})
)
def test_fail_closed_answers_503_with_retry_after_and_the_error_body(api_client, dead_redis):
    answer = api_client.post(
        "/api/v1/auth/token", {"username": "a", "password": "b"}, format="json"
    )
    assert answer.status_code == 503
    assert answer["Retry-After"] == str(int(BREAKER_SECONDS))
    assert answer.json()["error"]["code"] == "rate_limiter_unavailable"
    assert metrics.count(scope="login_ip", outcome="redis_down_closed") == 1


@pytest.mark.parametrize(("on_redis_down", "expected"), [("fail_open", 302), ("fail_closed", 503)])
def test_the_redirect_paths_follow_the_policy_when_redis_is_down(
    client,
    wsgi_app,  # noqa: F811
    dead_redis,
    on_redis_down,
    expected,
):
    link = LinkFactory()
    with override_settings(
        RATELIMIT_POLICIES=policies(redirect={**TINY, "key": "ip", "on_redis_down": on_redis_down})
    ):
        status, headers, _ = wsgi_get(wsgi_app, f"/{link.code}")
        django_answer = client.get(f"/{link.code}")
    assert status == expected
    assert django_answer.status_code == expected
    if expected == 503:
        assert headers["Retry-After"] == str(int(BREAKER_SECONDS))
        assert django_answer["Retry-After"] == str(int(BREAKER_SECONDS))
    outcome = "redis_down_open" if on_redis_down == "fail_open" else "redis_down_closed"
    assert metrics.count(scope="redirect", outcome=outcome) == 2


@pytest.mark.parametrize(("on_redis_down", "expected"), [("fail_open", 302), ("fail_closed", 503)])
def test_with_one_redis_for_both_the_chained_fast_path_follows_the_policy_when_it_dies(
    wsgi_app,  # noqa: F811
    private_redis,  # noqa: F811
    on_redis_down,
    expected,
):
    """The limiter shares the shortener's Redis (no RATELIMIT_REDIS_URL), so the fast path runs
    the limit and the visit as one script; that Redis dies: the redirect policy decides."""
    link = LinkFactory()
    with override_settings(
        RATELIMIT_POLICIES=policies(redirect={**TINY, "key": "ip", "on_redis_down": on_redis_down})
    ):
        assert wsgi_get(wsgi_app, f"/{link.code}")[0] == 302  # cached in the private Redis
        private_redis.kill()
        status, headers, _ = wsgi_get(wsgi_app, f"/{link.code}")
    assert status == expected  # fail_open: Django's view, from PostgreSQL
    if expected == 503:
        assert headers["Retry-After"] == str(int(BREAKER_SECONDS))
    outcome = "redis_down_open" if on_redis_down == "fail_open" else "redis_down_closed"
    assert metrics.count(scope="redirect", outcome=outcome) == 1
