"""Reads of the timeline from PostgreSQL: tweets, profiles, follow lists, the pull model, and
hydration of feed entries (the tweet cache first, one batched SELECT for the rest).
The home timeline itself is timeline/home.py."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from core.scripts import RedisUnavailable
from timeline import feeds
from timeline.models import AuthorMode, Follow, Profile, Tweet

USERNAME = re.compile(r"[\w.@+-]{1,150}")  # Django's username rule (UnicodeUsernameValidator)


def user_by_username(username: str) -> User | None:
    """The active user called `username` (ignoring case), or None; also for a string that is no
    username at all (a NUL byte would reach PostgreSQL and be a 500)."""
    if not USERNAME.fullmatch(username):
        return None
    try:
        user = User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        return None
    return user if user.is_active else None


def tweet_dict(tweet: Tweet) -> dict:
    """A tweet as every reader gets it (the API's shape, and the tweet cache's): ids as strings."""
    return {
        "id": str(tweet.id),
        "author": {"id": str(tweet.author_id), "username": tweet.author.username},
        "text": tweet.text,
        "created_at": tweet.created_at.isoformat().replace("+00:00", "Z"),
        "reply_to_id": None if tweet.reply_to_id is None else str(tweet.reply_to_id),
        "media": tweet.media,
    }


def tweet_by_id(tweet_id: int) -> Tweet | None:
    return Tweet.objects.select_related("author").filter(id=tweet_id).first()


def replies_to(tweet_id: int) -> QuerySet[Tweet]:
    return Tweet.objects.select_related("author").filter(reply_to_id=tweet_id)


def tweets_by(author: User) -> QuerySet[Tweet]:
    return Tweet.objects.select_related("author").filter(author=author)


def followers_of(user: User) -> QuerySet[Follow]:
    return Follow.objects.select_related("follower").filter(followee=user)


def followed_by(user: User) -> QuerySet[Follow]:
    return Follow.objects.select_related("followee").filter(follower=user)


def profile_summary(*, user: User, viewer: User | None) -> dict:
    """Counts (exact: kept in the transactions of the changes) and whether `viewer` follows."""
    profile = Profile.objects.filter(user_id=user.id).first()
    following = bool(
        viewer is not None
        and viewer.is_authenticated
        and viewer.id != user.id
        and Follow.objects.filter(follower_id=viewer.id, followee_id=user.id).exists()
    )
    return {
        "id": str(user.id),
        "username": user.username,
        "joined_at": user.date_joined.isoformat().replace("+00:00", "Z"),
        "followers_count": profile.followers_count if profile else 0,
        "following_count": profile.following_count if profile else 0,
        "tweets_count": profile.tweets_count if profile else 0,
        "celebrity": bool(profile and profile.mode != AuthorMode.PUSH),
        "following": following,
    }


def pulled_followees(reader_id: int, *, limit: int) -> list[int]:
    """Up to `limit` authors `reader_id` follows whose tweets are merged at read time (pull or
    draining mode). One query, served by the partial index of pulled profiles."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.followee_id FROM {Follow._meta.db_table} f"
            f" JOIN {Profile._meta.db_table} p ON p.user_id = f.followee_id"
            " WHERE f.follower_id = %s AND p.mode IN (%s, %s) LIMIT %s",
            [reader_id, AuthorMode.PULL, AuthorMode.DRAINING, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def followed_among(reader_id: int, author_ids: set[int]) -> set[int]:
    """The authors among `author_ids` that `reader_id` follows, plus the reader: the read-time
    check that keeps an unfollowed author out, however a stale entry got into a feed. Plain SQL,
    as `pulled_followees`: the ORM's query cost more to plan than to run, on every read."""
    others = list(author_ids - {reader_id})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT followee_id FROM {Follow._meta.db_table}"
            " WHERE follower_id = %s AND followee_id = ANY(%s)",
            [reader_id, others],
        )
        found = {row[0] for row in cursor.fetchall()}
    return found | ({reader_id} & author_ids)


def pull_tweets(
    reader_id: int,
    *,
    max_id: int | None = None,
    since_id: int | None = None,
    limit: int = 20,
    ascending: bool = False,
) -> list[Tweet]:
    """The pull model: the reader's own tweets and those of everyone they follow, newest first
    (oldest first above `since_id` if `ascending`), bounds exclusive. One SQL query over follows
    and tweets, as Bluesky's appview builds a timeline. The fallback whenever Redis cannot
    answer, the source of rebuilds, and the oracle of the tests."""
    followees = Follow.objects.filter(follower_id=reader_id).values("followee_id")
    query = Tweet.objects.select_related("author").filter(
        Q(author_id__in=followees) | Q(author_id=reader_id)
    )
    if max_id is not None:
        query = query.filter(id__lt=max_id)
    if since_id is not None:
        query = query.filter(id__gt=since_id)
    return list(query.order_by("id" if ascending else "-id")[:limit])


def newest_entries(*, reader_id: int | None = None, author_id: int | None = None, limit: int):
    """(tweet id, author id) of the newest `limit` tweets of a home timeline (`reader_id`) or of
    one author (`author_id`), newest first: what a rebuild loads."""
    if reader_id is not None:
        followees = Follow.objects.filter(follower_id=reader_id).values("followee_id")
        query = Tweet.objects.filter(Q(author_id__in=followees) | Q(author_id=reader_id))
    else:
        query = Tweet.objects.filter(author_id=author_id)
    return list(query.order_by("-id").values_list("id", "author_id")[:limit])


def hydrate(entries: Sequence[tuple[int, int]]) -> list[dict]:
    """The tweets of `entries`, in their order, as tweet_dict shapes them: from the tweet cache
    (one MGET), the misses in one SELECT (and written back). A tweet that no longer exists, or is
    being deleted (a tombstone in the cache), is left out, whatever a feed still holds."""
    ids = [tweet_id for tweet_id, _ in entries]
    try:
        found = feeds.cached_tweets(ids)
    except RedisUnavailable:
        found: dict[int, dict | None] = {}
        redis_up = False
    else:
        redis_up = True
    missing = [tweet_id for tweet_id in ids if tweet_id not in found]
    if missing:
        rows = Tweet.objects.select_related("author").filter(id__in=missing)
        loaded = [tweet_dict(tweet) for tweet in rows]
        if redis_up and loaded:
            with contextlib.suppress(RedisUnavailable):
                feeds.cache_tweets(loaded, fill=True)
        found.update({int(t["id"]): t for t in loaded})
    return [found[tweet_id] for tweet_id in ids if found.get(tweet_id) is not None]
