"""Reads of the click counts: what Redis still holds (pending), the max-clicks gate's
initialisation, and a link's stats."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDate

from shortener import cache
from shortener.cache import RedisUnavailable, guarded
from shortener.models import ClickEvent, Link

STATS_DAYS = 30


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
