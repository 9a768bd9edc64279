"""Dependency checks and backlogs behind `GET /healthz` and `manage.py healthcheck`.

Each check opens a real round trip (SELECT 1, PING, a broker connection) with a short timeout, so
a dead dependency turns into a named failure within about a second instead of a hung probe.

Backlogs are the background work the product relies on (Celery beat and workers), registered by
the apps (`register_backlog`, from AppConfig.ready): the click flush, the outbox of cache
invalidations. One past its limit makes the report "degraded" but keeps HTTP 200: the web tier
still serves, and a load balancer must not take web nodes out because beat stopped. `manage.py
healthcheck --backlogs` fails on it (for the worker and beat containers, and for monitoring).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from core.redis import get_redis

TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def as_dict(self, *, detail: bool) -> dict:
        body: dict = {"ok": self.ok, "ms": round(self.ms, 2)}
        if self.error:
            # The full message names hosts and ports: fine for an operator's shell, not for a
            # public probe. Over HTTP only the exception class travels.
            body["error"] = self.error if detail else self.error.split(":", 1)[0]
        return body


def check_postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    get_redis().ping()


def check_broker() -> None:
    from config.celery import app

    with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=TIMEOUT_SECONDS)
        # A Redis transport connects lazily; ask the channel for something to prove it answers.
        _ = conn.default_channel


CHECKS: dict[str, Callable[[], None]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "broker": check_broker,
}


@dataclass(frozen=True)
class Backlog:
    """How far behind one kind of background work is. `ok`: within its limit."""

    ok: bool
    detail: dict


BACKLOGS: dict[str, Callable[[], Backlog]] = {}


def register_backlog(name: str, measure: Callable[[], Backlog]) -> None:
    """Report `measure()` under `name` in every health report (an app's AppConfig.ready)."""
    BACKLOGS[name] = measure


def run_backlogs() -> dict[str, dict]:
    """Every registered backlog as {"ok": ..., **detail}; never raises (a backlog that cannot be
    measured, its store being down, is not ok and says why)."""
    report = {}
    for name, measure in BACKLOGS.items():
        try:
            backlog = measure()
        except Exception as exc:  # a health probe reports failures, it does not raise them
            report[name] = {"ok": False, "error": type(exc).__name__}
        else:
            report[name] = {"ok": backlog.ok, **backlog.detail}
    return report


def run_checks() -> list[CheckResult]:
    """Run every check; never raises. A failure carries the exception's class and message."""
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a health probe reports failures, it does not raise them
            elapsed = (time.perf_counter() - started) * 1000
            error = f"{type(exc).__name__}: {exc}".strip()[:300]
            results.append(CheckResult(name, False, elapsed, error))
        else:
            results.append(CheckResult(name, True, (time.perf_counter() - started) * 1000))
    return results


def health_report(*, detail: bool = False) -> tuple[int, dict]:
    """(HTTP status, body): 200 when every dependency answers, else 503 naming the ones that don't
    (`failing`). The backlogs come along: one past its limit makes the status "degraded" and is
    named in `behind`, with HTTP 200 still. `detail` includes each failure's full message
    (hosts, ports), for operators only."""
    results = run_checks()
    failing = [r.name for r in results if not r.ok]
    backlogs = run_backlogs()
    behind = [name for name, backlog in backlogs.items() if not backlog["ok"]]
    status = "unavailable" if failing else "degraded" if behind else "ok"
    body: dict = {
        "status": status,
        "checks": {r.name: r.as_dict(detail=detail) for r in results},
        "backlogs": backlogs,
    }
    if failing:
        body["failing"] = failing
    if behind:
        body["behind"] = behind
    return (200 if not failing else 503), body
