"""The redirect's domain: what a visit to `/{code}` gets, for every edge that serves it.

    outcome = answer(code=code, method="GET", environ=environ)   # -> Outcome

`answer` is the whole path of a visit: the per-IP limit (ratelimit, before any lookup), the
visit in Redis (visit.lua: the state rule, the max-clicks gate, the click and its event, in one
round trip with the limit), a miss resolved from PostgreSQL (fill lease, one SELECT, the fill
and the visit in one round trip), Redis down (the rule on the row, nothing counted). Its
Outcome carries the status, and for a redirect or a refusal the complete headers and body: the
WSGI fast path (shortener/fastpath.py) and Django's view (shortener/redirect.py) only
translate it; the pages (404, 410, the password form) are Django's to render.

`link_state` is the state rule, written once: visit.lua applies it to the cached copy in
Redis (it must: the cached redirect never leaves the script) and tests/shortener/test_visits.py
pins the two together on every combination of inputs; the rest calls this function.
docs/shortener.md ("Redirect") tells the story, with the headers and Redis-down choices.
"""

from __future__ import annotations

import contextlib
import time as time_module
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from django.conf import settings

from ratelimit.services import Refusal, check_failed, prepare_check, run_check
from shortener import cache, clicks
from shortener.cache import CachedLink, RedisUnavailable, Visit
from shortener.models import Link
from shortener.visitors import Visitor, visitor_from_environ

REFERRER_POLICY = "strict-origin-when-cross-origin"
PERMANENT_MAX_AGE = 90
LEASE_WAITS_S = (0.005, 0.02, 0.05)  # then read PostgreSQL without filling
GATE_WAITS_S = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1)  # then 503 (as if Redis were down)
RETRY_AFTER_S = 5

# The status of each state that is not a redirect. "none": an unknown code.
STATUS = {
    "none": 404,
    "disabled": 410,
    "expired": 410,
    "exhausted": 410,
    "unavailable": 503,
    "password": 200,
}


class Outcome(NamedTuple):
    """What a visit gets. `state`: "ok" (a redirect), "refused" (the per-IP limit: 429, or 503
    when it fails closed with Redis down), or a state of STATUS. `headers` and `body` are
    complete for "ok" and "refused" (an edge sends them as they are); for the others the page
    is the edge's to render. `visit`: what Redis (or the row) said."""

    state: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    visit: Visit | None = None


def answer(
    *,
    code: str,
    method: str,
    environ: dict[str, Any],
    database: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Outcome:
    """The Outcome of `method` on `/{code}` for the request `environ` (WSGI environ or
    request.META: its client address for the limit, its User-Agent and Referer for the click).
    GET and any method but HEAD count the visit when the link is open; HEAD only looks.

    The limit is counted once per request (ratelimit.services.prepare_check marks the
    environ): an edge that gives up and hands the request to another is not counted twice.
    `database` wraps the work that reads PostgreSQL (a miss, Redis down), for an edge outside
    Django's request cycle (the fast path sends Django's request signals there). Raises
    DatabaseError only; never for Redis."""
    count = method != "HEAD"
    check = prepare_check(scope="redirect", environ=environ)
    if check is not None and check.redis_url != settings.REDIS_URL:
        refusal = run_check(check)  # the limiter has a Redis of its own: its own round trip
        if refusal is not None:
            return refused(refusal)
        check = None
    visitor = visitor_from_environ(environ)
    try:
        visit = cache.visit(
            code=code, now_ms=now_ms(), count=count, visitor=visitor, take_lease=True, limit=check
        )
    except RedisUnavailable:
        refusal = None if check is None else check_failed(check)
        if refusal is not None:
            return refused(refusal)
        with database():
            return outcome_of(state_without_redis(code=code))
    if visit.refusal is not None:  # the limit refused: visit.lua did not run
        return refused(visit.refusal)
    if visit.state in ("miss", "gate"):
        with database():
            visit = resolve_visit(code=code, count=count, visitor=visitor, miss=visit)
    return outcome_of(visit)


async def answer_cached(*, code: str, method: str, environ: dict[str, Any]) -> Outcome | None:
    """`answer` for an async edge, from Redis alone (one round trip, the same limit and visit):
    the Outcome of a redirect, a refusal, or a settled state; None when the answer needs
    PostgreSQL (a miss, a max-clicks gate to initialise, Redis down and the limit failing open):
    the caller hands the request to Django, whose `answer` then counts the limit no second time
    (the environ says it was checked)."""
    check = prepare_check(scope="redirect", environ=environ)
    if check is not None and check.redis_url != settings.REDIS_URL:
        return None  # the limiter has a Redis of its own: the synchronous path's two trips
    try:
        visit = await cache.visit_async(
            code=code, now_ms=now_ms(), count=method != "HEAD",
            visitor=visitor_from_environ(environ), limit=check,
        )  # fmt: skip
    except RedisUnavailable:
        refusal = None if check is None else check_failed(check)
        return None if refusal is None else refused(refusal)
    if visit.refusal is not None:
        return refused(visit.refusal)
    if visit.state in ("miss", "gate"):
        return None
    return outcome_of(visit)


def outcome_of(visit: Visit, *, status: int | None = None) -> Outcome:
    """The Outcome of a settled visit (not "miss" or "gate"); `status` overrides a redirect's
    (303 after a password form)."""
    if visit.state == "ok":
        status = status or visit.redirect_type
        return Outcome(
            "ok", status, redirect_headers(location=visit.location, redirect_type=status), b"",
            visit,
        )  # fmt: skip
    return Outcome(visit.state, STATUS[visit.state], [], b"", visit)


def refused(refusal: Refusal) -> Outcome:
    status, headers, body = refusal_response(refusal)
    return Outcome("refused", status, headers, body)


STATES = ("disabled", "expired", "exhausted", "password", "ok")


def link_state(
    *,
    disabled: bool,
    expires_at_ms: int | None,
    now_ms: int,
    clicks_left: int | None,
    has_password: bool,
    unlocked: bool = False,
) -> str:
    """A link's state for a visit at `now_ms`, the first of these that holds:

    disabled                                  "disabled"   (410)
    expires_at_ms <= now_ms                   "expired"    (410)
    clicks_left <= 0 (None: no max_clicks)    "exhausted"  (410; before the password:
                                                            no point asking for it)
    has_password, and not `unlocked`          "password"   (the password page)
    otherwise                                 "ok"         (redirect, counted)
    """
    if disabled:
        return "disabled"
    if expires_at_ms is not None and expires_at_ms <= now_ms:
        return "expired"
    if clicks_left is not None and clicks_left <= 0:
        return "exhausted"
    if has_password and not unlocked:
        return "password"
    return "ok"


def refusal_response(refusal: Refusal) -> tuple[int, list[tuple[str, str]], bytes]:
    """A rate-limit refusal on the redirect path (429, or 503 when the limiter fails closed) as
    (status, headers, body): plain text, never cached. Every edge (Django's view, the WSGI fast
    path) sends exactly this."""
    headers = [
        *refusal.headers,
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
    ]
    return refusal.status, headers, refusal.message.encode()


def cache_control(redirect_type: int) -> str:
    """See the module docstring: permanent redirects cached briefly, temporary ones never."""
    return f"private, max-age={PERMANENT_MAX_AGE}" if redirect_type in (301, 308) else "no-store"


def now_ms() -> int:
    return time_module.time_ns() // 1_000_000


def resolve_visit(
    *,
    code: str,
    count: bool,
    visitor: Visitor,
    unlocked: Link | None = None,
    miss: Visit | None = None,
) -> Visit:
    """The state of `code` for this visit, counting it if `count` and the link is open.

    Redis first (one EVALSHA on a hit). On a miss: take the fill lease, read PostgreSQL, then
    apply the rules and count through the same script (inline), which also fills the cache if
    the lease still holds (shortener.cache; a negative entry is filled by fill_link). Without
    the lease: wait for the filler a few ms, then read PostgreSQL without filling. `unlocked` is
    the row whose password the caller checked: counted inline. `miss`: the caller's own visit
    already found a miss (and took the lease or not, its `lease_token` says): one round trip
    less. Redis down: `state_without_redis`. Never raises for Redis.
    """
    try:
        if unlocked is not None:
            return _visit_with_gate(
                code=code, count=count, visitor=visitor,
                inline=CachedLink.from_link(unlocked), unlocked=True,
            )  # fmt: skip
        visit = miss if miss is not None and miss.state == "miss" else None
        for wait in (*LEASE_WAITS_S, None):
            if visit is None:
                visit = _visit_with_gate(code=code, count=count, visitor=visitor, take_lease=True)
            if visit.state != "miss" or visit.lease_token or wait is None:
                break
            time_module.sleep(wait)  # someone is filling: give them a moment
            visit = None
        if visit.state != "miss":
            return visit
        cached = cache.load_cached_link(code=code)
        if cached is None:
            if visit.lease_token:
                cache.fill_link(code=code, lease_token=visit.lease_token, link=None)  # negative
            return Visit("none")
        return _visit_with_gate(  # fills the entry too if our lease still holds: one round trip
            code=code, count=count, visitor=visitor, inline=cached, fill_token=visit.lease_token
        )
    except RedisUnavailable:
        return state_without_redis(code=code, unlocked=unlocked)


def _visit_with_gate(*, code: str, **kwargs: Any) -> Visit:
    """cache.visit, initialising the max-clicks gate from PostgreSQL when the script asks (or
    waiting a moment for whoever is initialising it)."""
    for wait in GATE_WAITS_S:
        visit = cache.visit(code=code, now_ms=now_ms(), **kwargs)
        if visit.state != "gate":
            return visit
        if not clicks.init_gate(code=code, link_id=visit.link_id):
            time_module.sleep(wait)
    raise RedisUnavailable("the max-clicks gate could not be initialised")


def state_without_redis(*, code: str, unlocked: Link | None = None) -> Visit:
    """The state rule (visits.link_state) in Python on the row, for when Redis is unavailable.
    Nothing is counted; a max-clicks link that is neither disabled nor expired is
    "unavailable" (503, see the module docstring): its clicks left are the Redis gate's."""
    if unlocked is not None:
        cached: CachedLink | None = CachedLink.from_link(unlocked)
    else:
        cached = cache.load_cached_link(code=code)
    if cached is None:
        return Visit("none")
    state = link_state(
        disabled=cached.disabled,
        expires_at_ms=cached.expires_at_ms,
        now_ms=now_ms(),
        clicks_left=None,
        has_password=cached.has_password,
        unlocked=unlocked is not None,
    )
    if state in ("password", "ok") and cached.max_clicks is not None:
        return Visit("unavailable")
    if state != "ok":
        return Visit(state)
    return Visit(
        "ok", link_id=cached.id, location=cached.location, redirect_type=cached.redirect_type
    )


def redirect_headers(*, location: str, redirect_type: int) -> list[tuple[str, str]]:
    """The headers of our redirect (the fast path sends the same)."""
    return [
        ("Location", location),
        ("Cache-Control", cache_control(redirect_type)),
        ("Referrer-Policy", REFERRER_POLICY),
    ]
