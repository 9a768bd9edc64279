"""The limiter's tests: breaker closed and metrics at zero before each test."""

from __future__ import annotations

import pytest

from ratelimit import metrics, services


@pytest.fixture(autouse=True)
def _fresh_limiter() -> None:
    services.reset_breaker()
    metrics.reset()
