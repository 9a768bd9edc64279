"""`visit`: one cached redirect (and, chained, its rate limit) in one EVALSHA of visit.lua."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from redis.exceptions import RedisError

from core import lua
from core import redis as core_redis
from core.redis import get_redis
from shortener.cache.entries import CachedLink
from shortener.cache.keys import keys_for
from shortener.cache.scripts import LEASE_MS, RedisUnavailable, _evalsha, _new_token

if TYPE_CHECKING:
    from ratelimit.services import EnvironCheck
    from shortener.clicks import Visitor

# Per slot. ~60 bytes an event in the stream's listpacks: 8 x 100k ≈ 50 MB at most.
EVENTS_MAXLEN: int = settings.SHORTENER_EVENTS_MAXLEN


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
    fill_token: str = "",
    unlocked: bool = False,
    limit: EnvironCheck | None = None,
) -> Visit:
    """One run of visit.lua for `code`: apply the rules to the cached entry (or to `inline`,
    a copy just read from PostgreSQL), and if `count` and the link is open, count the visit and
    append its event, atomically with the max-clicks gate. On a miss with `take_lease`, try to
    take the fill lease. With `inline` and `fill_token` (the token of a fill lease taken on the
    miss), also cache `inline` if that lease still holds it, as fill_link would: a miss's fill
    and its visit in one round trip.

    `limit`: a rate-limit check (ratelimit.services.prepare_check) to run first, in the same
    script and round trip (core.lua.chain); the limiter's keys must live on this Redis. Its reply
    comes back in `Visit.limit_reply` for ratelimit.services.settle_check. If it refused (and the
    policy enforces), visit.lua did not run: the state is "limited", nothing was counted.

    Raises RedisUnavailable."""
    keys = keys_for(code)
    token = fill_token or (_new_token() if take_lease else "")
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
        args += ["inline", inline.packed()]
        if fill_token:
            args.append(settings.SHORTENER_CACHE_SECONDS)
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
