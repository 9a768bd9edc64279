"""The transactional outbox: work that must follow a commit, and must not be lost if the process,
the queue or Redis dies in between (docs/architecture.md, "The outbox").

    register("timeline.fan_out", handler=fan_out_step, queue="fanout")   # AppConfig.ready
    with transaction.atomic():
        tweet = Tweet.objects.create(...)
        emit("timeline.fan_out", {"tweet_id": tweet.id})                 # same transaction

`emit` writes an OutboxEvent row in the caller's transaction and, once it commits, sends a Celery
task (`core.outbox_relay`) on the topic's queue. The relay claims the row with a lease (one relay
at a time per row), calls the topic's handler and deletes the row when the handler says it is
done. A handler may do its work in steps (a fan-out of 10,000 followers: one page per step): it
returns its progress, which is saved in the row, and the relay sends itself again for the next
step, so no task runs long and other events interleave. Nothing here trusts the queue: the sweep
(`sweep`, Celery beat every OUTBOX_SWEEP_SECONDS) kicks every row whose kick should have been
claimed by now (a lost message, a Redis broker restarted empty, a worker killed mid-step: its
lease runs out). Delivery is therefore at least once: handlers must be idempotent.

A handler raising is retried by the sweep with exponential backoff (capped at OUTBOX_MAX_BACKOFF);
the row stays, with its error, until it succeeds: nothing is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.models import OutboxEvent

logger = logging.getLogger(__name__)

# A handler gets (payload, state) and returns the new state to run again, or None when done.
Handler = Callable[[dict[str, Any], Any], Any]

LEASE = timedelta(seconds=60)  # a relay killed mid-step holds its row this long at most
KICK_GRACE = timedelta(seconds=10)  # a kick sent on commit should be claimed well within this
MAX_BACKOFF = timedelta(minutes=5)
SWEEP_BATCH = 500


@dataclass(frozen=True)
class Topic:
    name: str
    handler: Handler
    queue: str


_TOPICS: dict[str, Topic] = {}


def register(name: str, *, handler: Handler, queue: str = "default") -> None:
    """Make `handler` the one that runs events of topic `name`, on Celery queue `queue`. One step
    of a handler must take well under LEASE, or a second relay could start it meanwhile."""
    _TOPICS[name] = Topic(name, handler, queue)


def emit(topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Record that `topic`'s handler must run with `payload`, in the caller's transaction (which
    must be open: the point is that the event commits or rolls back with the change). After the
    commit a relay is kicked; if that kick is lost, the sweep sends another."""
    if topic not in _TOPICS:
        raise LookupError(f"No outbox handler registered for {topic!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("outbox.emit belongs inside the transaction of the change it follows")
    now = timezone.now()
    event = OutboxEvent.objects.create(
        topic=topic, payload=payload, created_at=now, due_at=now + KICK_GRACE
    )
    transaction.on_commit(lambda: kick(event.id, topic))
    return event


def kick(event_id: int, topic: str) -> None:
    """Send a relay for `event_id` on its topic's queue. Never raises: with the broker down the
    row waits for the sweep (the broker being Redis, a request must not fail with it)."""
    from core.tasks import outbox_relay_task

    try:
        # No result: nothing reads it, and sending a task that keeps one first subscribes to the
        # result store, which retries for some 20 s when it (the broker's Redis) is down.
        outbox_relay_task.apply_async(
            (event_id,), queue=_TOPICS[topic].queue, retry=False, ignore_result=True
        )
    except Exception as exc:  # the sweep re-drives it; the caller's change is committed
        logger.warning("outbox: could not enqueue event %s (%s), the sweep will: %r", event_id,
                       topic, exc)  # fmt: skip


def relay(event_id: int) -> str:
    """Run one step of event `event_id`: claim it (a lease; another relay holding it, or a topic
    this process does not know, means this one returns "busy"), call its handler, then delete the
    row ("done") or save the handler's progress and kick the next step ("more"). A handler that
    raises leaves the row for the sweep, with backoff ("failed"). "gone": done already (a
    duplicate kick)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_outbox_event SET locked_until = now() + %s, attempts = attempts + 1"
            " WHERE id = %s AND (locked_until IS NULL OR locked_until < now())"
            # A process that does not know the topic (an older deploy) leaves it to one that does.
            " AND topic = ANY(%s)"
            " RETURNING topic, payload, state, attempts",
            [LEASE, event_id, list(_TOPICS)],
        )
        row = cursor.fetchone()
    if row is None:
        return "busy" if OutboxEvent.objects.filter(id=event_id).exists() else "gone"
    topic_name, payload, state, attempts = row
    payload, state = _json(payload), _json(state)
    topic = _TOPICS[topic_name]
    try:
        new_state = topic.handler(payload, state)
    except Exception as exc:
        backoff = min(KICK_GRACE * 2 ** min(attempts, 10), MAX_BACKOFF)
        OutboxEvent.objects.filter(id=event_id).update(
            locked_until=None, due_at=timezone.now() + backoff, last_error=repr(exc)[:2000]
        )
        logger.warning("outbox: %s #%s failed (attempt %s), retry in %s: %r", topic_name,
                       event_id, attempts, backoff, exc)  # fmt: skip
        return "failed"
    if new_state is None:
        OutboxEvent.objects.filter(id=event_id).delete()
        return "done"
    OutboxEvent.objects.filter(id=event_id).update(
        state=new_state, locked_until=None, due_at=timezone.now() + KICK_GRACE, attempts=0
    )
    kick(event_id, topic_name)
    return "more"


def sweep(*, limit: int = SWEEP_BATCH) -> int:
    """Kick every event that is due and not leased (its kick was lost, its relay died, its
    handler failed and its backoff is over), oldest first, at most `limit`. Returns how many.
    Pushes each row's due_at on by KICK_GRACE, so a slow queue does not get the same row twice
    per sweep."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(due_at__lte=now)
            .exclude(locked_until__gt=now)
            .order_by("due_at")
            .values_list("id", "topic")[:limit]
        )
        OutboxEvent.objects.filter(id__in=[event_id for event_id, _ in due]).update(
            due_at=now + KICK_GRACE
        )
    for event_id, topic in due:
        if topic in _TOPICS:
            kick(event_id, topic)
    return len(due)


def backlog_of(topics: tuple[str, ...]) -> tuple[int, float]:
    """(events of `topics` waiting, age of the oldest in seconds; 0 when none)."""
    from django.db.models import Count, Min

    found = OutboxEvent.objects.filter(topic__in=topics).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    if not found["n"]:
        return 0, 0.0
    return found["n"], max(0.0, (timezone.now() - found["oldest"]).total_seconds())


def _json(value: Any) -> Any:
    # A raw cursor returns jsonb as str with some psycopg configurations, parsed with others.
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value
