"""Tweets, follows, profiles and media: the source of truth of the timeline (docs/timeline.md).

Home feeds live in Redis (timeline/feeds.py) and are a read model of these tables: every feed can
be rebuilt from them, so losing Redis loses no tweet and no follow.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Range

# The stored text's bound in code points: 280 weighted characters, where a link counts 23 and
# may be up to 2,048 long (the shortener's bound), fit with room to spare.
MAX_STORED_CHARACTERS = 4000


class AuthorMode(models.TextChoices):
    """How an author's tweets reach their followers (timeline/fanout.py)."""

    PUSH = "push", "push: fanned out to every active follower's feed"
    PULL = "pull", "pull: a celebrity, merged into followers' feeds at read time"
    # Back under the threshold: new tweets are pushed, and the tweets of the pull period are
    # being delivered to the followers' feeds; reads still merge until that is done.
    DRAINING = "draining", "draining: pushed again, its pull-period tweets being delivered"


class Profile(models.Model):
    """A user's timeline-side row: exact counts (updated in the transaction of the change) and
    how their tweets are delivered. Created on first use (services.profile_for)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="timeline_profile",
    )
    followers_count = models.BigIntegerField(default=0)
    following_count = models.BigIntegerField(default=0)
    tweets_count = models.BigIntegerField(default=0)
    mode = models.CharField(max_length=8, choices=AuthorMode.choices, default=AuthorMode.PUSH)
    # The first tweet id that was not pushed in the current (or last) pull period: draining
    # delivers the author's tweets from here on.
    pulled_since_id = models.BigIntegerField(null=True, blank=True)
    # Fan-out skips followers not seen for TIMELINE_INACTIVE_DAYS (written at most hourly).
    last_active_at = models.DateTimeField()

    class Meta:
        db_table = "timeline_profile"
        indexes = [
            # The few authors whose tweets are merged at read time.
            models.Index(fields=["user"], name="profile_pulled", condition=~Q(mode="push")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(followers_count__gte=0)
                & Q(following_count__gte=0)
                & Q(tweets_count__gte=0),
                name="profile_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(mode__in=["push", "pull", "draining"]), name="profile_mode"
            ),
        ]

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"


class Follow(models.Model):
    id = models.BigIntegerField(primary_key=True)  # Snowflake: lists page newest first by it
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_edges"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_edges"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "timeline_follow"
        indexes = [
            # Fan-out reads an author's followers in keyset pages of follower id.
            models.Index(fields=["followee", "follower"], name="follow_followee_follower"),
            models.Index(fields=["followee", "-id"], name="follow_followers_newest"),
            models.Index(fields=["follower", "-id"], name="follow_following_newest"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(
                condition=~Q(follower=F("followee")), name="follow_not_yourself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class Tweet(models.Model):
    id = models.BigIntegerField(primary_key=True)  # Snowflake: time-ordered, the feeds' score
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tweets"
    )
    # 1-280 by Twitter's weighted count (timeline/text.py); a link counts 23 whatever its length,
    # so the stored text is bounded separately (MAX_STORED_CHARACTERS).
    text = models.TextField()
    # No foreign key: a reply keeps pointing at a deleted tweet ("in reply to a deleted tweet").
    reply_to_id = models.BigIntegerField(null=True, blank=True)
    # The attached media as shown: [{"id", "type", "url", "preview_url"}], fixed at posting.
    media = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "timeline_tweet"
        indexes = [
            models.Index(fields=["author", "-id"], name="tweet_author_newest"),
            models.Index(fields=["reply_to_id", "id"], name="tweet_replies",
                         condition=Q(reply_to_id__isnull=False)),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                condition=Range(Length("text"), (1, MAX_STORED_CHARACTERS)),
                name="tweet_text_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"tweet {self.id} by {self.author_id}"


class MediaKind(models.TextChoices):
    IMAGE = "image", "image"
    VIDEO = "video", "video"


class MediaStatus(models.TextChoices):
    PROCESSING = "processing", "processing (thumbnails, transcodes)"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


class Media(models.Model):
    """An uploaded image or video (timeline/media.py). Files are stored through Django's storage
    API under content-addressed names; only their URLs go into a tweet."""

    id = models.BigIntegerField(primary_key=True)  # Snowflake
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media"
    )
    kind = models.CharField(max_length=8, choices=MediaKind.choices)
    status = models.CharField(
        max_length=12, choices=MediaStatus.choices, default=MediaStatus.PROCESSING
    )
    sha256 = models.CharField(max_length=64)  # of the stored original: its content address
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()  # bytes of the stored original
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    files = models.JSONField(default=dict, blank=True)  # role ("original", "thumb", ...) -> name
    error = models.TextField(blank=True)
    tweet = models.ForeignKey(
        Tweet, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "timeline_media"
        indexes = [models.Index(fields=["owner", "-id"], name="media_owner_newest")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"
