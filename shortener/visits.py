"""The redirect's domain: what a visit to a short link gets. Today, its one rule of a link's
state and its one rendering of a refusal; the path of a visit (limit, visit, miss, answer)
joins them with issue #12.

`link_state` is the rule, written once. visit.lua applies the same rule to the cached copy in
Redis (it must: the cached redirect never leaves the script), and
tests/shortener/test_visits.py runs both on every combination of inputs and asserts they agree;
the redirect without Redis, the preview and the pages and API call this function.
"""

from __future__ import annotations

from ratelimit.services import Refusal

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
