"""Click counting, write-behind: Redis on the redirect, PostgreSQL in batches, exactly once.

On the redirect (shortener/lua/visit.lua, one round trip): `HINCRBY sl:{sN}:pending c:<id> 1`
(`b:<id>` for a bot) and `XADD sl:{sN}:events MAXLEN ~ EVENTS_MAXLEN` of the event (link id,
referrer host, device class, bot flag; the time is the entry id). No database write.

`flush_clicks` (Celery beat, every SHORTENER_CLICK_FLUSH_SECONDS, queue `clicks`) walks every
slot:

- Counters, exactly once under retries and crashes. seal.lua RENAMEs `pending` to a fresh batch
  key and adds it to the slot's set of open batches (atomic: each increment lands in exactly one
  batch). Each open batch is applied in one transaction that takes the slot's advisory lock,
  skips the batch if its ClickFlush row exists, adds the deltas to Link.clicks/bot_hits in one
  UPDATE and inserts the ClickFlush row. Only after the commit is the batch deleted (close.lua).
  A crash before the commit re-applies it later; after the commit, the ClickFlush row makes the
  re-application a no-op. Counters cost memory per link clicked, not per click, so a stopped
  flush only grows them by the number of distinct links clicked meanwhile.
- Events, at least once delivered, exactly once stored. XREADGROUP through the consumer group
  "flush" (XAUTOCLAIM first: entries a crashed flusher read and never acknowledged), one
  `bulk_create(ignore_conflicts=True)` on the unique `stream_id` ("<slot>:<entry id>"), then
  XACK + XDEL after the commit. Bounded: if the flush stops, XADD's MAXLEN ~ trims the *oldest*
  events of a slot past EVENTS_MAXLEN (about 100k a slot): their rows are never written, so
  by_day/referrers/devices undercount that period; counters stay exact.
- Max-clicks gates: after a batch is applied, reconcile.lua lowers each gate of its links to
  max_clicks - Link.clicks - what Redis still holds, if that is lower (never raises one).

The max-clicks gate (`sl:{sN}:gate:<code>`): visit.lua refuses once it reaches 0 and otherwise
decrements it with the counter, in one atomic script, so max_clicks=10 admits exactly 10 human
visits under any concurrency. Bots do not consume it (a chat app's link preview must not spend
a one-time link) but are refused once it is 0. It is initialised to max_clicks - Link.clicks -
pending (pending including batches being flushed), reading Redis *before* PostgreSQL: a flush
that moves counts in between is then counted twice (a visit too few allowed, never one too
many), and reconciliation can only lower it. The initialisation holds a lease of its own
(gate_begin/gate_set.lua), deleted by invalidate_link, so one computed from a max_clicks read
before an update committed is refused, like a stale cache fill.

Bots are recognised by their User-Agent (`classify_user_agent`): search and social crawlers and
link-preview fetchers (Googlebot, bingbot, Slackbot, facebookexternalhit, Twitterbot, WhatsApp,
Discordbot, ...) and HTTP libraries (curl, Wget, python-requests, Go-http-client, ...): none of
them is a person clicking. They are recorded (bot_hits, events with is_bot) but not counted as
clicks. Headless browsers are not in the list: their UA says little, and an empty UA counts as a
person ("other"). iPads that send a desktop Safari UA count as desktop.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from redis.exceptions import ResponseError

from shortener import cache
from shortener.cache import RedisUnavailable, guarded
from shortener.models import ClickEvent, ClickFlush, Device, Link

logger = logging.getLogger(__name__)

GROUP = "flush"
EVENTS_CHUNK = 500
EVENTS_PER_RUN = 20_000  # per slot: one run stays short; a backlog drains over a few runs
CLAIM_IDLE_MS = 60_000  # an unacknowledged event older than this belongs to a dead flusher
STATS_DAYS = 30
_FLUSH_LOCK_SPACE = 0x534C  # pg_advisory_xact_lock(space, slot): "SL"

Entry = tuple[str, dict[str, str]]  # a stream entry: (id, fields)
T = TypeVar("T")


# --- Who clicked --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Visitor:
    device: str  # a Device value; "bot" for bots
    is_bot: bool
    referrer_host: str  # "" when there is no (usable) Referer


_BOT_RE = re.compile(
    r"(?<!cu)bot\b|crawl|spider|slurp|facebookexternalhit|facebookcatalog|meta-externalagent"
    r"|whatsapp|skypeuripreview|embedly|iframely|quora link preview|pinterest|vkshare"
    r"|mastodon/|bitlybot|curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp"
    r"|go-http-client|okhttp|java/|libwww-perl|httpie|axios/|node-fetch",
    re.IGNORECASE,
)
_REFERRER_HOST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)")
_UA_MAX = 512  # longer User-Agents are cut before classification (and before the lru_cache)


@functools.lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str) -> tuple[str, bool]:
    """(device class, is bot) for a User-Agent header. Cached: a few UAs make most traffic."""
    if _BOT_RE.search(user_agent):
        return Device.BOT.value, True
    ua = user_agent.lower()
    if "ipad" in ua or "tablet" in ua or "kindle" in ua or "silk/" in ua:
        return Device.TABLET.value, False
    if "android" in ua:  # Android phones say "Mobile"; Android tablets do not
        return (Device.MOBILE if "mobile" in ua else Device.TABLET).value, False
    if "mobi" in ua or "iphone" in ua or "ipod" in ua or "windows phone" in ua:
        return Device.MOBILE.value, False
    if "windows nt" in ua or "macintosh" in ua or "x11" in ua or "cros" in ua:
        return Device.DESKTOP.value, False
    return Device.OTHER.value, False


def referrer_host(referer: str) -> str:
    """The host of a Referer header, lower-case ("" if absent or not an absolute URL). Only
    the host is kept: paths and queries of other sites are not ours to store."""
    match = _REFERRER_HOST_RE.match(referer)
    return match.group(1).lower()[:255] if match else ""


def visitor_from_environ(environ: dict[str, Any]) -> Visitor:
    """The Visitor of a WSGI environ (or a Django request.META: the same keys)."""
    device, is_bot = classify_user_agent(environ.get("HTTP_USER_AGENT", "")[:_UA_MAX])
    return Visitor(device, is_bot, referrer_host(environ.get("HTTP_REFERER", "")))


# --- Reads: pending counts, the gate, stats -----------------------------------------------------


def _pending_sums(*, slots: list[int], fields: list[str]) -> list[int]:
    """Sum of each hash field over the pending hash and open batches of `slots`, read with one
    pipelined pending.lua per slot (each slot atomically). Raises RedisUnavailable."""
    run = cache.script("pending")
    redis_client = cache.client()

    def read() -> list[list[int]]:
        with redis_client.pipeline(transaction=False) as pipe:
            for slot in slots:
                run(
                    keys=[cache.pending_key(slot), cache.batches_key(slot)],
                    args=fields,
                    client=pipe,
                )
            return pipe.execute()

    totals = [0] * len(fields)
    for per_slot in guarded(read):
        for index, value in enumerate(per_slot):
            totals[index] += int(value)
    return totals


def pending_clicks(*, link_ids: list[int]) -> dict[int, int]:
    """link id -> human clicks recorded in Redis and not yet in Link.clicks (the pending hash
    plus any batch being flushed right now), for every id asked; {} if Redis is down. Counters
    are sharded by code, and only ids are given, so every slot is read: one round trip."""
    ids = list(dict.fromkeys(link_ids))
    if not ids:
        return {}
    result: dict[int, int] = {}
    try:
        for start in range(0, len(ids), 1000):  # Lua's unpack() limit is ~8k arguments
            chunk = ids[start : start + 1000]
            sums = _pending_sums(slots=list(range(cache.SLOTS)), fields=[f"c:{i}" for i in chunk])
            result.update(zip(chunk, sums, strict=True))
    except RedisUnavailable:
        return {}
    return result


def init_gate(*, code: str, link_id: int) -> bool:
    """Initialise the max-clicks gate of `code` to max_clicks - Link.clicks - what Redis holds,
    under the gate lease (gate_begin.lua: an update + invalidation in between wins). Redis is
    read before PostgreSQL (module docstring: a race then errs on refusing). Returns False if
    the gate exists or another caller is initialising it (retry in a moment). Raises
    RedisUnavailable."""
    started = begin_gate_init(code=code, link_id=link_id)
    if started is None:
        return False
    token, in_redis = started
    row = Link.objects.filter(id=link_id).values_list("max_clicks", "clicks").first()
    if row is None or row[0] is None:
        # Deleted, or no limit any more: our copy is stale and its invalidation is on its way.
        # No gate; the caller retries, then falls back to PostgreSQL (state_without_redis).
        finish_gate_init(code=code, token=token, left=None)
        return False
    max_clicks, flushed = row
    return finish_gate_init(code=code, token=token, left=max_clicks - flushed - in_redis)


def begin_gate_init(*, code: str, link_id: int) -> tuple[str, int] | None:
    """Take the gate lease and read the link's clicks held in Redis: (token, clicks), or None
    if the gate exists or the lease is taken. Raises RedisUnavailable."""
    keys = cache.keys_for(code)
    token, redis_client = cache.new_token(), cache.client()
    run = cache.script("gate_begin")
    reply = guarded(
        lambda: run(
            keys=[keys.gate_lease, keys.gate, keys.pending, cache.batches_key(keys.slot)],
            args=[token, cache.LEASE_MS, f"c:{link_id}"],
            client=redis_client,
        )
    )
    return (token, int(reply[1])) if reply[0] == 1 else None


def finish_gate_init(*, code: str, token: str, left: int | None) -> bool:
    """Set the gate to `left` (None: only give the lease back) if our lease survived. Returns
    whether the gate was set. Raises RedisUnavailable."""
    keys = cache.keys_for(code)
    run, redis_client = cache.script("gate_set"), cache.client()
    args = [token, "" if left is None else left, settings.SHORTENER_CACHE_SECONDS]
    done = guarded(lambda: run(keys=[keys.gate_lease, keys.gate], args=args, client=redis_client))
    return bool(done)


def link_stats(*, link: Link) -> dict[str, Any]:
    """Stats of `link` for the API and the stats page.

    `clicks` and `bot_hits` are live: PostgreSQL plus what Redis holds (pending and batches
    being flushed; PostgreSQL alone if Redis is down). `by_day` (the last 30 UTC days, today
    included, zero days too), `top_referrers` (top 10, "" shown as "(direct)") and `devices`
    count human click events over the same 30 days, from ClickEvent rows only: events not yet
    flushed (up to SHORTENER_CLICK_FLUSH_SECONDS old) are not in them yet. Three aggregate
    queries on the (link, occurred_at) index and one Redis round trip.
    """
    try:
        pending, pending_bots = _pending_sums(
            slots=[cache.slot_of(link.code)], fields=[f"c:{link.id}", f"b:{link.id}"]
        )
    except RedisUnavailable:
        pending = pending_bots = 0
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=STATS_DAYS - 1)
    human = ClickEvent.objects.filter(
        link=link, occurred_at__gte=datetime.combine(first_day, time.min, tzinfo=UTC), is_bot=False
    ).order_by()
    per_day = dict(
        human.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    referrers = (
        human.values("referrer_host").annotate(n=Count("pk")).order_by("-n", "referrer_host")[:10]
    )
    devices = {device: 0 for device in ("desktop", "mobile", "tablet", "other")}
    for device, n in human.values("device").annotate(n=Count("pk")).values_list("device", "n"):
        devices[device if device in devices else "other"] += n
    return {
        "clicks": link.clicks + pending,
        "by_day": [
            {"day": day.isoformat(), "clicks": per_day.get(day, 0)}
            for day in (first_day + timedelta(days=i) for i in range(STATS_DAYS))
        ],
        "top_referrers": [
            {"host": row["referrer_host"] or "(direct)", "clicks": row["n"]} for row in referrers
        ],
        "devices": devices,
        "bot_hits": link.bot_hits + pending_bots,
    }


# --- The flush ----------------------------------------------------------------------------------


@dataclass
class FlushReport:
    batches: int = 0  # batches applied by this run (a batch found already applied: not counted)
    clicks: int = 0
    bot_hits: int = 0
    events: int = 0  # event rows offered to PostgreSQL (duplicates ignored there)
    gates_lowered: int = 0
    slots_failed: list[int] = field(default_factory=list)


def flush_clicks(*, claim_idle_ms: int = CLAIM_IDLE_MS) -> FlushReport:
    """Move every slot's pending counters and events from Redis to PostgreSQL (module
    docstring). Idempotent and safe to run concurrently with itself: batches are guarded by
    ClickFlush under a per-slot advisory lock, events by the unique stream_id. A slot whose
    Redis calls fail is skipped and listed in `slots_failed` (the next run picks it up)."""
    report = FlushReport()
    for slot in range(cache.SLOTS):
        try:
            for batch in seal_batches(slot=slot):
                flush_batch(slot=slot, batch=batch, report=report)
            flush_events(slot=slot, report=report, claim_idle_ms=claim_idle_ms)
        except RedisUnavailable as exc:
            logger.warning("shortener: click flush of slot %s skipped: %s", slot, exc)
            report.slots_failed.append(slot)
    return report


def seal_batches(*, slot: int) -> list[str]:
    """Seal `slot`'s pending counters into a new batch; return every open batch of the slot.
    Raises RedisUnavailable."""
    run, redis_client = cache.script("seal"), cache.client()
    keys = [cache.pending_key(slot), cache.batches_key(slot), cache.new_batch_key(slot)]
    return sorted(guarded(lambda: run(keys=keys, client=redis_client)))


def flush_batch(*, slot: int, batch: str, report: FlushReport) -> None:
    """Apply one sealed batch (if not applied yet), then delete it and reconcile the gates of
    its links. Raises RedisUnavailable (the batch then stays open for the next run)."""
    redis_client = cache.client()
    counts = guarded(lambda: redis_client.hgetall(batch))
    apply_batch(slot=slot, batch=batch, counts=counts, report=report)
    close_batch(slot=slot, batch=batch)
    reconcile_gates(slot=slot, link_ids=sorted({int(name[2:]) for name in counts}), report=report)


def apply_batch(*, slot: int, batch: str, counts: dict[str, str], report: FlushReport) -> bool:
    """Add a batch's counts to PostgreSQL in one transaction, unless its ClickFlush row exists.
    Returns whether it applied. Takes pg_advisory_xact_lock(_FLUSH_LOCK_SPACE, slot): flushes
    of one slot are serialised, so "exists, else insert" is race-free and two flushers never
    lock the same Link rows in different orders."""
    clicks: Counter[int] = Counter()
    bots: Counter[int] = Counter()
    for name, value in counts.items():
        (bots if name.startswith("b:") else clicks)[int(name[2:])] += int(value)
    ids = sorted(clicks.keys() | bots.keys())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_FLUSH_LOCK_SPACE, slot])
            if ClickFlush.objects.filter(batch=batch).exists():
                return False  # applied before a crash, not yet deleted from Redis
            # One statement for the whole batch, not one UPDATE per link; deleted links match
            # no row and their counts are dropped. updated_at is left alone: not an edit.
            cursor.execute(
                f"UPDATE {Link._meta.db_table} AS link"  # our table name: no input in this SQL
                " SET clicks = link.clicks + delta.clicks,"
                " bot_hits = link.bot_hits + delta.bot_hits"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])"
                " AS delta(id, clicks, bot_hits) WHERE link.id = delta.id",
                [ids, [clicks[i] for i in ids], [bots[i] for i in ids]],
            )
        ClickFlush.objects.create(batch=batch, links=len(ids), clicks=sum(clicks.values()))
    report.batches += 1
    report.clicks += sum(clicks.values())
    report.bot_hits += sum(bots.values())
    return True


def close_batch(*, slot: int, batch: str) -> None:
    """Delete an applied batch and drop it from the open set. Raises RedisUnavailable."""
    run, redis_client = cache.script("close"), cache.client()
    guarded(lambda: run(keys=[batch, cache.batches_key(slot)], client=redis_client))


def reconcile_gates(*, slot: int, link_ids: list[int], report: FlushReport) -> None:
    """Lower the gates of `link_ids`' max-clicks links to what PostgreSQL (just committed) and
    Redis together say is left. Raises RedisUnavailable."""
    if not link_ids:
        return
    rows = Link.objects.filter(id__in=link_ids, max_clicks__isnull=False).values_list(
        "id", "code", "max_clicks", "clicks"
    )
    keys: list[str] = [cache.pending_key(slot), cache.batches_key(slot)]
    args: list[str | int] = []
    for link_id, code, max_clicks, flushed in rows:
        keys.append(cache.keys_for(code).gate)
        args += [f"c:{link_id}", max_clicks - flushed]
    if len(keys) == 2:
        return
    run, redis_client = cache.script("reconcile"), cache.client()
    report.gates_lowered += guarded(lambda: run(keys=keys, args=args, client=redis_client))


def flush_events(*, slot: int, report: FlushReport, claim_idle_ms: int = CLAIM_IDLE_MS) -> None:
    """Store `slot`'s click events, up to EVENTS_PER_RUN: first those a dead flusher left
    unacknowledged for `claim_idle_ms`, then new ones. Raises RedisUnavailable."""
    stream, consumer = cache.events_key(slot), _consumer_name()
    redis_client = cache.client()
    cursor = "0-0"

    def claim() -> list[Entry]:
        nonlocal cursor
        # [next cursor, entries, ids deleted meanwhile (Redis 7 drops those from the PEL)]
        reply = redis_client.xautoclaim(
            stream, GROUP, consumer, claim_idle_ms, cursor, count=EVENTS_CHUNK
        )
        cursor = reply[0]
        return reply[1]

    def read() -> list[Entry]:
        reply = redis_client.xreadgroup(GROUP, consumer, {stream: ">"}, count=EVENTS_CHUNK)
        return reply[0][1] if reply else []

    done = 0
    for fetch in (claim, read):
        while done < EVENTS_PER_RUN:
            entries = guarded(lambda fetch=fetch: _with_group(redis_client, stream, fetch))
            if entries:
                store_events(slot=slot, entries=entries)
                ack_events(slot=slot, entry_ids=[entry_id for entry_id, _ in entries])
                done += len(entries)
                report.events += len(entries)
            # Claiming scans the pending list once (the cursor comes back to 0-0); reading
            # stops when the stream has nothing new.
            if (fetch is claim and cursor == "0-0") or (fetch is read and not entries):
                break


def _with_group(redis_client: redis.Redis, stream: str, fetch: Callable[[], T]) -> T:
    """Run `fetch`; if the consumer group is missing (first run, or Redis lost its data),
    create it from the start of the stream (id 0: events added before it are not skipped)."""
    try:
        return fetch()
    except ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        try:
            redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as busy:  # another flusher created it first
            if "BUSYGROUP" not in str(busy):
                raise
        return fetch()


def store_events(*, slot: int, entries: list[Entry]) -> None:
    """Insert events (each once: ON CONFLICT on stream_id DO NOTHING). Events of deleted
    links are dropped, not inserted (their foreign key would fail the whole batch)."""
    rows = []
    for entry_id, data in entries:
        try:
            rows.append(
                ClickEvent(
                    link_id=int(data["l"]),
                    stream_id=f"{slot}:{entry_id}",
                    occurred_at=datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, UTC),
                    referrer_host=data.get("r", "")[:255],
                    device=data.get("d", Device.OTHER),
                    is_bot=data.get("b") == "1",
                )
            )
        except (KeyError, ValueError):
            logger.error("shortener: malformed click event %s %r dropped", entry_id, data)
    live = set(
        Link.objects.filter(id__in={row.link_id for row in rows}).values_list("id", flat=True)
    )
    with transaction.atomic():
        ClickEvent.objects.bulk_create(
            [row for row in rows if row.link_id in live], ignore_conflicts=True, batch_size=1000
        )


def ack_events(*, slot: int, entry_ids: list[str]) -> None:
    """XACK + XDEL events that PostgreSQL has. Raises RedisUnavailable."""
    run, redis_client = cache.script("ack"), cache.client()
    stream = cache.events_key(slot)
    guarded(lambda: run(keys=[stream], args=[GROUP, *entry_ids], client=redis_client))


def _consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
