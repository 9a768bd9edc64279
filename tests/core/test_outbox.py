"""The transactional outbox (core/outbox.py): an event commits or rolls back with the change,
runs to completion in steps, survives a failing handler and a lost kick, and two relays never
run one event at once. Real PostgreSQL; relays run in-process (the timeline's tests run them on a
real worker)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent

pytestmark = pytest.mark.django_db

calls: list[tuple[dict, object]] = []


def counting(payload, state):
    calls.append((payload, state))
    step = (state or 0) + 1
    return None if step >= payload["steps"] else step


def failing(payload, state):
    raise RuntimeError("the bank is down")


@pytest.fixture(autouse=True)
def _topics():
    calls.clear()
    outbox.register("test.counting", handler=counting)
    outbox.register("test.failing", handler=failing)
    yield
    outbox._TOPICS.pop("test.counting", None)
    outbox._TOPICS.pop("test.failing", None)


@pytest.mark.django_db(transaction=True)
def test_emit_belongs_inside_a_transaction_and_to_a_registered_topic():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.emit("test.counting", {"steps": 1})
    with transaction.atomic(), pytest.raises(LookupError):
        outbox.emit("test.nobody", {})


def test_an_event_rolls_back_with_its_change(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as kicks:
        try:
            with transaction.atomic():
                outbox.emit("test.counting", {"steps": 1})
                raise ValueError("the change failed")
        except ValueError:
            pass
    assert not OutboxEvent.objects.exists()
    assert kicks == []


def test_a_handler_runs_in_steps_with_its_progress_saved_then_the_row_goes():
    with transaction.atomic():
        event = outbox.emit("test.counting", {"steps": 3})

    results = [outbox.relay(event.id) for _ in range(3)]

    assert results == ["more", "more", "done"]
    assert [state for _, state in calls] == [None, 1, 2]
    assert not OutboxEvent.objects.exists()
    assert outbox.relay(event.id) == "gone"  # a duplicate kick after the end


def test_a_failing_handler_keeps_its_row_with_the_error_and_backs_off():
    with transaction.atomic():
        event = outbox.emit("test.failing", {})

    assert outbox.relay(event.id) == "failed"
    row = OutboxEvent.objects.get(id=event.id)
    assert "the bank is down" in row.last_error
    assert row.locked_until is None and row.due_at > timezone.now() + timedelta(seconds=15)
    assert outbox.sweep() == 0  # not due yet: backoff
    OutboxEvent.objects.filter(id=event.id).update(due_at=timezone.now())
    assert outbox.sweep() == 1


def test_the_sweep_kicks_what_was_lost_and_skips_what_a_relay_holds():
    with transaction.atomic():
        lost = outbox.emit("test.counting", {"steps": 1})
        held = outbox.emit("test.counting", {"steps": 1})
    assert outbox.sweep() == 0  # both within their grace: the commit's kicks are on their way
    past = timezone.now() - timedelta(seconds=1)
    OutboxEvent.objects.update(due_at=past)
    OutboxEvent.objects.filter(id=held.id).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )

    assert outbox.sweep() == 1
    assert OutboxEvent.objects.get(id=lost.id).due_at > timezone.now()  # not kicked twice at once
    assert outbox.relay(held.id) == "busy"


def slow(payload, state):
    calls.append((payload, state))
    time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_two_relays_of_one_event_never_run_it_at_once():
    outbox.register("test.slow", handler=slow)
    try:
        # The row without emit's kick: a real worker of the session (tests/conftest.py) could
        # take it, and knows no "test.slow".
        now = timezone.now()
        event = OutboxEvent.objects.create(
            topic="test.slow", payload={}, created_at=now, due_at=now
        )
        results: list[str] = []

        def relay() -> None:
            try:
                results.append(outbox.relay(event.id))
            finally:
                connection.close()

        threads = [threading.Thread(target=relay) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        outbox._TOPICS.pop("test.slow", None)

    assert results.count("done") == 1 and set(results) <= {"done", "busy", "gone"}
    assert len(calls) == 1


def test_a_relay_leaves_alone_an_event_whose_topic_it_does_not_know():
    now = timezone.now()
    event = OutboxEvent.objects.create(topic="test.newer", payload={}, created_at=now, due_at=now)

    assert outbox.relay(event.id) == "busy"
    assert OutboxEvent.objects.get(id=event.id).locked_until is None  # not claimed
