"""Reads of the URL shortener (pages and API). The redirect's own read path — Redis first, then
PostgreSQL — lives in shortener/cache/ and shortener/redirect.py, where its speed is the point."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, Min, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from shortener import clicks, rules, visits
from shortener.errors import LinkNotFoundError
from shortener.models import Link, PendingInvalidation


def link_for_code(*, code: str) -> Link | None:
    """The link `code`, whoever owns it (public things: QR codes, the preview), or None. A
    string that cannot be a code (shortener.rules: a NUL byte, which PostgreSQL refuses in text,
    would be a 500) is None without a query."""
    if not rules.ALIAS_RE.fullmatch(code):
        return None
    return Link.objects.filter(code=code).first()


def owned_link(*, code: str, owner: User) -> Link:
    """The link `code` if `owner` owns it. Someone else's link is LinkNotFoundError (404), not
    403: whether a code exists is nobody else's business (no enumeration through errors). So is
    a string that cannot be a code (no query)."""
    link = None
    if owner.is_authenticated and rules.ALIAS_RE.fullmatch(code):
        link = Link.objects.filter(code=code, owner=owner).first()
    if link is None:
        raise LinkNotFoundError(f"You have no link {code!r}.")
    return link


def links_for_owner(*, owner: User) -> QuerySet[Link]:
    """The owner's links, newest first (Snowflake ids are time-ordered: `-id` is `-created`)."""
    return Link.objects.filter(owner=owner).order_by("-id")


def short_url(*, code: str, request: HttpRequest | None = None) -> str:
    """The absolute short URL: SHORTENER_BASE_URL if set, else the origin of `request`."""
    if settings.SHORTENER_BASE_URL:
        return f"{settings.SHORTENER_BASE_URL.rstrip('/')}/{code}"
    if request is not None:
        return request.build_absolute_uri(f"/{code}")
    return f"/{code}"


def live_clicks(*, links: Iterable[Link]) -> dict[int, int]:
    """link id → human clicks, flushed (PostgreSQL) plus not yet flushed (Redis; 0 if Redis is
    down). One Redis round trip for the whole list."""
    links = list(links)
    pending = clicks.pending_clicks(link_ids=[link.id for link in links])
    return {link.id: link.clicks + pending.get(link.id, 0) for link in links}


def link_state(*, link: Link, clicks_so_far: int | None = None) -> str:
    """ "active", "disabled", "expired" or "exhausted" — for pages and the API: the redirect's
    rule (shortener.visits.link_state), a password link being "active"."""
    used = link.clicks if clicks_so_far is None else clicks_so_far
    state = visits.link_state(
        disabled=link.disabled,
        expires_at_ms=None if link.expires_at is None else int(link.expires_at.timestamp() * 1000),
        now_ms=time.time_ns() // 1_000_000,
        clicks_left=None if link.max_clicks is None else link.max_clicks - used,
        has_password=False,
    )
    return "active" if state == "ok" else state


def link_stats(*, link: Link) -> dict:
    """{clicks, by_day, top_referrers, devices, bot_hits}: see shortener.clicks.link_stats."""
    return clicks.link_stats(link=link)


def invalidation_backlog() -> tuple[int, float]:
    """(rows waiting in the outbox of cache invalidations, age of the oldest in seconds; 0 when
    none). A row outlives its request only while Redis is unreachable; `retry_invalidations`
    (Celery beat) clears it once Redis answers."""
    found = PendingInvalidation.objects.aggregate(waiting=Count("id"), oldest=Min("created_at"))
    if not found["waiting"]:
        return 0, 0.0
    return found["waiting"], max(0.0, (timezone.now() - found["oldest"]).total_seconds())
