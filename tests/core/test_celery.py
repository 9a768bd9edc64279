"""The queue works end to end: a task goes through the real broker to a real worker process."""

import pytest

from config.celery import QUEUES, app
from core.tasks import ping_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_task_makes_a_round_trip_through_a_real_worker(celery_worker_process):
    result = ping_task.delay("hello")

    assert result.get(timeout=20) == {"echo": "hello", "worker": result.get()["worker"]}
    assert result.successful()


def test_each_workload_has_its_own_queue_and_a_task_can_be_sent_to_any(celery_worker_process):
    # Bulkhead: no two workloads share a queue. The test worker consumes all.
    assert {q.name for q in app.conf.task_queues} == set(QUEUES)
    assert set(QUEUES) == {"default", "clicks", "fanout", "media", "payments"}

    results = [ping_task.apply_async(args=[queue], queue=queue) for queue in QUEUES]

    assert [r.get(timeout=20)["echo"] for r in results] == list(QUEUES)


def test_tasks_are_acknowledged_late_so_a_lost_worker_means_redelivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_default_queue == "default"
