"""A short link and its click analytics.

`Link.clicks` and `Link.bot_hits` are projections flushed from Redis in batches (write-behind,
see shortener/clicks/); `ClickEvent` rows arrive the same way. Nothing on the redirect path
writes to PostgreSQL.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import bounds


class RedirectType(models.IntegerChoices):
    MOVED_PERMANENTLY = 301, "301 Moved Permanently (browsers cache it; clicks go uncounted)"
    FOUND = 302, "302 Found (every visit counted; the default)"
    TEMPORARY_REDIRECT = 307, "307 Temporary Redirect (keeps the method)"
    PERMANENT_REDIRECT = 308, "308 Permanent Redirect (keeps the method; cached)"


class Link(models.Model):
    id = models.BigIntegerField("ID", primary_key=True)  # Snowflake (core.snowflake.next_id)
    code = models.CharField(max_length=32, unique=True)  # random base62 (7) or a custom alias
    is_alias = models.BooleanField("custom alias", default=False)
    long_url = models.TextField("long URL")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="links",
    )
    redirect_type = models.PositiveSmallIntegerField(
        choices=RedirectType.choices, default=RedirectType.FOUND
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    max_clicks = models.PositiveIntegerField(null=True, blank=True)
    password = models.CharField(max_length=128, blank=True)  # Django hasher output, or ""
    disabled = models.BooleanField(default=False)
    clicks = models.BigIntegerField(default=0)  # human clicks flushed from Redis
    bot_hits = models.BigIntegerField(default=0)  # bot visits flushed from Redis
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-id"], name="link_owner_newest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(redirect_type__in=[301, 302, 307, 308]), name="link_redirect_type"
            ),
            models.CheckConstraint(
                condition=Q(max_clicks__isnull=True) | Q(max_clicks__gte=1),
                name="link_max_clicks_positive",
            ),
            models.CheckConstraint(
                condition=Q(clicks__gte=0) & Q(bot_hits__gte=0), name="link_counts_non_negative"
            ),
            # core.bounds' range, enforced for every writer (the admin, a script, raw SQL): a
            # row Python cannot read back would break every page that meets it.
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True)
                | Q(expires_at__range=(bounds.DATETIME_MIN, bounds.DATETIME_MAX)),
                name="link_expires_at_in_range",
                violation_error_message=bounds.DATETIME_RANGE_MESSAGE,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} → {self.long_url[:60]}"

    @property
    def has_password(self) -> bool:
        return bool(self.password)


class Device(models.TextChoices):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"
    BOT = "bot"
    OTHER = "other"


class ClickEvent(models.Model):
    """One visit, as recorded on the redirect path and flushed in a batch.

    `stream_id` is the Redis stream entry id: unique, so a batch flushed twice (a worker died
    after the commit, before the XACK) inserts each event once.
    """

    id = models.BigAutoField(primary_key=True)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="click_events")
    stream_id = models.CharField("stream ID", max_length=40, unique=True)
    occurred_at = models.DateTimeField()
    referrer_host = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=10, choices=Device.choices)
    is_bot = models.BooleanField("bot", default=False)

    class Meta:
        indexes = [models.Index(fields=["link", "occurred_at"], name="click_link_time")]

    def __str__(self) -> str:
        return f"{self.link_id} at {self.occurred_at:%Y-%m-%d %H:%M:%S} ({self.device})"


class ClickFlush(models.Model):
    """A counter batch applied to `Link.clicks`. Its primary key makes a re-applied batch (the
    worker died between COMMIT and deleting the batch in Redis) a no-op, not a double count."""

    batch = models.CharField(max_length=64, primary_key=True)
    applied_at = models.DateTimeField(auto_now_add=True)
    links = models.PositiveIntegerField()
    clicks = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "click flushes"

    def __str__(self) -> str:
        return f"batch {self.batch}: {self.clicks} clicks on {self.links} links"


class PendingInvalidation(models.Model):
    """The outbox of cache invalidations (shortener.services). A row is written in the same
    transaction as an update or delete of the link with `code`, and deleted once Redis has
    dropped the code's cached entry. A row that outlives its request means Redis was unreachable
    then: `retry_invalidations` (Celery beat) drops the entry once Redis answers again, so a
    Redis that kept its data serves the old link for seconds, not until the entry's TTL."""

    id = models.BigAutoField(primary_key=True)
    code = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"invalidate {self.code} (since {self.created_at:%Y-%m-%d %H:%M:%S})"
