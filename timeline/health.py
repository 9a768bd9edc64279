"""The timeline's background work as a health backlog (core.health; registered in apps.py):
`timeline_fanout` — outbox events of the timeline still waiting (fan-outs, deletes, follows'
backfills, unfollows' cleanups) and how long the oldest has waited. Behind: older than
TIMELINE_BACKLOG_ALERT_SECONDS (workers stopped, or Redis away)."""

from __future__ import annotations

from django.conf import settings

from core import outbox
from core.health import Backlog
from timeline import services

TOPICS = (services.FAN_OUT, services.DELETE, services.FOLLOW, services.UNFOLLOW, services.DRAIN)


def fan_out_backlog() -> Backlog:
    waiting, oldest = outbox.backlog_of(TOPICS)
    limit = settings.TIMELINE_BACKLOG_ALERT_SECONDS
    return Backlog(
        ok=oldest <= limit,
        detail={"waiting": waiting, "oldest_s": round(oldest, 1), "limit_s": limit},
    )
