"""Helpers of the timeline's tests: run the outbox in-process, and the pull-model oracle."""

from __future__ import annotations

from core import outbox
from core.models import OutboxEvent
from timeline import selectors


def run_outbox(*, max_steps: int = 10_000) -> int:
    """Run every pending outbox event to completion in this process, oldest first (what the
    `fanout` workers do); returns the steps run. For service tests; the queue itself is tested
    with a real worker."""
    steps = 0
    while steps < max_steps:
        pending = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True)[:100])
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
