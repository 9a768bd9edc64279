"""Click counting, write-behind: Redis on the redirect, PostgreSQL in batches, exactly once.

A package (STYLE: a module past ~400 lines), its public names re-exported here:
`.counts` (pending counts, the gate's initialisation, stats), `.flush` (Redis to PostgreSQL).
Who clicked (device class, bot or person, referrer) is shortener.visitors'.

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

Bots are recognised by their User-Agent (`shortener.visitors.classify_user_agent`): search and
social crawlers and link-preview fetchers (Googlebot, bingbot, Slackbot, facebookexternalhit,
Twitterbot, WhatsApp, Discordbot, ...) and HTTP libraries (curl, Wget, python-requests, Go-http-
client, ...): none of them is a person clicking. They are recorded (bot_hits, events with
is_bot) but not counted as clicks. Headless browsers are not in the list: their UA says little,
and an empty UA counts as a person ("other"). iPads that send a desktop Safari UA count as
desktop.
"""

from shortener.clicks.counts import (
    STATS_DAYS,
    begin_gate_init,
    finish_gate_init,
    init_gate,
    link_stats,
    pending_clicks,
)
from shortener.clicks.flush import (
    CLAIM_IDLE_MS,
    GROUP,
    FlushReport,
    ack_events,
    apply_batch,
    close_batch,
    flush_batch,
    flush_clicks,
    flush_events,
    flush_lag_seconds,
    reconcile_gates,
    seal_batches,
    store_events,
)

__all__ = [
    "CLAIM_IDLE_MS",
    "GROUP",
    "STATS_DAYS",
    "FlushReport",
    "ack_events",
    "apply_batch",
    "begin_gate_init",
    "close_batch",
    "finish_gate_init",
    "flush_batch",
    "flush_clicks",
    "flush_events",
    "flush_lag_seconds",
    "init_gate",
    "link_stats",
    "pending_clicks",
    "reconcile_gates",
    "seal_batches",
    "store_events",
]
