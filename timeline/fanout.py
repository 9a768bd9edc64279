"""Fan-out: the outbox handlers that move tweets into and out of home feeds (docs/timeline.md,
"Fan-out"). Each runs on the `fanout` queue through core.outbox, in steps of
TIMELINE_FANOUT_CHUNK followers read in keyset order from the follow table's index, each step one
pipelined Redis round trip of insert-and-trim scripts; its progress (the last follower) is saved
in the outbox row, so a worker killed mid-fan-out resumes there (a page delivered twice is the
same entries: ZADD is idempotent).

- fan_out_step: a new tweet to the author's own timelines, then to every active follower unless
  the author is a celebrity (pulled at read time instead).
- delete_step: a deleted tweet out of the same feeds (reads already hide it).
- follow_step: a new follower gets the followee's newest posts (the backfill).
- unfollow_step: a former follower loses the author's entries, and nothing else.
- drain_step: an author back under the celebrity threshold: its pull-period tweets are delivered
  to its followers, then it is pushed like anyone.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import snowflake
from core.models import OutboxEvent
from timeline import feeds, home, services
from timeline.models import AuthorMode, Follow, Profile, Tweet


def follower_page(author_id: int, *, after: int, active_only: bool) -> tuple[list[int], int | None]:
    """(followers to deliver to, the cursor for the next page or None at the end): one keyset
    page of TIMELINE_FANOUT_CHUNK follower ids above `after`, from the (followee, follower)
    index. Followers not seen for TIMELINE_INACTIVE_DAYS are skipped if `active_only` (their
    feed is rebuilt when they return)."""
    chunk = settings.TIMELINE_FANOUT_CHUNK
    cutoff = timezone.now() - timedelta(days=settings.TIMELINE_INACTIVE_DAYS)
    inactive = Exists(
        Profile.objects.filter(user_id=OuterRef("follower_id"), last_active_at__lt=cutoff)
    )
    rows = list(
        Follow.objects.filter(followee_id=author_id, follower_id__gt=after)
        .order_by("follower_id")
        .values_list("follower_id", inactive)[:chunk]
    )
    ids = [f for f, gone in rows if not (active_only and gone)]
    return ids, (rows[-1][0] if len(rows) == chunk else None)


def _deliver_to_followers(
    author_id: int, entries: list[tuple[int, int]], state: dict, *, floor: int | None = None
) -> dict | None:
    followers, after = follower_page(author_id, after=state.get("after", 0), active_only=True)
    if followers:
        added = feeds.deliver([(feeds.home(f), entries) for f in followers], floor=floor)
        feeds.record_deliveries(sum(1 for n in added if n > 0))
    state["delivered"] = state.get("delivered", 0) + len(followers)
    if after is None:
        return None
    return {**state, "after": after}


def fan_out_step(payload: dict[str, Any], state: dict | None) -> dict | None:
    tweet = Tweet.objects.filter(id=payload["tweet_id"]).only("id", "author_id").first()
    if tweet is None:  # deleted before its fan-out finished: delete_step cleans up
        return None
    entry = [(tweet.id, tweet.author_id)]
    if state is None:
        feeds.deliver([(feeds.posts(tweet.author_id), entry), (feeds.home(tweet.author_id), entry)])
        mode, pulled_since = (
            Profile.objects.filter(user_id=tweet.author_id)
            .values_list("mode", "pulled_since_id")
            .first()
        ) or (AuthorMode.PUSH, None)
        # A tweet of the pull period: followers' reads merge its posts, and a drain delivers it
        # if the author comes back under the threshold. One posted before the author became a
        # celebrity is pushed, whenever its fan-out runs: no drain covers it (drains start at
        # pulled_since_id).
        if mode == AuthorMode.PULL and tweet.id >= (pulled_since or 0):
            return None
        state = {"after": 0}
    more = _deliver_to_followers(tweet.author_id, entry, state)
    if more is None:
        # From the id's clock (taken just before the commit): a lag a little over, never under.
        lag_ms = time.time() * 1000 - snowflake.decode(tweet.id).timestamp_ms
        feeds.record_fan_out_done(
            tweet_id=tweet.id, lag_ms=lag_ms, followers=state.get("delivered", 0)
        )
    return more


def delete_step(payload: dict[str, Any], state: dict | None) -> dict | None:
    entry = [(payload["tweet_id"], payload["author_id"])]
    if state is None:
        feeds.bury_tweet(payload["tweet_id"])
        feeds.remove_entries([feeds.posts(payload["author_id"]), feeds.home(payload["author_id"])],
                             entry)  # fmt: skip
        state = {"after": 0}
    # Every follower, active or not: an inactive one's feed may still exist.
    followers, after = follower_page(payload["author_id"], after=state["after"], active_only=False)
    if followers:
        feeds.remove_entries([feeds.home(f) for f in followers], entry)
    return None if after is None else {"after": after}


def follow_step(payload: dict[str, Any], state: dict | None) -> dict | None:
    follower_id, followee_id = payload["follower_id"], payload["followee_id"]
    if not Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists():
        return None  # unfollowed since: nothing to backfill
    posts = feeds.posts(followee_id)
    window = feeds.timeline_window(posts)
    if window is None:
        home.rebuild(posts)
        window = feeds.timeline_window(posts)
        if window is None:
            raise RuntimeError(f"posts of {followee_id} are being rebuilt; retry")
    if window.entries:
        # The posts are exact only above their floor: so is the feed after the merge.
        feeds.deliver([(feeds.home(follower_id), window.entries)], floor=window.floor)
    return None


def unfollow_step(payload: dict[str, Any], state: dict | None) -> dict | None:
    follower_id, followee_id = payload["follower_id"], payload["followee_id"]
    if Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists():
        return None  # followed again since: keep the entries (the new follow backfills too)
    feeds.remove_author(feeds.home(follower_id), followee_id)
    # Followed again between the check and the removal, and that follow's backfill already ran
    # (another worker): it was just removed. Backfill again (a follow after this check
    # backfills after this removal by itself).
    return follow_step(payload, None)


def drain_step(payload: dict[str, Any], state: dict | None) -> dict | None:
    author_id = payload["author_id"]
    profile = Profile.objects.filter(user_id=author_id).first()
    if profile is None or profile.mode != AuthorMode.DRAINING:
        return None  # over the threshold again (pulled: reads merge), or already pushed
    since = profile.pulled_since_id or 0
    entries = [
        (tweet_id, author_id)
        for tweet_id in Tweet.objects.filter(author_id=author_id, id__gte=since)
        .order_by("-id")
        .values_list("id", flat=True)[: settings.TIMELINE_FEED_SIZE]
    ]
    # More than a window of them: the older ones are below the followers' (raised) floor.
    floor = entries[-1][0] - 1 if len(entries) == settings.TIMELINE_FEED_SIZE else None
    more = (
        _deliver_to_followers(author_id, entries, state or {"after": 0}, floor=floor)
        if entries
        else None
    )
    if more is None and not _newer_drain(payload):
        services.finish_drain(author_id=author_id)
    return more


def _newer_drain(payload: dict[str, Any]) -> bool:
    """Whether a later drain of the same author waits: the author went back over the threshold
    and under it again while this one ran. Its followers before this drain's cursor did not get
    the tweets of that second pull period: the later drain (from the first follower) delivers
    them, and it declares the author pushed, not this one."""
    return OutboxEvent.objects.filter(
        topic=services.DRAIN,
        payload__author_id=payload["author_id"],
        payload__drain_id__gt=payload.get("drain_id", 0),
    ).exists()
