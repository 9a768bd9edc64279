"""Celery tasks of the URL shortener: thin, each one service call (shortener/clicks/,
shortener/services.py)."""

from dataclasses import asdict
from typing import Any

from celery import shared_task

from shortener import services
from shortener.clicks import flush_clicks


@shared_task(name="shortener.flush_clicks")
def flush_clicks_task() -> dict[str, Any]:
    """Run by Celery beat every SHORTENER_CLICK_FLUSH_SECONDS on the `clicks` queue (see
    config/celery.py). No retries: the next tick is seconds away, and the flush resumes any
    batch a failed run left open. Idempotent, so a redelivery (acks_late) is harmless."""
    return asdict(flush_clicks())


@shared_task(name="shortener.retry_invalidations")
def retry_invalidations_task() -> int:
    """Run by Celery beat every SHORTENER_CLICK_FLUSH_SECONDS on the `default` queue: the cache
    invalidations Redis missed (services.retry_invalidations). Idempotent: invalidating twice
    costs one cache miss."""
    return services.retry_invalidations()
