from celery import shared_task


@shared_task(name="core.ping")
def ping_task(payload: str = "ping") -> dict:
    """A round trip through the broker and a worker: proves the queue works end to end."""
    import socket

    return {"echo": payload, "worker": socket.gethostname()}


@shared_task(name="core.outbox_relay", acks_late=True)
def outbox_relay_task(event_id: int) -> str:
    """One step of an outbox event (core.outbox.relay): sent on its topic's queue after the
    commit that wrote it, and again by the sweep if that was lost. Idempotent: a duplicate finds
    the row leased ("busy") or deleted ("gone")."""
    from core import outbox

    return outbox.relay(event_id)


@shared_task(name="core.outbox_sweep")
def outbox_sweep_task() -> int:
    """Celery beat, every OUTBOX_SWEEP_SECONDS: kick the outbox events whose kick was lost."""
    from core import outbox

    return outbox.sweep()
