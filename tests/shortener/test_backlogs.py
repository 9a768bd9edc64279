"""Is Celery keeping up? The shortener's backlogs in /healthz (shortener/health.py): click events
waiting for the flush, cache invalidations waiting in the outbox. Behind: "degraded", still 200
(the redirects are served), and `manage.py healthcheck --backlogs` fails."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from shortener import cache, clicks, services
from shortener.models import PendingInvalidation
from tests.conftest import ROOT
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db


def _event_waiting_since(seconds: float, *, link_id: int) -> None:
    """A click event as visit.lua appends it, but `seconds` old (the flush has not run)."""
    redis = cache.client()
    now_s, now_us = redis.time()
    entry_ms = int(now_s * 1000 + now_us // 1000 - seconds * 1000)
    redis.xadd(
        cache.events_key(0), {"l": link_id, "r": "", "d": "desktop", "b": "0"}, id=f"{entry_ms}-0"
    )


def test_nothing_waiting_is_ok(client):
    body = client.get("/healthz").json()

    assert body["status"] == "ok" and "behind" not in body
    assert body["backlogs"]["clicks_flush"] == {"ok": True, "oldest_s": 0.0, "limit_s": 60}
    assert body["backlogs"]["cache_invalidations"] == {
        "ok": True, "waiting": 0, "oldest_s": 0.0, "limit_s": 60,
    }  # fmt: skip


def test_clicks_waiting_past_the_limit_are_degraded_until_the_flush_runs(client):
    link = LinkFactory()
    _event_waiting_since(30, link_id=link.id)
    fresh = client.get("/healthz").json()["backlogs"]["clicks_flush"]
    assert fresh["ok"] and 29 <= fresh["oldest_s"] < 40

    cache.client().delete(cache.events_key(0))
    _event_waiting_since(125, link_id=link.id)
    _event_waiting_since(5, link_id=link.id)  # a later click does not hide the oldest one

    response = client.get("/healthz")

    assert response.status_code == 200  # the web tier serves on
    body = response.json()
    assert (body["status"], body["behind"]) == ("degraded", ["clicks_flush"])
    assert body["backlogs"]["clicks_flush"]["oldest_s"] >= 125
    clicks.flush_clicks()  # what beat would have done
    assert client.get("/healthz").json()["status"] == "ok"


def test_invalidations_waiting_past_the_limit_are_degraded_until_retried(client):
    PendingInvalidation.objects.create(code="stuck1")
    PendingInvalidation.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    body = client.get("/healthz").json()

    assert (body["status"], body["behind"]) == ("degraded", ["cache_invalidations"])
    assert body["backlogs"]["cache_invalidations"]["waiting"] == 1
    assert body["backlogs"]["cache_invalidations"]["oldest_s"] >= 300
    assert services.retry_invalidations() == 1
    assert client.get("/healthz").json()["status"] == "ok"


def test_healthcheck_fails_on_a_backlog_only_when_asked():
    # A separate process: it reads this test's Redis db (REDIS_URL from the environment).
    _event_waiting_since(600, link_id=1)

    plain = _healthcheck()
    strict = _healthcheck("--backlogs")

    assert plain.returncode == 0, plain.stderr
    assert strict.returncode == 1
    assert "behind: clicks_flush" in strict.stderr


def _healthcheck(*args: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "manage.py", "healthcheck", *args],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
