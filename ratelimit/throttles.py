"""DRF throttle classes backed by the Redis limiter (settings.REST_FRAMEWORK
DEFAULT_THROTTLE_CLASSES puts the three on every /api/v1/ endpoint).

    UserRateThrottle    policy "user", authenticated callers (the seed's 100/minute)
    AnonRateThrottle    policy "anon", anonymous callers, by client IP (ratelimit.clientip)
    ScopedRateThrottle  the policy named by the view's `throttle_scope`, if it has one

DRF's own throttles read a history from the cache, decide in Python and write it back: two
workers that read the same history both admit, so concurrent requests slip past the limit.
Here the decision is one Lua script in Redis (ratelimit.services.check_rate): exact.

Each check is recorded on the Django request (`ratelimit_checks`); ratelimit.middleware turns
the records into RateLimit-Policy / RateLimit headers on the response, 429s included. A refusal
is DRF's Throttled (core.errors renders it: 429, Retry-After, code "rate_limited"); a fail_closed
policy with Redis down raises RateLimiterUnavailableError (503 + Retry-After).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from ratelimit.algorithms import Decision
from ratelimit.policies import Policy, policy_for

REQUEST_ATTR = "ratelimit_checks"


def record_check(request: Any, policy: Policy, decision: Decision) -> None:
    """Remember a check on the Django request for the response headers (middleware)."""
    checks = getattr(request, REQUEST_ATTR, None)
    if checks is None:
        checks = []
        setattr(request, REQUEST_ATTR, checks)
    checks.append((policy, decision))


class PolicyThrottle(BaseThrottle):
    """Throttle by the policy `scope_for` names; subclasses pick the scope and the callers."""

    scope: str | None = None

    def __init__(self) -> None:
        self.decision: Decision | None = None

    def scope_for(self, request: Request, view: Any) -> str | None:
        return self.scope

    def allow_request(self, request: Request, view: Any) -> bool:
        # Imported here, not at the top: core.errors imports DRF's views, which import these
        # throttles (DEFAULT_THROTTLE_CLASSES), and ratelimit.services imports core.errors.
        from ratelimit import services

        scope = self.scope_for(request, view)
        if scope is None:
            return True
        policy = policy_for(scope)
        if not policy.applies_to(request.method):
            return True
        user = request.user
        auth = request.auth
        key = services.identity(
            policy=policy,
            meta=request.META,
            user_id=user.pk if user is not None and user.is_authenticated else None,
            token=getattr(auth, "key", None),
            path=request.path,
        )
        if key is None:
            return True
        self.decision = services.check_policy(scope=scope, key=key)
        record_check(request._request, policy, self.decision)
        return self.decision.allowed

    def wait(self) -> float | None:
        return None if self.decision is None else self.decision.retry_after


class UserRateThrottle(PolicyThrottle):
    """Authenticated callers, per user (policy "user")."""

    scope = "user"

    def scope_for(self, request: Request, view: Any) -> str | None:
        user = request.user
        return self.scope if user is not None and user.is_authenticated else None


class AnonRateThrottle(PolicyThrottle):
    """Anonymous callers, per client IP (policy "anon")."""

    scope = "anon"

    def scope_for(self, request: Request, view: Any) -> str | None:
        user = request.user
        return None if user is not None and user.is_authenticated else self.scope


class ScopedRateThrottle(PolicyThrottle):
    """The view's own policy: `throttle_scope = "link_create"` on the APIView."""

    def scope_for(self, request: Request, view: Any) -> str | None:
        return getattr(view, "throttle_scope", None)
