"""Rate limits for plain Django views (forms): the limiter's face for pages, as the DRF throttles
(ratelimit/throttles.py) are its face for the API.

    limit_request(request, scope="login_ip", what="sign-in attempts")

counts the request under `scope`'s policy and raises core.errors.RateLimitedError (429 +
Retry-After) when the policy refuses it; core.middleware.ApplicationErrorPageMiddleware turns
that into a page a person can read. Call it before the work the limit protects (a password
hash, a row written): a refused request then costs one Redis round trip. docs/ratelimit.md.
"""

from __future__ import annotations

import math

from django.http import HttpRequest

from core.errors import RateLimitedError
from ratelimit import services
from ratelimit.algorithms import Decision, whole_seconds
from ratelimit.policies import policy_for
from ratelimit.throttles import record_check


def limit_request(
    request: HttpRequest, *, scope: str, username: str | None = None, what: str = "requests"
) -> Decision | None:
    """Count `request` under the policy of `scope`: per user, client IP, ... as the policy's
    `key` says (`username` is the name a username-keyed policy counts). Returns the Decision, or
    None when the policy does not count this request (another method; no identity).

    The check is recorded for the RateLimit headers (ratelimit.middleware). Raises
    RateLimitedError (429, Retry-After, "Too many <what>. Try again in 5 minutes.") when refused,
    RateLimiterUnavailableError (503) when Redis is down and the policy fails closed, and
    ImproperlyConfigured for an unknown scope."""
    policy = policy_for(scope)
    if not policy.applies_to(request.method):
        return None
    user = getattr(request, "user", None)
    key = services.identity(
        policy=policy,
        meta=request.META,
        user_id=user.pk if user is not None and user.is_authenticated else None,
        path=request.path,
        username=username,
    )
    if key is None:
        return None
    decision = services.check_policy(scope=scope, key=key)
    # A DRF Request wraps the Django one, which is what the headers middleware sees.
    record_check(getattr(request, "_request", request), policy, decision)
    if not decision.allowed:
        retry_after = max(1, whole_seconds(decision.retry_after))
        raise RateLimitedError(
            f"Too many {what}. Try again in {_in_words(retry_after)}.", retry_after=retry_after
        )
    return decision


def _in_words(seconds: int) -> str:
    """5 minutes, 1 minute, 40 seconds: what a person reads, rounded up."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
