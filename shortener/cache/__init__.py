"""The Redis side of the redirect: key layout, the link cache, the scripts, the circuit breaker.

A package (STYLE: a module past ~400 lines), its public names re-exported here:
`shortener.cache.keys` (key layout), `.scripts` (client, Lua scripts, breaker, lease tokens),
`.visits` (`visit`, `visit_async`: one cached redirect in one round trip), `.entries` (the
cached link: fill after a miss, cache on create, invalidate).

Key layout (Redis Cluster ready). Keys that one script touches together carry one hash tag, so
Cluster puts them in one slot. Codes are spread over `SLOTS` tags by crc32 of the code:

    sl:{s3}:entry:<code>    str   cached link "id|type|exp|pw|off|max|url"  TTL 1 h (negative 60 s)
                                  (negative entry: "0"; url is already ASCII-safe. Formerly
                                  a hash at sl:{s3}:link:<code>: keys.legacy_entry_key)
    sl:{s3}:lease:<code>    str   fill lease: random token of the reader filling the entry  PX 3 s
    sl:{s3}:gate:<code>     int   max-clicks gate: clicks still allowed                     TTL 1 h
    sl:{s3}:gatelease:<code> str  lease of whoever initialises the gate                     PX 3 s
    sl:{s3}:pending         hash  write-behind counters: c:<link id> clicks, b:<link id> bot hits
    sl:{s3}:batch:<hex>     hash  a sealed `pending` (RENAMEd) being applied to PostgreSQL
    sl:{s3}:batches         set   the open batches of the slot (a crashed flush resumes them)
    sl:{s3}:events          stream click events (l link id, r referrer host, d device, b bot),
                                  consumer group "flush", MAXLEN ~ EVENTS_MAXLEN

`SLOTS` (settings.SHORTENER_REDIS_SLOTS, 8) bounds how many Cluster nodes the shortener can use
and is the number of streams and counters the flush walks. Change it only with the flush drained
(stop the web tier, run the flush): counters in a slot that no longer exists are never flushed.

Scripts (shortener/lua/, loaded once per process with `register_script`, run with EVALSHA):
visit.lua is the whole cached redirect in one round trip, and after a miss it also fills the
entry with the row just read, in the same run that counts the visit, if the lease is still ours;
fill.lua fills a negative entry, or a link just created, under the same rule; gate_begin and
gate_set.lua initialise a max-clicks gate under a lease of its own; seal, close, pending,
reconcile and ack.lua are the flush (shortener/clicks/).

Cache-aside with fill leases (Facebook, "Scaling Memcache", 2013). The classic race: a reader
misses, reads the old row, a writer commits and invalidates, then the reader fills the cache with
the old row, which now lives for an hour. So on a miss the reader takes `SET lease NX PX` with a
fresh token, reads PostgreSQL, and fills only if the lease still holds its token (a Lua compare);
`invalidate_link` deletes the lease with the entry, so a fill that began before the invalidation
is refused. Readers that find the lease taken wait a few ms for the filler (no herd on the row),
then read PostgreSQL themselves without filling. Unknown codes are filled too, as negative
entries, so a scan of random codes costs one SELECT per code per minute, not per request. A new
link is cached as it is created (`reserve_fills` between INSERT and COMMIT, `cache_new_links`
after it), under the same lease rule.

Redis down. Every call goes through `guarded`: a RedisError opens core.redis's circuit breaker
for that Redis (shared with the rate limiter) for BREAKER_SECONDS (2 s), during which callers
skip Redis at once (RedisUnavailable) and use their fallback; after it one caller probes. With
core.redis's 0.5 s timeout and one retry, an outage costs one slow request (about 1 s) per
process per 2 s, not every request.
"""

from shortener.cache.entries import (
    NEGATIVE_ENTRY,
    CachedLink,
    cache_new_links,
    fill_link,
    invalidate_link,
    invalidate_links,
    load_cached_link,
    load_link,
    reserve_fills,
)
from shortener.cache.keys import (
    SLOTS,
    LinkKeys,
    batches_key,
    events_key,
    keys_for,
    new_batch_key,
    pending_key,
    slot_of,
)
from shortener.cache.scripts import (
    BREAKER_SECONDS,
    LEASE_MS,
    RedisUnavailable,
    client,
    guarded,
    new_token,
    redis_allowed,
    reset_breaker,
    script,
)
from shortener.cache.visits import EVENTS_MAXLEN, Visit, visit, visit_async

__all__ = [
    "BREAKER_SECONDS",
    "EVENTS_MAXLEN",
    "LEASE_MS",
    "NEGATIVE_ENTRY",
    "SLOTS",
    "CachedLink",
    "LinkKeys",
    "RedisUnavailable",
    "Visit",
    "batches_key",
    "cache_new_links",
    "client",
    "events_key",
    "fill_link",
    "guarded",
    "invalidate_link",
    "invalidate_links",
    "keys_for",
    "load_cached_link",
    "load_link",
    "new_batch_key",
    "new_token",
    "pending_key",
    "redis_allowed",
    "reserve_fills",
    "reset_breaker",
    "script",
    "slot_of",
    "visit",
    "visit_async",
]
