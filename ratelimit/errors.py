"""The limiter's errors. Both leave through core.errors' one handler with Retry-After."""

from __future__ import annotations

from core.errors import RateLimitedError
from core.scripts import RedisUnavailable


class RateLimitBackendError(RedisUnavailable):
    """Redis did not answer (or the breaker is open). check_rate raises it; check_policy turns
    it into fail-open or fail-closed per policy."""


class RateLimiterUnavailableError(RateLimitedError):
    """A fail_closed policy while Redis is down: 503 + Retry-After. A RateLimitedError subclass
    so the one exception handler gives it the same Retry-After header as a 429."""

    status_code, code = 503, "rate_limiter_unavailable"
