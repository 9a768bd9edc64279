"""Writes of the timeline: post and delete tweets, follow and unfollow (docs/timeline.md).

Each write commits its rows and its outbox event (core.outbox) in one transaction: the fan-out,
the delete's removal from feeds, a follow's backfill and an unfollow's cleanup are done by
timeline/fanout.py's handlers on the `fanout` queue, and the outbox re-drives them if their
message is lost. After the commit, the author's own timelines and the tweet cache are written
through at once (best effort: the handler writes them again), so an author sees their tweet
without waiting for the queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core import outbox
from core.errors import ForbiddenError, InvalidInputError, NotFoundError
from core.scripts import RedisUnavailable
from core.snowflake import next_id
from timeline import feeds, media
from timeline.errors import CannotFollowYourselfError
from timeline.models import AuthorMode, Follow, Profile, Tweet
from timeline.selectors import tweet_dict, user_by_username
from timeline.text import clean_text

logger = logging.getLogger(__name__)

FAN_OUT, DELETE, FOLLOW, UNFOLLOW, DRAIN = (
    "timeline.fan_out", "timeline.delete", "timeline.follow", "timeline.unfollow",
    "timeline.drain",
)  # fmt: skip
ACTIVE_WRITE_EVERY = timedelta(hours=1)


def ensure_profiles(*user_ids: int) -> None:
    """Create the missing Profile rows of `user_ids` (a user's first tweet, follow or read)."""
    now = timezone.now()
    Profile.objects.bulk_create(
        [Profile(user_id=user_id, last_active_at=now) for user_id in user_ids],
        ignore_conflicts=True,
    )


def post_tweet(
    *, author: User, text: str, reply_to_id: int | None = None, media_ids: list[int] | None = None
) -> Tweet:
    """Post a tweet. Raises InvalidInputError (400) for a text Twitter would refuse
    (timeline/text.py), a reply to no tweet, or media that cannot be attached (timeline/media.py).
    The tweet, its count and its fan-out event commit together."""
    text = clean_text(text)
    ensure_profiles(author.id)
    with transaction.atomic():
        if reply_to_id is not None and not Tweet.objects.filter(id=reply_to_id).exists():
            raise InvalidInputError.for_field("reply_to_id", "No tweet with this id.")
        tweet = Tweet(
            id=next_id(),
            author=author,
            text=text,
            reply_to_id=reply_to_id,
            created_at=timezone.now(),
        )
        tweet.media = media.attach_media(owner=author, media_ids=media_ids or [], tweet=tweet)
        tweet.save(force_insert=True)
        Profile.objects.filter(user_id=author.id).update(tweets_count=F("tweets_count") + 1)
        outbox.emit(FAN_OUT, {"tweet_id": tweet.id, "author_id": author.id})
        transaction.on_commit(lambda: _write_through(tweet))
    return tweet


def _write_through(tweet: Tweet) -> None:
    # The seed's write-through: the cache and the author's own timelines get the tweet now.
    try:
        feeds.cache_tweets([tweet_dict(tweet)])
        entry = [(tweet.id, tweet.author_id)]
        feeds.deliver([(feeds.posts(tweet.author_id), entry), (feeds.home(tweet.author_id), entry)])
    except RedisUnavailable as exc:
        logger.warning("timeline: tweet %s not written through (the fan-out will): %s",
                       tweet.id, exc)  # fmt: skip


def delete_tweet(*, user: User, tweet_id: int) -> None:
    """Delete a tweet of `user`'s. NotFoundError (404) if there is none, ForbiddenError (403) if
    it is someone else's. The row goes at once (every read hydrates from the cache or the table,
    so it stops showing at once); its removal from feeds follows through the outbox."""
    with transaction.atomic():
        tweet = Tweet.objects.select_for_update().filter(id=tweet_id).first()
        if tweet is None:
            raise NotFoundError("No tweet with this id.")
        if tweet.author_id != user.id:
            raise ForbiddenError("Only the author can delete a tweet.")
        try:
            feeds.bury_tweet(tweet_id)  # before the commit: no reader refills it meanwhile
        except RedisUnavailable as exc:
            # Readers who reach Redis could see the cached copy until the outbox's handler
            # buries it (docs/timeline.md, "What degrades"); the row goes now.
            logger.warning("timeline: tweet %s not buried in the cache yet: %s", tweet_id, exc)
        tweet.delete()
        Profile.objects.filter(user_id=user.id).update(tweets_count=F("tweets_count") - 1)
        outbox.emit(DELETE, {"tweet_id": tweet_id, "author_id": user.id})
        transaction.on_commit(lambda: _forget(tweet_id, user.id))


def _forget(tweet_id: int, author_id: int) -> None:
    try:
        feeds.bury_tweet(tweet_id)
        feeds.remove_entries([feeds.posts(author_id), feeds.home(author_id)],
                             [(tweet_id, author_id)])  # fmt: skip
    except RedisUnavailable as exc:
        logger.warning("timeline: tweet %s not buried yet (the outbox will): %s", tweet_id, exc)


@dataclass(frozen=True)
class FollowResult:
    followee: User
    changed: bool  # False: it already was so (follow and unfollow are idempotent)


def follow(*, follower: User, username: str) -> FollowResult:
    """`follower` follows `username`. Idempotent. NotFoundError (404) for an unknown user,
    CannotFollowYourselfError (400). The edge, both counts and the backfill event commit
    together; the counts' rows are locked in user-id order (no deadlock between a->b and b->a).
    An author whose followers pass TIMELINE_CELEBRITY_FOLLOWERS becomes pulled (a celebrity)."""
    followee = _followee(follower, username)
    ensure_profiles(follower.id, followee.id)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Follow.objects.create(id=next_id(), follower=follower, followee=followee)
        except IntegrityError:
            return FollowResult(followee, changed=False)
        author = _count_edge(follower_id=follower.id, followee_id=followee.id, delta=1)
        if author.mode == AuthorMode.PUSH and _is_celebrity(author):
            # From this id on, its tweets are not pushed (draining will deliver them).
            author.mode, author.pulled_since_id = AuthorMode.PULL, next_id()
            author.save(update_fields=["mode", "pulled_since_id"])
        elif author.mode == AuthorMode.DRAINING and _is_celebrity(author):
            # Back over before the drain finished: keep the older boundary, it covers more.
            author.mode = AuthorMode.PULL
            author.save(update_fields=["mode"])
        payload = {"follower_id": follower.id, "followee_id": followee.id}
        outbox.emit(FOLLOW, payload)
        transaction.on_commit(lambda: _backfill_now(payload))
    return FollowResult(followee, changed=True)


def _backfill_now(payload: dict) -> None:
    # The backfill at once, so that the follower's next read already shows the followee (it was
    # empty for a second, waiting for the queue: found by the outside review). Best effort: the
    # outbox event does it again if this fails, and doing it twice adds nothing.
    from timeline import fanout  # fanout imports this module

    try:
        fanout.follow_step(payload, None)
    except (RedisUnavailable, RuntimeError) as exc:
        logger.warning("timeline: backfill of %s left to the outbox: %s", payload, exc)


def unfollow(*, follower: User, username: str) -> FollowResult:
    """`follower` stops following `username`. Idempotent; errors as `follow`. The author's
    entries leave the follower's feed through the outbox (never the follower's own). A
    celebrity back at or under the threshold is pushed again, and its pull-period tweets are
    delivered to its followers (DRAIN) while reads go on merging them."""
    followee = _followee(follower, username)
    with transaction.atomic():
        deleted, _ = Follow.objects.filter(follower=follower, followee=followee).delete()
        if not deleted:
            return FollowResult(followee, changed=False)
        author = _count_edge(follower_id=follower.id, followee_id=followee.id, delta=-1)
        if author.mode == AuthorMode.PULL and not _is_celebrity(author):
            author.mode = AuthorMode.DRAINING
            author.save(update_fields=["mode"])
            # drain_id orders the drains of one author: only the newest declares it pushed.
            outbox.emit(DRAIN, {"author_id": author.user_id, "drain_id": next_id()})
        outbox.emit(UNFOLLOW, {"follower_id": follower.id, "followee_id": followee.id})
    return FollowResult(followee, changed=True)


def _followee(follower: User, username: str) -> User:
    followee = user_by_username(username)
    if followee is None:
        raise NotFoundError(f"No user called {username!r}.")
    if followee.id == follower.id:
        raise CannotFollowYourselfError("You cannot follow yourself.")
    return followee


def _count_edge(*, follower_id: int, followee_id: int, delta: int) -> Profile:
    """Apply `delta` to both counts of one edge, with both rows locked in id order. Returns the
    followee's profile, as locked and updated."""
    rows = {
        p.user_id: p
        for p in Profile.objects.select_for_update()
        .filter(user_id__in=[follower_id, followee_id])
        .order_by("user_id")
    }
    Profile.objects.filter(user_id=follower_id).update(following_count=F("following_count") + delta)
    Profile.objects.filter(user_id=followee_id).update(followers_count=F("followers_count") + delta)
    author = rows[followee_id]
    author.followers_count += delta
    return author


def _is_celebrity(profile: Profile) -> bool:
    return profile.followers_count > settings.TIMELINE_CELEBRITY_FOLLOWERS


def finish_drain(*, author_id: int) -> bool:
    """The drain of `author_id` delivered every pull-period tweet: push it from now on. False if
    it went back over the threshold meanwhile (then it stays pulled)."""
    return bool(
        Profile.objects.filter(user_id=author_id, mode=AuthorMode.DRAINING).update(
            mode=AuthorMode.PUSH
        )
    )


def note_reader_active(*, user: User) -> bool:
    """Record that `user` reads their timeline (at most once per ACTIVE_WRITE_EVERY: not a write
    per read). Returns True if they had been inactive for TIMELINE_INACTIVE_DAYS: fan-out may have
    skipped them, so their feed is dropped here and rebuilt by the read."""
    now = timezone.now()
    last = Profile.objects.filter(user_id=user.id).values_list("last_active_at", flat=True).first()
    if last is None:  # a first read: the row, not a write on every read
        ensure_profiles(user.id)
        return False
    if last is not None and now - last < ACTIVE_WRITE_EVERY:
        return False
    returning = last is not None and now - last >= timedelta(days=settings.TIMELINE_INACTIVE_DAYS)
    if returning:
        try:
            feeds.drop(feeds.home(user.id))
        except RedisUnavailable:
            # Not marked active until the feed is gone: the next read tries again (this one is
            # answered from PostgreSQL, Redis being down).
            return True
    Profile.objects.filter(user_id=user.id).update(last_active_at=now)
    return returning
