"""`visit`: one cached redirect (and, chained, its rate limit) in one EVALSHA of visit.lua."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings

from core import scripts
from ratelimit.services import Refusal, run_check_then, run_check_then_async
from shortener.cache.entries import CachedLink
from shortener.cache.keys import keys_for
from shortener.cache.scripts import LEASE_MS, _new_token, lua_script
from shortener.visitors import Visitor

if TYPE_CHECKING:
    from ratelimit.services import EnvironCheck

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
    refusal: Refusal | None = None  # the chained rate-limit check refused (visit(limit=))


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
    script and round trip (ratelimit.services.run_check_then); the limiter's keys must live on
    this Redis. If it refused (and the policy enforces), visit.lua did not run: the state is
    "limited", nothing was counted, and `Visit.refusal` is the answer to give.

    Raises RedisUnavailable (core.scripts'; with `limit`, ratelimit.services.check_failed says
    whether to refuse)."""
    keys = keys_for(code)
    token, args = _visit_args(
        now_ms=now_ms, count=count, visitor=visitor, take_lease=take_lease, inline=inline,
        fill_token=fill_token, unlocked=unlocked,
    )  # fmt: skip
    if limit is None:
        return _visit_of(scripts.run(lua_script("visit"), keys.for_visit, args), count, token)
    refusal, reply = run_check_then(limit, then=lua_script("visit"), keys=keys.for_visit, args=args)
    return _visit_of(reply, count, token, refusal)


async def visit_async(
    *, code: str, now_ms: int, count: bool, visitor: Visitor, limit: EnvironCheck | None = None
) -> Visit:
    """`visit` for asyncio code (the async edge: cached redirects only, so no lease, no inline
    copy; a miss is the synchronous path's). Raises RedisUnavailable."""
    keys = keys_for(code)
    token, args = _visit_args(now_ms=now_ms, count=count, visitor=visitor)
    if limit is None:
        reply = await scripts.run_async(lua_script("visit"), keys.for_visit, args)
        return _visit_of(reply, count, token)
    refusal, reply = await run_check_then_async(
        limit, then=lua_script("visit"), keys=keys.for_visit, args=args
    )
    return _visit_of(reply, count, token, refusal)


def _visit_args(
    *,
    now_ms: int,
    count: bool,
    visitor: Visitor,
    take_lease: bool = False,
    inline: CachedLink | None = None,
    fill_token: str = "",
    unlocked: bool = False,
) -> tuple[str, list[str | int]]:
    """(lease token, ARGV) of visit.lua (its header says what each is)."""
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
    return token, args


def _visit_of(reply: list | None, count: bool, token: str, refusal: Refusal | None = None) -> Visit:
    """The Visit of visit.lua's reply; None: the chained limit refused, visit.lua did not run."""
    if reply is None:
        return Visit("limited", refusal=refusal)
    state = reply[0]
    if state == "ok":
        return Visit(
            "ok",
            link_id=int(reply[1]),
            location=reply[2],
            redirect_type=int(reply[3]),
            counted=count,
            refusal=refusal,
        )
    if state == "miss":
        return Visit("miss", lease_token=token if reply[1] == "1" else "", refusal=refusal)
    if state == "gate":
        return Visit("gate", link_id=int(reply[1]), refusal=refusal)
    return Visit(state, refusal=refusal)
