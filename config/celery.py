"""The Celery app: Redis broker, one queue per workload (bulkhead), late acks.

Queues: `clicks` (shortener write-behind), `fanout` (timeline), `media` (thumbnails and
transcodes of uploads, seconds of CPU each), `payments` (outbox relay) and `default`. A slow
consumer on one queue cannot starve another when workers are started per queue
(`celery -A config worker -Q media`); `make run` starts one worker for `media` and one for the
other four (Procfile).
Outbox relays (`core.outbox_relay`) are routed per call, to the queue their topic was registered
with (core/outbox.py): `timeline.process_media` goes to `media`.
"""

import os

from celery import Celery
from django.conf import settings
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sysdesign")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("default", "clicks", "fanout", "media", "payments")

app.conf.update(
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue="default",
    # At-least-once delivery: a task is acknowledged after it ran, so a worker killed mid-task
    # leaves it to be redelivered. Every task must therefore be idempotent (STYLE.md).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    # Redis transport: a task not acked within this many seconds is redelivered. It must exceed
    # the longest task, or a slow task runs twice.
    broker_transport_options={"visibility_timeout": 3600},
    timezone="UTC",
    task_routes={
        "shortener.flush_clicks": {"queue": "clicks"},
    },
    # Apps add their periodic tasks here (see each app's tasks.py).
    beat_schedule={
        # Outbox events whose kick was lost or whose relay died (core/outbox.py).
        "core-outbox-sweep": {
            "task": "core.outbox_sweep",
            "schedule": settings.OUTBOX_SWEEP_SECONDS,
            "options": {"expires": settings.OUTBOX_SWEEP_SECONDS},
        },
        # Write-behind click counts and events, Redis -> PostgreSQL (shortener/clicks/).
        # `expires`: a flush still queued when the next one is due is dropped, not run late:
        # a backed-up queue must not accumulate flushes (each one would find little to do).
        "shortener-flush-clicks": {
            "task": "shortener.flush_clicks",
            "schedule": settings.SHORTENER_CLICK_FLUSH_SECONDS,
            "options": {"queue": "clicks", "expires": settings.SHORTENER_CLICK_FLUSH_SECONDS},
        },
        # Cache invalidations that Redis missed while unreachable (shortener.services' outbox).
        "shortener-retry-invalidations": {
            "task": "shortener.retry_invalidations",
            "schedule": settings.SHORTENER_CLICK_FLUSH_SECONDS,
            "options": {"expires": settings.SHORTENER_CLICK_FLUSH_SECONDS},
        },
    },
)
app.autodiscover_tasks()
