from celery import shared_task


@shared_task(name="core.ping")
def ping_task(payload: str = "ping") -> dict:
    """A round trip through the broker and a worker: proves the queue works end to end."""
    import socket

    return {"echo": payload, "worker": socket.gethostname()}
