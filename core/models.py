from django.db import models


class WorkerLease(models.Model):
    """A Snowflake worker id leased from PostgreSQL, used only when Redis (the normal lease
    store) cannot be reached. Ids 512-1023 are leased here and 0-511 in Redis, so the two
    stores can never hand one id to two live processes. See core/snowflake.py."""

    worker_id = models.PositiveSmallIntegerField(primary_key=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "core_worker_lease"

    def __str__(self) -> str:
        return f"worker {self.worker_id} until {self.expires_at:%H:%M:%S}"


class OutboxEvent(models.Model):
    """Work that must happen after a commit (a fan-out, a saga step), written in the same
    transaction as the change that causes it: the transactional outbox (core/outbox.py).

    A row lives until its handler has finished, then it is deleted. `state` is the handler's
    progress (a fan-out's last follower), so a relay killed mid-way resumes where it stopped.
    `due_at`: when the sweep kicks the row if no relay has claimed it; `locked_until`: the lease
    of the relay running it."""

    id = models.BigAutoField(primary_key=True)
    topic = models.CharField(max_length=64)
    payload = models.JSONField()
    state = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "core_outbox_event"
        indexes = [
            models.Index(fields=["due_at"], name="outbox_due"),
            models.Index(fields=["topic", "created_at"], name="outbox_topic_age"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.id}"
