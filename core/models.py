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
