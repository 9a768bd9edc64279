"""The cached copy of a link: what it holds (`CachedLink`), filling it after a miss, caching a
new link as it is created, invalidating it after a change, and the PostgreSQL read behind it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.encoding import iri_to_uri

from shortener.cache.keys import keys_for, legacy_entry_key
from shortener.cache.scripts import LEASE_MS, RedisUnavailable, _new_token, client, guarded, script
from shortener.models import Link

logger = logging.getLogger("shortener.cache")


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

    def packed(self) -> str:
        """The cached entry: one string, `id|type|exp|pw|off|max|url` (visit.lua parses it with
        one pattern; the URL last, so whatever it holds cannot shift a field). One string rather
        than a hash: a URL is longer than hash-max-listpack-value (64 bytes), so a hash of these
        fields is stored as a hashtable, ~650 bytes an entry against ~290 for the string
        (docs/shortener.md, "Memory")."""
        return "|".join(
            (
                str(self.id),
                str(self.redirect_type),
                "" if self.expires_at_ms is None else str(self.expires_at_ms),
                "1" if self.has_password else "",
                "1" if self.disabled else "",
                "" if self.max_clicks is None else str(self.max_clicks),
                self.location,
            )
        )

    @classmethod
    def unpack(cls, entry: str) -> CachedLink | None:
        """The inverse of `packed`; None for a negative entry ("0")."""
        if entry == NEGATIVE_ENTRY:
            return None
        link_id, redirect_type, expires, password, disabled, max_clicks, location = entry.split(
            "|", 6
        )
        return cls(
            id=int(link_id),
            location=location,
            redirect_type=int(redirect_type),
            expires_at_ms=int(expires) if expires else None,
            has_password=password == "1",
            disabled=disabled == "1",
            max_clicks=int(max_clicks) if max_clicks else None,
        )


NEGATIVE_ENTRY = "0"  # a code that is not in PostgreSQL (no link has id 0)


def fill_link(*, code: str, lease_token: str, link: CachedLink | None) -> bool:
    """Cache `link` (None: a negative entry) if the fill lease still holds `lease_token`.
    Returns whether it filled. Raises RedisUnavailable."""
    return fill_links(fills=[(code, lease_token, link)])[0]


def fill_links(*, fills: Sequence[tuple[str, str, CachedLink | None]]) -> list[bool]:
    """`fill_link` for many (code, lease token, link) in one round trip (fill.lua each)."""
    run, redis_client = script("fill"), client()

    def fill() -> list[Any]:
        with redis_client.pipeline(transaction=False) as pipe:
            for code, lease_token, link in fills:
                keys = keys_for(code)
                if link is None:
                    ttl, entry = settings.SHORTENER_NEGATIVE_CACHE_SECONDS, NEGATIVE_ENTRY
                else:
                    ttl, entry = settings.SHORTENER_CACHE_SECONDS, link.packed()
                run(keys=[keys.lease, keys.link], args=[lease_token, ttl, entry], client=pipe)
            return pipe.execute()

    return [bool(filled) for filled in guarded(fill)]


def reserve_fills(*, codes: Sequence[str]) -> dict[str, str] | None:
    """Take the fill lease of each new code, overriding any reader's, and drop whatever Redis
    holds for the code (a negative entry cached while it was unknown; the entry and gate of a
    deleted link whose code is reused): {code: our token}, or None if Redis is unreachable.

    Call it after the INSERT and before the COMMIT (shortener.services). From here on nothing
    stale can be served for these codes: a reader that read PostgreSQL before the commit (no row
    yet) cannot fill a negative entry, an update committed before `cache_new_links` runs deletes
    our lease, which turns our fill into an invalidation, and if Redis fails before
    `cache_new_links`, the code is simply not cached (its first click is a miss). None: the
    caller puts the codes through the outbox of invalidations instead (services), so an entry
    that the unreachable Redis still holds is dropped once it answers. Never raises."""
    tokens = {code: _new_token() for code in codes}
    if not tokens:
        return tokens
    redis_client = client()

    def reserve() -> None:
        with redis_client.pipeline(transaction=False) as pipe:
            for code, token in tokens.items():
                keys = keys_for(code)
                pipe.delete(keys.link, keys.gate, keys.gate_lease, legacy_entry_key(code))
                pipe.set(keys.lease, token, px=LEASE_MS)
            pipe.execute()

    try:
        guarded(reserve)
    except RedisUnavailable as exc:
        logger.warning("shortener: new links not cached, their codes go to the outbox: %s", exc)
        return None
    return tokens


def cache_new_links(*, links: Sequence[Link], tokens: dict[str, str]) -> None:
    """After the COMMIT of `links`, with the tokens `reserve_fills` gave before it: cache each
    link whose fill lease we still hold (fill.lua, one round trip), and invalidate every other
    (its lease was lost to an invalidation: an update committed in between). Never raises: if
    Redis is down now, the links are not cached, and reserve_fills left nothing stale."""
    leased = [link for link in links if tokens.get(link.code)]
    filled: list[bool] = []
    if leased:
        fills = [(x.code, tokens[x.code], CachedLink.from_link(x)) for x in leased]
        try:
            filled = fill_links(fills=fills)
        except RedisUnavailable as exc:
            logger.warning("shortener: could not cache %d new link(s): %s", len(leased), exc)
    done = {link.code for link, ok in zip(leased, filled, strict=False) if ok}
    invalidate_links(codes=[link.code for link in links if link.code not in done])


def invalidate_link(*, code: str) -> bool:
    """Drop everything Redis holds about `code`: the entry (positive or negative), any fill in
    progress (its lease: that fill will be refused) and the max-clicks gate with any
    initialisation in progress (re-read from PostgreSQL on the next visit, so a changed
    max_clicks applies). Pending click counts stay: keyed by link id, flushed as usual.

    Call it after the change commits. Returns whether Redis did it. Never raises: if Redis is
    down (or the breaker open) it logs and returns False. The services keep an outbox of these
    (models.PendingInvalidation), so one that failed is done again once Redis answers.
    """
    return invalidate_links(codes=[code])


def invalidate_links(*, codes: Iterable[str]) -> bool:
    """`invalidate_link` for many codes in one round trip. Never raises; False if not done."""
    names = [name for code in codes for name in _link_key_names(code)]
    if not names:
        return True
    redis_client = client()

    def delete() -> None:
        # One DEL per code: its keys share a hash tag (Cluster-safe); different codes may not,
        # so they are separate commands in one pipeline.
        with redis_client.pipeline(transaction=False) as pipe:
            for start in range(0, len(names), _PER_CODE):
                pipe.delete(*names[start : start + _PER_CODE])
            pipe.execute()

    try:
        guarded(delete)
    except RedisUnavailable as exc:
        logger.warning(
            "shortener: could not invalidate %d cached link(s): %s", len(names) // _PER_CODE, exc
        )
        return False
    return True


_PER_CODE = 5  # names per code in _link_key_names


def _link_key_names(code: str) -> tuple[str, str, str, str, str]:
    keys = keys_for(code)
    return keys.link, keys.lease, keys.gate, keys.gate_lease, legacy_entry_key(code)


def load_link(*, code: str) -> Link | None:
    """The Link with `code` from PostgreSQL (one indexed SELECT), for the pages that need the
    whole row (the password form, the preview). The redirect reads `load_cached_link`."""
    return Link.objects.filter(code=code).first()


def load_cached_link(*, code: str) -> CachedLink | None:
    """The cache-aside read of a miss: what the cache holds of the link with `code`, from
    PostgreSQL, or None. One indexed SELECT of the seven columns the redirect needs, written
    once from the model's metadata instead of built by the ORM per call: the ORM's query costs
    ~5x the CPU of this one (~1 ms against ~0.2 ms on the benchmark box), and this read is every
    miss and, while Redis is down, every redirect. Tested equal to CachedLink.from_link."""
    with connection.cursor() as cursor:
        cursor.execute(_cached_link_sql(), [code])
        row = cursor.fetchone()
    if row is None:
        return None
    link_id, long_url, redirect_type, expires_at, has_password, disabled, max_clicks = row
    return CachedLink(
        id=link_id,
        location=iri_to_uri(long_url),
        redirect_type=redirect_type,
        expires_at_ms=None if expires_at is None else int(expires_at.timestamp() * 1000),
        has_password=has_password,
        disabled=disabled,
        max_clicks=max_clicks,
    )


@functools.cache
def _cached_link_sql() -> str:
    meta, quote = Link._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    columns = (
        f"{column('id')}, {column('long_url')}, {column('redirect_type')}, "
        f"{column('expires_at')}, {column('password')} <> '', {column('disabled')}, "
        f"{column('max_clicks')}"
    )
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {column('code')} = %s"
