"""The Redis side of the redirect: key layout, the link cache, the scripts, the circuit breaker.

Key layout (Redis Cluster ready). Keys that one script touches together carry one hash tag, so
Cluster puts them in one slot. Codes are spread over `SLOTS` tags by crc32 of the code:

    sl:{s3}:link:<code>     hash  cached link: id url type exp pw off max   TTL 1 h (negative: 60 s)
                                  (negative entry: id = "0"; url is already ASCII-safe)
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
visit.lua is the whole cached redirect in one round trip; fill.lua fills after a miss if the
lease is still ours; prime.lua caches a link just created (same lease rule); gate_begin/gate_set.lua initialise a max-clicks gate under a lease of its
own; seal/close/pending/reconcile/ack.lua are the flush (shortener/clicks.py).

Cache-aside with fill leases (Facebook, "Scaling Memcache", 2013). The classic race: a reader
misses, reads the old row, a writer commits and invalidates, then the reader fills the cache with
the old row, which now lives for an hour. So on a miss the reader takes `SET lease NX PX` with a
fresh token, reads PostgreSQL, and fills only if the lease still holds its token (a Lua compare);
`invalidate_link` deletes the lease with the entry, so a fill that began before the invalidation
is refused. Readers that find the lease taken wait a few ms for the filler (no herd on the row),
then read PostgreSQL themselves without filling. Unknown codes are filled too, as negative
entries, so a scan of random codes costs one SELECT per code per minute, not per request.

Redis down. Every call goes through `guarded`: a RedisError opens core.redis's circuit breaker
for that Redis (shared with the rate limiter) for BREAKER_SECONDS (2 s), during which callers
skip Redis at once (RedisUnavailable) and use their fallback; after it one caller probes. With
core.redis's 0.5 s timeout and one retry, an outage costs one slow request (about 1 s) per
process per 2 s, not every request.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import secrets
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import redis
from django.conf import settings
from django.utils.encoding import iri_to_uri
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError

from core import lua
from core import redis as core_redis
from core.redis import get_redis
from ratelimit.algorithms import SCRIPTS
from shortener.models import Link

if TYPE_CHECKING:
    from ratelimit.services import EnvironCheck
    from shortener.clicks import Visitor

logger = logging.getLogger(__name__)

SLOTS: int = settings.SHORTENER_REDIS_SLOTS
# Per slot. ~60 bytes an event in the stream's listpacks: 8 x 100k ≈ 50 MB at most.
EVENTS_MAXLEN: int = settings.SHORTENER_EVENTS_MAXLEN
LEASE_MS = 3000  # a filler that died holds the code's misses back for at most this long
BREAKER_SECONDS = core_redis.BREAKER_SECONDS

T = TypeVar("T")


# --- Keys ---------------------------------------------------------------------------------------


def slot_of(code: str) -> int:
    """The slot of `code`: stable across processes and restarts (crc32, not Python's hash)."""
    return zlib.crc32(code.encode()) % SLOTS


def _tag(slot: int) -> str:
    return f"sl:{{s{slot}}}"


def pending_key(slot: int) -> str:
    return f"{_tag(slot)}:pending"


def events_key(slot: int) -> str:
    return f"{_tag(slot)}:events"


def batches_key(slot: int) -> str:
    return f"{_tag(slot)}:batches"


def new_batch_key(slot: int) -> str:
    return f"{_tag(slot)}:batch:{secrets.token_hex(16)}"


@dataclass(frozen=True, slots=True)
class LinkKeys:
    """Every key of one code, in the order visit.lua takes them."""

    slot: int
    link: str
    gate: str
    pending: str
    events: str
    lease: str
    gate_lease: str
    for_visit: tuple[str, ...]  # KEYS of visit.lua


@functools.lru_cache(maxsize=8192)  # hot codes repeat (Zipf): five f-strings saved per visit
def keys_for(code: str) -> LinkKeys:
    slot = slot_of(code)
    tag = _tag(slot)
    link, gate, pending = f"{tag}:link:{code}", f"{tag}:gate:{code}", f"{tag}:pending"
    events, lease, gate_lease = f"{tag}:events", f"{tag}:lease:{code}", f"{tag}:gatelease:{code}"
    for_visit = (link, gate, pending, events, lease)
    return LinkKeys(slot, link, gate, pending, events, lease, gate_lease, for_visit)


# --- Client, scripts, circuit breaker -----------------------------------------------------------


class RedisUnavailable(Exception):
    """Redis failed just now, or failed less than BREAKER_SECONDS ago: use the fallback."""


_LUA_DIR = Path(__file__).resolve().parent / "lua"


def client() -> redis.Redis:
    """The app Redis (settings.REDIS_URL): core.redis's client, cached per URL per process."""
    return get_redis()


@functools.cache
def script(name: str) -> Script:
    """shortener/lua/<name>.lua, registered once per process. Call it with `client=` so it runs
    on the current settings.REDIS_URL; on NOSCRIPT (a restarted Redis) redis-py loads it again.

    "<algorithm>+visit" is a rate limiter's script (ratelimit/lua/) chained with visit.lua by
    core.lua: the redirect's limit and visit in one round trip."""
    limiter, plus, name_of_script = name.rpartition("+")
    source = (_LUA_DIR / f"{name_of_script}.lua").read_text()
    if plus:
        source = lua.chain(
            first=SCRIPTS[limiter].source,
            then=source,
            first_name=f"ratelimit/lua/{limiter}.lua",
            then_name=f"shortener/lua/{name_of_script}.lua",
        )
    return client().register_script(source)


def _evalsha(name: str, redis_client: redis.Redis, keys: Sequence[str], args: Sequence) -> Any:
    """`script(name)(...)` without redis-py's Script wrapper: the hot path's EVALSHA, with the
    same NOSCRIPT fallback (a restarted Redis has forgotten the script)."""
    lua = script(name)
    try:
        return redis_client.execute_command("EVALSHA", lua.sha, len(keys), *keys, *args)
    except NoScriptError:
        lua.sha = redis_client.script_load(lua.script)
        return redis_client.execute_command("EVALSHA", lua.sha, len(keys), *keys, *args)


def redis_allowed() -> bool:
    """False while the app Redis's breaker (core.redis) is open."""
    return core_redis.redis_allowed(settings.REDIS_URL)


def guarded(operation: Callable[[], T]) -> T:
    """Run `operation` (app Redis calls) through core.redis's breaker for that Redis. Raises
    RedisUnavailable when it is open or when the operation raises RedisError (which opens it)."""
    try:
        return core_redis.guarded(operation, url=settings.REDIS_URL)
    except RedisError as exc:
        raise RedisUnavailable(str(exc)) from exc


def reset_breaker() -> None:
    """Close the breakers (tests; an operator after fixing Redis need not wait)."""
    core_redis.reset_breakers()


# Lease tokens: unique per process (random prefix, fresh after fork) and per call (a counter),
# without a syscall per miss.
_token_prefix = secrets.token_hex(8)
_token_counter = itertools.count()


def new_token() -> str:
    """A lease token: unique per process and call."""
    return _new_token()


def _new_token() -> str:
    return f"{_token_prefix}:{next(_token_counter)}"


def _after_fork() -> None:
    global _token_prefix, _token_counter
    _token_prefix, _token_counter = secrets.token_hex(8), itertools.count()


os.register_at_fork(after_in_child=_after_fork)


# --- The cached link ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedLink:
    """What the redirect needs of a Link: no password hash (POST reads it from PostgreSQL),
    `location` already ASCII-safe for the Location header."""

    id: int
    location: str
    redirect_type: int
    expires_at_ms: int | None
    has_password: bool
    disabled: bool
    max_clicks: int | None

    @classmethod
    def from_link(cls, link: Link) -> CachedLink:
        expires = link.expires_at
        return cls(
            id=link.id,
            location=iri_to_uri(link.long_url),
            redirect_type=link.redirect_type,
            expires_at_ms=None if expires is None else int(expires.timestamp() * 1000),
            has_password=bool(link.password),
            disabled=link.disabled,
            max_clicks=link.max_clicks,
        )

    def values(self) -> list[str]:
        """The entry's fields in visit.lua's order: id url type exp pw off max."""
        return [
            str(self.id),
            self.location,
            str(self.redirect_type),
            "" if self.expires_at_ms is None else str(self.expires_at_ms),
            "1" if self.has_password else "",
            "1" if self.disabled else "",
            "" if self.max_clicks is None else str(self.max_clicks),
        ]


_FIELDS = ("id", "url", "type", "exp", "pw", "off", "max")


class Visit(NamedTuple):
    """What visit.lua answered. `state`: ok, miss, none, disabled, expired, password, gate,
    exhausted, limited (and "unavailable" from the Redis-down fallback, see
    shortener/redirect.py). A NamedTuple, not a dataclass: one is built per redirect, and a
    tuple is built in a third of the time."""

    state: str
    link_id: int = 0
    location: str = ""
    redirect_type: int = 0
    lease_token: str = ""  # for "miss": ours if we took the fill lease, else ""
    counted: bool = False
    limit_reply: list | None = None  # the chained rate-limit script's reply (visit(limit=))


def visit(
    *,
    code: str,
    now_ms: int,
    count: bool,
    visitor: Visitor,
    take_lease: bool = False,
    inline: CachedLink | None = None,
    unlocked: bool = False,
    limit: EnvironCheck | None = None,
) -> Visit:
    """One run of visit.lua for `code`: apply the rules to the cached entry (or to `inline`,
    a copy just read from PostgreSQL), and if `count` and the link is open, count the visit and
    append its event, atomically with the max-clicks gate. On a miss with `take_lease`, try to
    take the fill lease.

    `limit`: a rate-limit check (ratelimit.services.prepare_check) to run first, in the same
    script and round trip (core.lua.chain); the limiter's keys must live on this Redis. Its reply
    comes back in `Visit.limit_reply` for ratelimit.services.settle_check. If it refused (and the
    policy enforces), visit.lua did not run: the state is "limited", nothing was counted.

    Raises RedisUnavailable."""
    keys = keys_for(code)
    token = _new_token() if take_lease else ""
    args: list[str | int] = [
        now_ms,
        "count" if count else "peek",
        "1" if unlocked else "",
        "1" if visitor.is_bot else "0",
        visitor.referrer_host,
        visitor.device,
        EVENTS_MAXLEN,
        token,
        LEASE_MS,
    ]
    if inline is not None:
        args += ["inline", *inline.values()]
    url = settings.REDIS_URL
    redis_client = get_redis(url)
    if limit is None:
        name, script_keys, script_args = "visit", keys.for_visit, args
    else:
        name = f"{limit.script.name}+visit"
        script_keys, script_args = lua.chain_args(
            first_keys=(limit.redis_key,),
            first_args=limit.args,
            then_keys=keys.for_visit,
            then_args=args,
            mode="shadow" if limit.policy.mode == "shadow" else "enforce",
        )
    try:
        reply = core_redis.guarded(
            lambda: _evalsha(name, redis_client, script_keys, script_args), url=url
        )
    except RedisError as exc:
        raise RedisUnavailable(str(exc)) from exc
    limit_reply = None
    if limit is not None:
        limit_reply = reply[0]
        if len(reply) == 1:
            return Visit("limited", limit_reply=limit_reply)
        reply = reply[1]
    state = reply[0]
    if state == "ok":
        return Visit(
            "ok",
            link_id=int(reply[1]),
            location=reply[2],
            redirect_type=int(reply[3]),
            counted=count,
            limit_reply=limit_reply,
        )
    if state == "miss":
        return Visit("miss", lease_token=token if reply[1] == "1" else "", limit_reply=limit_reply)
    if state == "gate":
        return Visit("gate", link_id=int(reply[1]), limit_reply=limit_reply)
    return Visit(state, limit_reply=limit_reply)


def fill_link(*, code: str, lease_token: str, link: CachedLink | None) -> bool:
    """Cache `link` (None: a negative entry) if the fill lease still holds `lease_token`.
    Returns whether it filled. Raises RedisUnavailable."""
    keys = keys_for(code)
    if link is None:
        ttl, pairs = settings.SHORTENER_NEGATIVE_CACHE_SECONDS, ["id", "0"]
    else:
        ttl = settings.SHORTENER_CACHE_SECONDS
        pairs = [item for pair in zip(_FIELDS, link.values(), strict=True) for item in pair]
    run = script("fill")
    redis_client = client()
    filled = guarded(
        lambda: run(
            keys=[keys.lease, keys.link], args=[lease_token, ttl, *pairs], client=redis_client
        )
    )
    return bool(filled)


def reserve_fills(*, codes: Sequence[str]) -> dict[str, str]:
    """Take the fill lease of each new code, overriding any reader's: {code: our token}.

    Call it after the INSERT and before the COMMIT (shortener.services): a reader that read
    PostgreSQL before the commit (no row yet) then cannot fill a negative entry, and an update
    committed before `cache_new_links` runs deletes our lease, which turns our fill into an
    invalidation. {} when SHORTENER_CACHE_ON_CREATE is off or Redis is down: the links are then
    only invalidated after the commit, as before (their first click is a miss). Never raises."""
    if not codes or not settings.SHORTENER_CACHE_ON_CREATE:
        return {}
    tokens = {code: _new_token() for code in codes}
    redis_client = client()

    def reserve() -> None:
        with redis_client.pipeline(transaction=False) as pipe:
            for code, token in tokens.items():
                pipe.set(keys_for(code).lease, token, px=LEASE_MS)
            pipe.execute()

    try:
        guarded(reserve)
    except RedisUnavailable as exc:
        logger.warning("shortener: new links not cached (first clicks will miss): %s", exc)
        return {}
    return tokens


def cache_new_links(*, links: Sequence[Link], tokens: dict[str, str]) -> None:
    """After the COMMIT of `links`: cache each one whose lease we still hold (prime.lua), and
    invalidate every other (a negative entry cached before the link existed must go). One round
    trip. Never raises: if Redis is down, the entries expire by their TTLs (invalidate_link)."""
    if not links:
        return
    run, redis_client, ttl = script("prime"), client(), settings.SHORTENER_CACHE_SECONDS

    def prime() -> None:
        with redis_client.pipeline(transaction=False) as pipe:
            for link in links:
                keys = keys_for(link.code)
                values = CachedLink.from_link(link).values()
                pairs = [item for pair in zip(_FIELDS, values, strict=True) for item in pair]
                run(
                    keys=[keys.lease, keys.link, keys.gate, keys.gate_lease],
                    args=[tokens.get(link.code, ""), ttl, *pairs],
                    client=pipe,
                )
            pipe.execute()

    try:
        guarded(prime)
    except RedisUnavailable as exc:
        logger.warning("shortener: could not cache %d new link(s): %s", len(links), exc)


def invalidate_link(*, code: str) -> None:
    """Drop everything Redis holds about `code`: the entry (positive or negative), any fill in
    progress (its lease: that fill will be refused) and the max-clicks gate with any
    initialisation in progress (re-read from PostgreSQL on the next visit, so a changed
    max_clicks applies). Pending click counts stay: keyed by link id, flushed as usual.

    Call it after the change commits. Never raises: if Redis is down (or the breaker open) it
    logs and returns; the entry then expires by its TTL (SHORTENER_CACHE_SECONDS) — a link
    edited during an outage of a Redis that kept its data can redirect the old way until then.
    """
    invalidate_links(codes=[code])


def invalidate_links(*, codes: Iterable[str]) -> None:
    """`invalidate_link` for many codes in one round trip (bulk creation). Never raises."""
    names = [name for code in codes for name in _link_key_names(code)]
    if not names:
        return
    redis_client = client()

    def delete() -> None:
        # One DEL per code: its keys share a hash tag (Cluster-safe); different codes may not,
        # so they are separate commands in one pipeline.
        with redis_client.pipeline(transaction=False) as pipe:
            for start in range(0, len(names), 4):
                pipe.delete(*names[start : start + 4])
            pipe.execute()

    try:
        guarded(delete)
    except RedisUnavailable as exc:
        logger.warning(
            "shortener: could not invalidate %d cached link(s) (they expire by TTL): %s",
            len(names) // 4,
            exc,
        )


def _link_key_names(code: str) -> tuple[str, str, str, str]:
    keys = keys_for(code)
    return keys.link, keys.lease, keys.gate, keys.gate_lease


def load_link(*, code: str) -> Link | None:
    """The cache-aside read: the Link with `code` from PostgreSQL (one indexed SELECT)."""
    return Link.objects.filter(code=code).first()
