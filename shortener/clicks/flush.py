"""The flush (Celery beat): pending counters and click events from Redis to PostgreSQL, exactly
once (the package docstring says how)."""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import redis
from django.db import connection, transaction
from redis.exceptions import ResponseError

from shortener import cache
from shortener.cache import RedisUnavailable, guarded
from shortener.models import ClickEvent, ClickFlush, Device, Link

logger = logging.getLogger("shortener.clicks")

GROUP = "flush"
EVENTS_CHUNK = 500
EVENTS_PER_RUN = 20_000  # per slot: one run stays short; a backlog drains over a few runs
CLAIM_IDLE_MS = 60_000  # an unacknowledged event older than this belongs to a dead flusher
_FLUSH_LOCK_SPACE = 0x534C  # pg_advisory_xact_lock(space, slot): "SL"

Entry = tuple[str, dict[str, str]]  # a stream entry: (id, fields)
T = TypeVar("T")


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


def flush_lag_seconds() -> float:
    """How long the oldest click event still in Redis has waited for the flush, in seconds; 0
    when there is none. Every flushed event is deleted (ack.lua: XACK + XDEL), so the oldest left
    is the oldest not yet in PostgreSQL. On Redis's clock (an entry's id is Redis's time in ms),
    in one round trip. Raises RedisUnavailable."""
    redis_client = cache.client()

    def read() -> list:
        with redis_client.pipeline(transaction=False) as pipe:
            pipe.time()
            for slot in range(cache.SLOTS):
                pipe.xrange(cache.events_key(slot), count=1)
            return pipe.execute()

    (seconds, micros), *firsts = guarded(read)
    oldest = [int(entries[0][0].split("-", 1)[0]) for entries in firsts if entries]
    if not oldest:
        return 0.0
    return max(0.0, seconds + micros / 1e6 - min(oldest) / 1000)


def ack_events(*, slot: int, entry_ids: list[str]) -> None:
    """XACK + XDEL events that PostgreSQL has. Raises RedisUnavailable."""
    run, redis_client = cache.script("ack"), cache.client()
    stream = cache.events_key(slot)
    guarded(lambda: run(keys=[stream], args=[GROUP, *entry_ids], client=redis_client))


def _consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
