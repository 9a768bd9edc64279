"""The home timeline read: the pushed feed, merged with followed celebrities' posts, rebuilt when
lost, completed from PostgreSQL below the window, and answered by the pull model when Redis cannot
(docs/timeline.md, "Reading a home timeline").

One read, normally: two indexed SQL queries (the reader's profile; the celebrities they follow),
one pipelined Redis round trip (a page of the feed and of each celebrity's posts), one query for
"does the reader still follow these authors", one MGET of the tweet cache.

Exactness: each timeline is exact above its floor. Merging pages of several, the union is exact
above B = the highest of (a full page's last id - 1, an exhausted page's floor); what lies at or
below B and is needed comes from PostgreSQL. Entries are candidates, not truths: an entry whose
tweet is gone or whose author the reader no longer follows (a delete or an unfollow whose
cleanup has not reached this feed yet) is dropped at read time, and the page is topped up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from accounts.models import User
from core.scripts import RedisUnavailable
from timeline import feeds, selectors, services
from timeline.feeds import Bounds, Entry, Timeline

logger = logging.getLogger(__name__)

MAX_ROUNDS = 4  # rounds of topping up a page thinned by stale entries, then SQL does the rest


@dataclass(frozen=True)
class HomePage:
    items: list[dict]  # hydrated tweets (selectors.tweet_dict), newest first
    source: str  # "feed" (Redis only), "feed+sql" (completed from PostgreSQL), "sql" (pull)
    merged: int  # celebrities whose posts were merged into this read
    rebuilt: bool  # this read rebuilt the reader's feed


class _UseSql(Exception):
    """The feeds cannot answer this read exactly right now: answer it from PostgreSQL."""


def home_timeline(
    *,
    reader: User,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = 20,
) -> HomePage:
    """The reader's own tweets and those of everyone they follow, newest first, bounds exclusive
    (Mastodon's: `max_id` below, `since_id` above; `min_id`: the oldest `limit` above it, still
    returned newest first). Always exact; never empty when it should not be."""
    # Both given: min_id wins (as on Mastodon), and the higher of the two bounds applies.
    ascending = min_id is not None
    bounds = Bounds(
        max_id=max_id,
        since_id=max(min_id, since_id or 0) if ascending else since_id,
        limit=limit,
        ascending=ascending,
    )
    services.note_reader_active(user=reader)
    try:
        return _from_feeds(reader, bounds)
    except (RedisUnavailable, _UseSql) as exc:
        if isinstance(exc, RedisUnavailable):
            logger.info("timeline: home of %s from PostgreSQL, Redis unavailable", reader.id)
        rows = selectors.pull_tweets(
            reader.id,
            max_id=bounds.max_id,
            since_id=bounds.since_id,
            limit=limit,
            ascending=ascending,
        )
        items = [selectors.tweet_dict(t) for t in rows]
        return HomePage(_newest_first(items, ascending), "sql", 0, False)


def _from_feeds(reader: User, bounds: Bounds) -> HomePage:
    celebrities = selectors.pulled_followees(
        reader.id, limit=settings.TIMELINE_MAX_MERGED_CELEBRITIES + 1
    )
    if len(celebrities) > settings.TIMELINE_MAX_MERGED_CELEBRITIES:
        raise _UseSql("follows more celebrities than a read merges")
    sources = [feeds.home(reader.id), *[feeds.posts(author) for author in celebrities]]
    items: list[dict] = []
    source, rebuilt = "feed", False
    for _ in range(MAX_ROUNDS):
        want = bounds.limit - len(items)
        pages = feeds.read_pages(sources, _with_limit(bounds, want))
        missing = [t for t, p in zip(sources, pages, strict=True) if p.state != "ready"]
        if missing:
            for timeline in missing:
                outcome = rebuild(timeline)
                if outcome not in ("rebuilt", "ready"):
                    raise _UseSql("another reader is rebuilding this timeline")
                rebuilt = rebuilt or (timeline == sources[0] and outcome == "rebuilt")
            pages = feeds.read_pages(sources, _with_limit(bounds, want))
            if any(p.state != "ready" for p in pages):
                raise _UseSql("a timeline is still not ready after its rebuild")
        candidates, below, exhausted = _merge(pages, _with_limit(bounds, want))
        kept = _visible(reader.id, candidates)
        items += kept
        if below is not None and len(items) < bounds.limit:
            # What the window does not hold exactly: the pull model, below its edge.
            rows = selectors.pull_tweets(
                reader.id,
                max_id=below + 1 if bounds.max_id is None else min(below + 1, bounds.max_id),
                since_id=bounds.since_id,
                limit=bounds.limit - len(items),
            )
            items += [selectors.tweet_dict(t) for t in rows]
            source = "feed+sql"
            break
        if exhausted or len(items) >= bounds.limit or not candidates:
            break
        # Stale entries thinned the page: go on from where the candidates stopped.
        edge = candidates[-1][0]
        bounds = (
            Bounds(since_id=edge, max_id=bounds.max_id, limit=bounds.limit, ascending=True)
            if bounds.ascending
            else Bounds(max_id=edge, since_id=bounds.since_id, limit=bounds.limit)
        )
    else:
        raise _UseSql("too many stale entries in a row")
    return HomePage(_newest_first(items, bounds.ascending), source, len(celebrities), rebuilt)


def _with_limit(bounds: Bounds, limit: int) -> Bounds:
    return Bounds(bounds.max_id, bounds.since_id, limit, bounds.ascending)


def _merge(pages: list[feeds.Page], bounds: Bounds) -> tuple[list[Entry], int | None, bool]:
    """Candidates of one page across timelines, in the page's order, deduplicated by tweet id
    (a celebrity's tweet pushed before it became one is in both). Also the id at or below which
    PostgreSQL must complete the page (None: no need), and whether the timelines are exhausted
    within the bounds."""
    limit = bounds.limit
    unique = {entry[0]: entry for page in pages for entry in page.entries}
    merged = sorted(unique.values(), reverse=not bounds.ascending)
    full = [p for p in pages if len(p.entries) >= limit]
    if bounds.ascending:
        since = bounds.since_id or 0
        if any(p.floor > since for p in pages):
            raise _UseSql("min_id below a timeline's window")
        if not full:
            return merged[:limit], None, True
        edge = min(p.entries[-1][0] for p in full)  # exact up to here
        return [e for e in merged if e[0] <= edge][:limit], None, False
    edge = max(
        [p.entries[-1][0] - 1 for p in full] + [p.floor for p in pages if len(p.entries) < limit]
    )
    exact = [e for e in merged if e[0] > edge][:limit]
    if len(exact) >= limit:
        return exact, None, False
    # Short of a page: every full page alone would have filled it, so the edge is a floor. At or
    # below it the timelines may miss tweets: PostgreSQL answers that part.
    if edge > (bounds.since_id or 0):
        return exact, edge, True
    return exact, None, True


def _visible(reader_id: int, candidates: list[Entry]) -> list[dict]:
    """The candidates the reader may see now, hydrated: their author is followed (or is the
    reader) and the tweet exists."""
    if not candidates:
        return []
    followed = selectors.followed_among(reader_id, {author for _, author in candidates})
    return selectors.hydrate([e for e in candidates if e[1] in followed])


def _newest_first(items: list[dict], ascending: bool) -> list[dict]:
    return list(reversed(items)) if ascending else items


def rebuild(timeline: Timeline) -> str:
    """Rebuild `timeline` from PostgreSQL, if no one else is (a lock). The timeline is marked
    building before the read, so a delivery meanwhile is kept. Returns "rebuilt"; "ready" if it
    was ready by the time the lock was held (another reader, who also saw it lost, rebuilt it
    meanwhile: not again); "busy" if another caller holds the lock (answer this read from
    PostgreSQL, do not wait); "overtaken" if it was dropped during the rebuild."""
    token = feeds.lock(timeline)
    if token is None:
        return "busy"
    try:
        if feeds.read_pages([timeline], Bounds(limit=1))[0].state == "ready":
            return "ready"
        feeds.begin_rebuild(timeline)
        size = settings.TIMELINE_FEED_SIZE
        if timeline.kind == "home":
            entries = selectors.newest_entries(reader_id=timeline.owner_id, limit=size)
        else:
            entries = selectors.newest_entries(author_id=timeline.owner_id, limit=size)
        floor = entries[-1][0] - 1 if len(entries) == size else 0
        return "rebuilt" if feeds.finish_rebuild(timeline, entries, floor=floor) else "overtaken"
    finally:
        feeds.unlock(timeline, token)
