"""The shortener's background work as health backlogs (core.health; registered in apps.py): is
Celery keeping up? Both only grow while beat or the workers are stopped (or Redis is away):

- `clicks_flush`: how long the oldest click event has waited for `flush_clicks` (every
  SHORTENER_CLICK_FLUSH_SECONDS). Past SHORTENER_EVENTS_MAXLEN events a slot drops its oldest
  (docs/shortener.md), so stats lose detail if this grows unnoticed.
- `cache_invalidations`: the outbox rows still waiting (`retry_invalidations`): while they wait,
  a Redis that kept its data may serve edited or deleted links.

Behind: older than SHORTENER_BACKLOG_ALERT_SECONDS.
"""

from __future__ import annotations

from django.conf import settings

from core.health import Backlog
from shortener import clicks, selectors


def clicks_flush() -> Backlog:
    lag, limit = clicks.flush_lag_seconds(), settings.SHORTENER_BACKLOG_ALERT_SECONDS
    return Backlog(ok=lag <= limit, detail={"oldest_s": round(lag, 1), "limit_s": limit})


def cache_invalidations() -> Backlog:
    waiting, oldest = selectors.invalidation_backlog()
    limit = settings.SHORTENER_BACKLOG_ALERT_SECONDS
    return Backlog(
        ok=oldest <= limit,
        detail={"waiting": waiting, "oldest_s": round(oldest, 1), "limit_s": limit},
    )
