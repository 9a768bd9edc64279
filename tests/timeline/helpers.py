"""Helpers of the timeline's tests: run the outbox in-process, the pull-model oracle, and fan-out
worker processes of a test's own (started, killed, restarted by the test)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from tests.servers import _server_env
from timeline import selectors

ROOT = Path(__file__).resolve().parents[2]


def run_outbox(*, max_steps: int = 10_000, only: list[str] | None = None) -> int:
    """Run every pending outbox event (of the topics `only`, if given) to completion in this
    process, oldest first (what the `fanout` workers do); returns the steps run. For service
    tests; the queue itself is tested with a real worker."""
    steps = 0
    while steps < max_steps:
        events = OutboxEvent.objects.order_by("id")
        if only is not None:
            events = events.filter(topic__in=only)
        pending = list(events.values_list("id", flat=True)[:100])
        if not pending:
            return steps
        for event_id in pending:
            while outbox.relay(event_id) == "more":
                steps += 1
            steps += 1
    raise AssertionError("the outbox did not drain")


def oracle_ids(reader_id: int, *, limit: int = 10_000, **bounds) -> list[str]:
    """The home timeline as the pull model computes it from PostgreSQL."""
    return [str(t.id) for t in selectors.pull_tweets(reader_id, limit=limit, **bounds)]


def ids(page) -> list[str]:
    return [item["id"] for item in page.items]


# --- real worker processes ---------------------------------------------------------------------

_names = itertools.count()


class FanoutWorker:
    """A `celery worker -Q fanout --pool solo` process of the test's own, on the test database,
    Redis and broker, with `overrides` of settings (tests/timeline/worker_settings.py), so that
    the test can SIGKILL it and start it again. The test must commit its data
    (`django_db(transaction=True)`), and run it inside `fanout_only_to(...)` so that no other
    worker of the session takes its fan-outs."""

    def __init__(self, **overrides) -> None:
        self.overrides = overrides
        self.hostname = f"fanout-{os.getpid()}-{next(_names)}@{socket.gethostname()}"
        self.proc: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> FanoutWorker:
        """Start the process; with `wait`, until it answers a ping (a solo worker busy with a
        task answers none: `wait=False` when a task is waiting for it)."""
        from config.celery import app

        env = _server_env(
            {
                "CONN_MAX_AGE": "60",
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
                "DJANGO_SETTINGS_MODULE": "tests.timeline.worker_settings",
                "TEST_SETTINGS_OVERRIDES": json.dumps(self.overrides),
            }
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "fanout",
             "--pool", "solo", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--hostname", self.hostname],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while wait and not app.control.ping(destination=[self.hostname], timeout=0.3):
            assert self.proc.poll() is None, f"the worker exited with {self.proc.returncode}"
            assert time.monotonic() < deadline, "the worker did not answer a ping within 30 s"
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no ack, the lease it holds stays until it runs out."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def fanout_only_to(prefix: str = f"fanout-{os.getpid()}-") -> Iterator[None]:
    """While inside, workers whose name does not start with `prefix` (the session's worker of
    tests/conftest.py, whose settings are not the test's) stop consuming the `fanout` queue."""
    from config.celery import app

    others = [
        name
        for reply in app.control.ping(timeout=0.5)
        for name in reply
        if not name.startswith(prefix)
    ]
    if others:
        app.control.cancel_consumer("fanout", destination=others, reply=True, timeout=5)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("fanout")  # kicks of earlier tests' events, all gone
    try:
        yield
    finally:
        if others:
            app.control.add_consumer("fanout", destination=others, reply=True, timeout=5)


def wait_for_outbox(
    *workers: FanoutWorker, events: list[int] | None = None, timeout: float = 60.0
) -> None:
    """Until every outbox event (or every one of `events`) is done, with the workers running
    them. Stands in for Celery beat meanwhile: every second, sweep (a handler that failed, e.g.
    on a timeline another process was rebuilding, is retried at once, not after its backoff)."""
    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic() + 1
    waiting = (
        OutboxEvent.objects.all() if events is None else OutboxEvent.objects.filter(id__in=events)
    )
    while waiting.exists():
        assert all(w.alive() for w in workers), "a worker died"
        assert time.monotonic() < deadline, (
            f"the outbox did not drain: {list(OutboxEvent.objects.values('topic', 'last_error'))}"
        )
        if time.monotonic() > next_sweep:
            OutboxEvent.objects.filter(locked_until__isnull=True).exclude(last_error="").update(
                due_at=timezone.now()
            )
            outbox.sweep()
            next_sweep = time.monotonic() + 1
        time.sleep(0.02)
