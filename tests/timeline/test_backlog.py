"""/healthz reports the timeline's fan-out backlog: events waiting, the oldest's age; "degraded"
(still 200) when it is older than TIMELINE_BACKLOG_ALERT_SECONDS."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import OutboxEvent
from tests.accounts.factories import UserFactory
from timeline import services

pytestmark = pytest.mark.django_db


def test_a_waiting_fan_out_is_counted_and_an_old_one_makes_health_degraded(client, settings):
    services.post_tweet(author=UserFactory(), text="waiting for a worker")
    fresh = client.get("/healthz").json()["backlogs"]["timeline_fanout"]
    assert fresh["ok"] is True and fresh["waiting"] == 1

    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded" and "timeline_fanout" in body["behind"]
    assert body["backlogs"]["timeline_fanout"]["oldest_s"] >= 299
