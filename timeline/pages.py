"""Reads that only the timeline's pages need (timeline/views.py): the fan-out page's figures
(deliveries per second, fan-out lags, the outbox's depth, the celebrities, what a reader's read
merges) and accounts to suggest. Every figure is read from what runs: the fan-out workers' own
counters in Redis (timeline.feeds.fan_out_stats), the outbox table (core.outbox.backlog_of), the
profiles' modes and counts, and a real home read. docs/timeline.md, "Pages".
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.db.models import Q

from accounts.models import User
from core import outbox, snowflake
from core.scripts import RedisUnavailable
from timeline import feeds, home, selectors, services
from timeline.models import AuthorMode, Profile, Tweet

DELIVERY_SECONDS = 60  # the deliveries chart: one bar per second
LAG_BARS = 30  # the lag chart: the newest fan-outs
CELEBRITIES_SHOWN = 20
DEFAULT_THRESHOLD = 10_000  # config/settings.py's default for TIMELINE_CELEBRITY_FOLLOWERS
# What each outbox topic of the timeline is, in the page's words.
TOPIC_NAMES = {
    services.FAN_OUT: "fan-outs of new tweets",
    services.DELETE: "deletes leaving feeds",
    services.FOLLOW: "follows' backfills",
    services.UNFOLLOW: "unfollows' cleanups",
    services.DRAIN: "drains (an account back under the threshold)",
}


def ago(seconds: float) -> str:
    """12 s ago, 3 min ago, 2 h ago, 4 d ago: an x-axis label that stays short."""
    seconds = max(0, int(seconds))
    if seconds < 1:
        return "now"
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def duration(ms: float) -> str:
    """71.8 ms, 950 ms, 14.4 s, 3 min: a lag as a person reads it."""
    if ms < 100:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.0f} min"


def fan_out_figures() -> dict:
    """Deliveries per second over the last DELIVERY_SECONDS and the newest LAG_BARS fan-out
    lags (oldest first, for the chart), as the workers recorded them; {"redis": False} when
    Redis does not answer."""
    try:
        stats = feeds.fan_out_stats(seconds=DELIVERY_SECONDS - 1)
    except RedisUnavailable:
        return {"redis": False, "deliveries": None, "lags": [], "lag_summary": _lag_summary([])}
    now = time.time()
    per_second = [
        {"second": second, "label": ago(now - second), "deliveries": count}
        for second, count in stats["deliveries"]
    ]
    last_10 = per_second[-10:]
    newest = stats["lags"][:LAG_BARS]
    authors = dict(
        Tweet.objects.filter(id__in=[int(lag["tweet_id"]) for lag in newest]).values_list(
            "id", "author__username"
        )
    )
    lags = []
    for lag in reversed(newest):
        posted_ms = snowflake.decode(int(lag["tweet_id"])).timestamp_ms
        lags.append(
            {
                "tweet_id": lag["tweet_id"],
                "author": authors.get(int(lag["tweet_id"])),  # None: deleted since
                "label": ago(now - posted_ms / 1000),
                "lag_ms": round(lag["lag_ms"], 1),
                "lag_text": duration(lag["lag_ms"]),
                "followers": lag["followers"],
            }
        )
    return {
        "redis": True,
        "deliveries": {
            "per_second": per_second,
            "total": sum(p["deliveries"] for p in per_second),
            "peak": max((p["deliveries"] for p in per_second), default=0),
            "last_10s_per_s": round(sum(p["deliveries"] for p in last_10) / len(last_10), 1)
            if last_10
            else 0.0,
        },
        "lags": lags,
        "lag_summary": _lag_summary([lag["lag_ms"] for lag in lags]),
    }


def _lag_summary(lags: list[float]) -> dict:
    ordered = sorted(lags)
    median = ordered[len(ordered) // 2] if ordered else None
    slowest = ordered[-1] if ordered else None
    return {
        "count": len(ordered),
        "median_ms": median,
        "median_text": None if median is None else duration(median),
        "max_ms": slowest,
        "max_text": None if slowest is None else duration(slowest),
    }


def outbox_depth() -> dict:
    """Events of the timeline waiting in the outbox (PostgreSQL), per topic and in all, with the
    age of the oldest: the queue of the timeline's background work, as /healthz counts it."""
    topics = []
    for topic, name in TOPIC_NAMES.items():
        waiting, oldest = outbox.backlog_of((topic,))
        topics.append({"topic": topic, "name": name, "waiting": waiting,
                       "oldest_s": round(oldest, 1)})  # fmt: skip
    return {
        "waiting": sum(t["waiting"] for t in topics),
        "oldest_s": max((t["oldest_s"] for t in topics), default=0.0),
        "limit_s": settings.TIMELINE_BACKLOG_ALERT_SECONDS,
        "topics": topics,
    }


def celebrities(*, limit: int = CELEBRITIES_SHOWN) -> list[dict]:
    """The authors whose tweets are merged at read time (mode pull or draining), most followed
    first; served by the partial index of pulled profiles."""
    rows = (
        Profile.objects.filter(~Q(mode=AuthorMode.PUSH))
        .select_related("user")
        .order_by("-followers_count", "user_id")[:limit]
    )
    return [
        {
            "username": p.user.username,
            "followers_count": p.followers_count,
            "mode": p.mode,
            "pulled_since": _id_time(p.pulled_since_id),
        }
        for p in rows
    ]


def celebrity_count() -> int:
    return Profile.objects.filter(~Q(mode=AuthorMode.PUSH)).count()


def read_merges(*, reader: User) -> dict:
    """What `reader`'s home read merges: the celebrities they follow (at most
    TIMELINE_MAX_MERGED_CELEBRITIES; past that, reads are answered by the pull model), and one
    real read of their first page, timed: its source (feed, feed+sql or sql), how many
    celebrities it merged, whether it rebuilt the feed."""
    bound = settings.TIMELINE_MAX_MERGED_CELEBRITIES
    followed = selectors.pulled_followees(reader.id, limit=bound + 1)
    profiles = {
        p.user_id: p
        for p in Profile.objects.filter(user_id__in=followed[:bound]).select_related("user")
    }
    started = time.perf_counter()
    page = home.home_timeline(reader=reader, limit=20)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return {
        "username": reader.username,
        "merges": [
            {"username": p.user.username, "followers_count": p.followers_count, "mode": p.mode}
            for p in sorted(profiles.values(), key=lambda p: -p.followers_count)
        ],
        "merge_limit": bound,
        "over_limit": len(followed) > bound,
        "read": {
            "source": page.source,
            "merged": page.merged,
            "rebuilt": page.rebuilt,
            "items": len(page.items),
            "ms": round(elapsed_ms, 1),
        },
    }


def suggested_accounts(*, reader: User | None, limit: int = 5) -> list[dict]:
    """Accounts to look at: the most followed ones that `reader` (if any) does not follow yet,
    and not the reader. A newcomer's way to find someone to follow."""
    query = Profile.objects.select_related("user").filter(user__is_active=True)
    if reader is not None and reader.is_authenticated:
        query = query.exclude(user_id=reader.id).exclude(
            user_id__in=selectors.followed_by(reader).values("followee_id")
        )
    rows = query.order_by("-followers_count", "-tweets_count", "user_id")[:limit]
    return [
        {
            "username": p.user.username,
            "followers_count": p.followers_count,
            "tweets_count": p.tweets_count,
            "celebrity": p.mode != AuthorMode.PUSH,
        }
        for p in rows
    ]


def threshold() -> dict:
    """The celebrity threshold in force, and whether it is the default (10,000) or lowered for
    the demo (`make run` exports TIMELINE_CELEBRITY_FOLLOWERS)."""
    value = settings.TIMELINE_CELEBRITY_FOLLOWERS
    return {
        "followers": value,
        "followers_text": f"{value:,}",
        "default": DEFAULT_THRESHOLD,
        "default_text": f"{DEFAULT_THRESHOLD:,}",
        "lowered": value < DEFAULT_THRESHOLD,
    }


def _id_time(snowflake_id: int | None) -> datetime | None:
    return None if snowflake_id is None else snowflake.decode(snowflake_id).created_at
