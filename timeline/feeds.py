"""Every Redis key of the timeline, and the only code that touches them (docs/timeline.md, "Keys").

- `tl:{u<id>}:home` — a reader's home feed, and `tl:{u<id>}:posts` — an author's own newest
  tweets (read by followers of a celebrity, copied into a new follower's feed): each a sorted
  set of at most TIMELINE_FEED_SIZE entries, score = tweet id, member = the 19-digit padded tweet
  id, ':' and the author id (an unfollow removes an author's entries without a database query).
  Beside each, `…:meta`, a hash {state: building|ready, count, floor}: a timeline is only read
  when ready, `count` detects entries removed behind the scripts' back (a hole), `floor` is the
  id at or below which entries may be missing (trimmed, or older than what a rebuild loaded).
  Redis deletes an empty sorted set, so the meta hash is what tells "lost" from "empty".
  The `{u<id>}` hash tag puts a user's keys in one Redis Cluster slot.
- `tl:{u<id>}:lock` — one rebuilder per timeline.
- `tl:tweet:<id>` — the tweet cache (JSON), written through on post, filled on a miss.
- `tl:stats:*` — fan-out figures for the fan-out page and /healthz.

Every script call goes through core.scripts (EVALSHA, NOSCRIPT, the breaker): a Redis that is
down raises RedisUnavailable, and the callers fall back to PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from redis.exceptions import RedisError

from core import redis as core_redis
from core.scripts import LuaScript, RedisUnavailable, run_many

LUA = Path(__file__).resolve().parent / "lua"
DELIVER = LuaScript.from_file(LUA / "deliver.lua")
PAGE = LuaScript.from_file(LUA / "page.lua")
REMOVE = LuaScript.from_file(LUA / "remove.lua")
REBUILD = LuaScript.from_file(LUA / "rebuild.lua")

PAD = 19  # digits of the largest bigint: padded ids sort as strings in numeric order
ZERO = "0" * PAD
BUILDING_TTL = 30  # seconds a "building" mark survives a rebuilder that died
LOCK_MS = 10_000

Entry = tuple[int, int]  # (tweet id, author id)


def pad(tweet_id: int) -> str:
    return str(tweet_id).zfill(PAD)


def member(tweet_id: int, author_id: int) -> str:
    return f"{pad(tweet_id)}:{author_id}"


def parse_member(value: str) -> Entry:
    tweet_id, author_id = value.split(":", 1)
    return int(tweet_id), int(author_id)


@dataclass(frozen=True)
class Timeline:
    """One sorted set: a reader's home feed or an author's posts."""

    kind: str  # "home" | "posts"
    owner_id: int

    @property
    def key(self) -> str:
        return f"tl:{{u{self.owner_id}}}:{self.kind}"

    @property
    def meta_key(self) -> str:
        return f"{self.key}:meta"

    @property
    def keys(self) -> list[str]:
        return [self.key, self.meta_key]


def home(user_id: int) -> Timeline:
    return Timeline("home", user_id)


def posts(user_id: int) -> Timeline:
    return Timeline("posts", user_id)


def _pairs(entries: Iterable[Entry]) -> list[str]:
    flat: list[str] = []
    for tweet_id, author_id in entries:
        flat += [str(tweet_id), member(tweet_id, author_id)]
    return flat


def _size() -> int:
    return settings.TIMELINE_FEED_SIZE


def _ttl() -> int:
    # A feed nobody reads for longer than fan-out keeps delivering to them is dropped by Redis.
    return (settings.TIMELINE_INACTIVE_DAYS + 1) * 86400


# --- writes ------------------------------------------------------------------------------------


def deliver(
    deliveries: Sequence[tuple[Timeline, Sequence[Entry]]], *, floor: int | None = None
) -> list[int]:
    """Add entries to timelines, each insert-and-trim one atomic script, all in one round trip.
    Returns per timeline the entries added, or -1 where it does not exist (not created: its next
    read rebuilds it). `floor` raises each timeline's floor (a backfill from a window of posts
    is exact only above that window's floor). Raises RedisUnavailable."""
    floor_arg = pad(floor) if floor else ""
    calls = [
        (DELIVER, timeline.keys, [_size(), floor_arg, *_pairs(entries)])
        for timeline, entries in deliveries
        if entries
    ]
    return [int(reply) for reply in run_many(calls)]


def remove_entries(timelines: Sequence[Timeline], entries: Sequence[Entry]) -> list[int]:
    """Remove `entries` (a deleted tweet) from each timeline, one round trip."""
    members = [member(*entry) for entry in entries]
    return [int(r) for r in run_many([(REMOVE, t.keys, ["members", *members]) for t in timelines])]


def remove_author(timeline: Timeline, author_id: int) -> int:
    """Remove every entry of `author_id` from `timeline` (an unfollow). -1: no such timeline."""
    return int(run_many([(REMOVE, timeline.keys, ["author", author_id])])[0])


def begin_rebuild(timeline: Timeline) -> None:
    """Empty `timeline` and mark it building: call before reading PostgreSQL (rebuild.lua)."""
    run_many([(REBUILD, timeline.keys, ["begin", BUILDING_TTL])])


def finish_rebuild(timeline: Timeline, entries: Sequence[Entry], *, floor: int) -> bool:
    """Add what PostgreSQL gave, trim, mark ready. False if it stopped building meanwhile."""
    args = ["fill", _size(), pad(floor), _ttl(), *_pairs(entries)]
    return bool(run_many([(REBUILD, timeline.keys, args)])[0])


def drop(*timelines: Timeline) -> None:
    """Forget timelines (an inactive reader's feed): their next read rebuilds them."""
    _guarded(lambda client: client.delete(*[key for t in timelines for key in t.keys]))


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    state: str  # "ready", or "missing" | "building" | "damaged" (no entries: rebuild or read SQL)
    floor: int  # entries with an id <= floor may be missing from this timeline
    entries: list[Entry]


@dataclass(frozen=True)
class Bounds:
    max_id: int | None = None  # exclusive
    since_id: int | None = None  # exclusive
    limit: int = 20
    ascending: bool = False  # the oldest first above since_id (Mastodon's min_id)


def read_pages(timelines: Sequence[Timeline], bounds: Bounds) -> list[Page]:
    """One page of each timeline within `bounds`, all in one round trip; a read also renews each
    ready timeline's TTL. Raises RedisUnavailable."""
    args = [
        pad(bounds.max_id) if bounds.max_id is not None else "",
        pad(bounds.since_id) if bounds.since_id is not None else "",
        bounds.limit,
        "asc" if bounds.ascending else "desc",
        _ttl(),
    ]
    pages = []
    for reply in run_many([(PAGE, t.keys, args) for t in timelines]):
        state = reply[0]
        if state != "ready":
            pages.append(Page(state, 0, []))
        else:
            pages.append(Page(state, int(reply[1]), [parse_member(m) for m in reply[2:]]))
    return pages


def timeline_window(timeline: Timeline) -> Page | None:
    """Every entry of a ready timeline, newest first, and its floor, read together (a follow's
    backfill: entries and floor of two reads could disagree, a rebuild between them), or None."""
    page = read_pages([timeline], Bounds(limit=_size()))[0]
    return page if page.state == "ready" else None


def timeline_entries(timeline: Timeline) -> list[Entry] | None:
    """Every entry of a ready timeline, newest first (tests), or None."""
    window = timeline_window(timeline)
    return None if window is None else window.entries


# --- one rebuilder at a time -------------------------------------------------------------------


def lock(timeline: Timeline) -> str | None:
    """A token if this caller may rebuild `timeline` now, else None (another one is)."""
    token = secrets.token_hex(8)
    key = f"tl:{{u{timeline.owner_id}}}:{timeline.kind}:lock"
    got = _guarded(lambda client: client.set(key, token, nx=True, px=LOCK_MS))
    return token if got else None


_UNLOCK = LuaScript.from_source(
    "unlock",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
)


def unlock(timeline: Timeline, token: str) -> None:
    key = f"tl:{{u{timeline.owner_id}}}:{timeline.kind}:lock"
    with contextlib.suppress(RedisUnavailable):  # else it expires by itself within LOCK_MS
        run_many([(_UNLOCK, [key], [token])])


# --- the tweet cache (write-through on post, filled on a miss) -----------------------------------


def _tweet_key(tweet_id: int) -> str:
    return f"tl:tweet:{tweet_id}"


TOMBSTONE = "-"
TOMBSTONE_SECONDS = 60  # longer than a delete's transaction; after it the row is gone for all


def cache_tweets(tweets: Sequence[dict], *, fill: bool = False) -> None:
    """Write tweets (as `selectors.tweet_dict` shapes them) to the cache, one round trip. `fill`
    (a read's miss): only where the key is absent, so a fill never overwrites a tombstone."""
    if not tweets:
        return
    seconds = settings.TIMELINE_TWEET_CACHE_SECONDS

    def write(client):
        pipe = client.pipeline(transaction=False)
        for tweet in tweets:
            pipe.set(_tweet_key(int(tweet["id"])), json.dumps(tweet, separators=(",", ":")),
                     ex=seconds, nx=fill)  # fmt: skip
        pipe.execute()

    _guarded(write)


def cached_tweets(tweet_ids: Sequence[int]) -> dict[int, dict | None]:
    """The cache's answer for each of `tweet_ids` it knows (one MGET): the tweet, or None for a
    tweet being deleted or deleted (a tombstone). Raises RedisUnavailable."""
    if not tweet_ids:
        return {}
    values = _guarded(lambda client: client.mget([_tweet_key(i) for i in tweet_ids]))
    return {
        i: None if v == TOMBSTONE else json.loads(v)
        for i, v in zip(tweet_ids, values, strict=True)
        if v is not None
    }


def bury_tweet(tweet_id: int) -> None:
    """Replace a tweet's cache entry with a tombstone, before its delete commits and again after:
    a reader that misses meanwhile reads the row (still there) from PostgreSQL, and its fill
    (`fill=True`: SET NX) cannot put the tweet back. A tombstone of a delete that rolled back
    hides the tweet for TOMBSTONE_SECONDS at most."""
    _guarded(lambda client: client.set(_tweet_key(tweet_id), TOMBSTONE, ex=TOMBSTONE_SECONDS))


# --- fan-out figures (the fan-out page, /healthz) ------------------------------------------------

STATS_DELIVERIES = "tl:stats:deliveries"  # hash: unix second -> deliveries in it
STATS_LAGS = "tl:stats:lags"  # list of "tweet_id:lag_ms:followers", newest first
STATS_KEEP_SECONDS = 600
STATS_KEEP_LAGS = 200


def record_deliveries(count: int) -> None:
    """Count deliveries for the per-second chart. Best effort: a figure, not data."""
    if count <= 0:
        return
    second = int(time.time())

    def write(client):
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(STATS_DELIVERIES, str(second), count)
        pipe.hdel(STATS_DELIVERIES, *[str(second - STATS_KEEP_SECONDS - i) for i in range(5)])
        pipe.execute()

    with contextlib.suppress(RedisUnavailable):
        _guarded(write)


def record_fan_out_done(*, tweet_id: int, lag_ms: float, followers: int) -> None:
    """A fan-out finished `lag_ms` after its tweet was committed, to `followers` feeds."""

    def write(client):
        pipe = client.pipeline(transaction=False)
        pipe.lpush(STATS_LAGS, f"{tweet_id}:{lag_ms:.1f}:{followers}")
        pipe.ltrim(STATS_LAGS, 0, STATS_KEEP_LAGS - 1)
        pipe.execute()

    with contextlib.suppress(RedisUnavailable):
        _guarded(write)


def fan_out_stats(*, seconds: int = 120) -> dict:
    """{"deliveries": [[unix second, n], ...] for the last `seconds`, "lags": [{tweet_id,
    lag_ms, followers}, ...] newest first}. Raises RedisUnavailable."""
    now = int(time.time())

    def read(client):
        pipe = client.pipeline(transaction=False)
        pipe.hmget(STATS_DELIVERIES, [str(s) for s in range(now - seconds, now + 1)])
        pipe.lrange(STATS_LAGS, 0, STATS_KEEP_LAGS - 1)
        return pipe.execute()

    counts, lags = _guarded(read)
    parsed = []
    for row in lags:
        tweet_id, lag_ms, followers = row.split(":")
        parsed.append({"tweet_id": tweet_id, "lag_ms": float(lag_ms), "followers": int(followers)})
    return {
        "deliveries": [[now - seconds + i, int(n or 0)] for i, n in enumerate(counts)],
        "lags": parsed,
    }


def _guarded(operation):
    url = settings.REDIS_URL
    try:
        return core_redis.guarded(lambda: operation(core_redis.get_redis(url)), url=url)
    except RedisError as exc:
        raise RedisUnavailable(str(exc)) from exc
