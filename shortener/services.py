"""Writes of the URL shortener: create (one or in bulk), update, delete.

Uniqueness of codes is the database's job (a unique index on `code`), never a prior SELECT: a
random code that collides is redrawn, a taken alias is AliasTakenError (409) — under any
concurrency, never a 500 and never two links with one code. Every change to a link invalidates
its cached copy in Redis after the commit (shortener.cache), through an outbox
(`PendingInvalidation`): an invalidation that Redis missed is done again once it is back. A new
link is cached instead, so its first clicks are hits (a code looked up before it existed sits in
the negative cache: that entry goes too); the fill lease taken between INSERT and COMMIT keeps
it as safe as a fill. If Redis cannot be reached for that lease, the new codes go through the
outbox too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts.models import User
from core.base62 import random_code
from core.errors import ApplicationError, ConflictError, InvalidInputError
from core.snowflake import next_id
from shortener import cache, rules
from shortener.errors import AliasTakenError
from shortener.models import Link, PendingInvalidation, RedirectType

RANDOM_CODE_ATTEMPTS = 5  # 62**7 codes: even at a billion links a redraw is a ~1-in-3,500 event
_UNSET: Any = object()


def create_link(
    *,
    owner: User | None,
    long_url: str,
    alias: str | None = None,
    expires_at: datetime | None = None,
    max_clicks: int | None = None,
    redirect_type: int = RedirectType.FOUND,
    password: str | None = None,
    request_host: str | None = None,
) -> Link:
    """Create a short link. Anonymous links (`owner=None`) work but can never be edited.

    Raises InvalidInputError (400) naming every bad field at once, AliasTakenError (409) when
    `alias` is in use (by anyone, ignoring nothing: codes are case-sensitive).
    """
    link = _new_link(
        owner=owner, long_url=long_url, alias=alias, expires_at=expires_at,
        max_clicks=max_clicks, redirect_type=redirect_type, password=password,
        request_host=request_host,
    )  # fmt: skip
    for _attempt in range(RANDOM_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                link.save(force_insert=True)
                _cache_after_commit([link])  # the code is ours now: see _cache_after_commit
        except IntegrityError as exc:
            violated = _violated(exc)
            if violated == "shortener_link_pkey":
                link.id = next_id()  # a duplicate Snowflake (see core.snowflake): fresh id, retry
                continue
            if violated != "shortener_link_code_key":
                raise
            if link.is_alias:
                raise _alias_taken(link.code) from None
            link.code = random_code(length=_code_length())
            continue
        return link
    raise ConflictError("Could not allocate a short code; try again.", code="code_unavailable")


@dataclass(frozen=True)
class BulkItemResult:
    index: int
    status: int  # 201, or the error's HTTP status
    link: Link | None = None
    error: ApplicationError | None = None


def create_links_bulk(
    *, owner: User, items: list[dict[str, Any]], request_host: str | None = None
) -> list[BulkItemResult]:
    """Create up to SHORTENER_BULK_MAX links in one transaction; one result per item, in order.

    A bad item does not fail the others: it gets its 400/409 in its result. All valid items are
    inserted with one multi-row INSERT … ON CONFLICT DO NOTHING (a few statements for a thousand
    links instead of a thousand commits); the items that lost a conflict are then told apart:
    a random code is redrawn, an alias is 409 — also when two items of the request ask for it.

    Raises InvalidInputError (400, nothing created) when more than SHORTENER_BULK_MAX_PASSWORDS
    items carry a password: each costs a password hash (~0.3 s of a worker), and one request
    must not hold a worker for minutes (docs/api.md, "Bounds").
    """
    with_password = sum(1 for item in items if item.get("password"))
    if with_password > settings.SHORTENER_BULK_MAX_PASSWORDS:
        limit = settings.SHORTENER_BULK_MAX_PASSWORDS
        message = (
            f"At most {limit} links with a password per request (each costs a password hash);"
            f" got {with_password}. Send the rest in further requests."
        )
        raise InvalidInputError(f"links: {message}", fields={"links": [message]})
    results: dict[int, BulkItemResult] = {}
    pending: dict[int, Link] = {}
    for index, item in enumerate(items):
        try:
            pending[index] = _new_link(owner=owner, request_host=request_host, **item)
        except ApplicationError as exc:
            results[index] = BulkItemResult(index, exc.status_code, error=exc)

    with transaction.atomic():
        for _attempt in range(RANDOM_CODE_ATTEMPTS):
            if not pending:
                break
            Link.objects.bulk_create(pending.values(), ignore_conflicts=True)
            inserted = set(
                Link.objects.filter(id__in=[link.id for link in pending.values()]).values_list(
                    "id", flat=True
                )
            )
            retry: dict[int, Link] = {}
            for index, link in pending.items():
                if link.id in inserted:
                    results[index] = BulkItemResult(index, 201, link=link)
                elif link.is_alias and Link.objects.filter(code=link.code).exists():
                    results[index] = BulkItemResult(index, 409, error=_alias_taken(link.code))
                else:  # a random code (or the id) collided: redraw both
                    link.id = next_id()
                    if not link.is_alias:
                        link.code = random_code(length=_code_length())
                    retry[index] = link
            pending = retry
        for index in pending:
            error = ConflictError("Could not allocate a short code.", code="code_unavailable")
            results[index] = BulkItemResult(index, 409, error=error)
        _cache_after_commit([r.link for r in results.values() if r.link is not None])
    return [results[index] for index in range(len(items))]


def update_link(
    *,
    link: Link,
    long_url: str = _UNSET,
    expires_at: datetime | None = _UNSET,
    max_clicks: int | None = _UNSET,
    redirect_type: int = _UNSET,
    password: str | None = _UNSET,
    disabled: bool = _UNSET,
    request_host: str | None = None,
) -> Link:
    """Change the given fields of `link` (others stay); `password=""` or None removes the
    password. The code never changes: it is printed on posters. Raises InvalidInputError (400).
    The cached copy is dropped after the commit, so the next redirect reads the new row."""
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    checks = {
        "long_url": lambda v: rules.normalize_destination(v, request_host=request_host),
        "expires_at": rules.check_expiry,
        "max_clicks": rules.check_max_clicks,
        "redirect_type": rules.check_redirect_type,
        "disabled": bool,
        "password": lambda v: make_password(rules.check_password(v)) if v else "",
    }
    given = {
        "long_url": long_url, "expires_at": expires_at, "max_clicks": max_clicks,
        "redirect_type": redirect_type, "password": password, "disabled": disabled,
    }  # fmt: skip
    for field, value in given.items():
        if value is _UNSET:
            continue
        try:
            changes[field] = checks[field](value)
        except InvalidInputError as exc:
            errors.update(exc.fields)
    _raise_if(errors)
    if not changes:
        return link
    for field, value in changes.items():
        setattr(link, field, value)
    with transaction.atomic():
        link.save(update_fields=[*changes, "updated_at"])
        invalidate_after_commit(codes=[link.code])
    return link


def delete_link(*, link: Link) -> None:
    """Delete `link` and its click events. Its code becomes free again (aliases can be reused);
    the cached copy is dropped after the commit, so the next redirect is a 404."""
    code = link.code
    with transaction.atomic():
        link.delete()
        invalidate_after_commit(codes=[code])


def retry_invalidations(*, limit: int = 1000) -> int:
    """Redo the invalidations Redis missed (the outbox's rows left behind: Redis was unreachable
    when their change committed), oldest first, in one round trip; delete the rows once done.
    Run by Celery beat (shortener.tasks). Returns how many rows it cleared: 0 when there were
    none, or Redis is still unreachable (the rows stay for the next run)."""
    rows = list(PendingInvalidation.objects.order_by("id").values_list("id", "code")[:limit])
    if not rows or not cache.invalidate_links(codes=sorted({code for _id, code in rows})):
        return 0
    PendingInvalidation.objects.filter(id__in=[row_id for row_id, _code in rows]).delete()
    return len(rows)


def invalidate_after_commit(*, codes: list[str]) -> None:
    """The outbox of cache invalidations: a PendingInvalidation row per code, written in the
    caller's transaction, so the intent commits with the change (call it inside the transaction
    that changes the links: the services here, and the admin's edits). After the commit, drop the
    cached entries and then the rows. If Redis is unreachable (or the process dies first), the
    rows stay, and retry_invalidations drops the entries once Redis answers: a Redis that kept
    its data does not serve an edited or deleted link for the rest of the entry's TTL."""
    rows = PendingInvalidation.objects.bulk_create([PendingInvalidation(code=c) for c in codes])
    ids = [row.id for row in rows]

    def invalidate() -> None:
        if cache.invalidate_links(codes=codes):
            PendingInvalidation.objects.filter(id__in=ids).delete()

    transaction.on_commit(invalidate)


# --- helpers ------------------------------------------------------------------------------------


def _cache_after_commit(links: list[Link]) -> None:
    """Inside the transaction that inserts `links`, after the INSERT: arrange for them to be
    cached once it commits (SHORTENER_CACHE_ON_CREATE), their fill leases taken now and anything
    stale for their codes dropped (cache.reserve_fills). If Redis is unreachable, or caching on
    create is off, the codes go through the outbox of invalidations like any other change: a
    negative entry cached while a code was unknown must not answer 404 once Redis is back."""
    if not links:
        return
    codes = [link.code for link in links]
    tokens = cache.reserve_fills(codes=codes) if settings.SHORTENER_CACHE_ON_CREATE else None
    if tokens is None:
        invalidate_after_commit(codes=codes)
    else:
        transaction.on_commit(lambda: cache.cache_new_links(links=links, tokens=tokens))


def _new_link(
    *,
    owner: User | None,
    long_url: str,
    alias: str | None = None,
    expires_at: datetime | None = None,
    max_clicks: int | None = None,
    redirect_type: int = RedirectType.FOUND,
    password: str | None = None,
    request_host: str | None = None,
) -> Link:
    """A validated, unsaved Link with a fresh id and code. Collects every field's error."""
    errors: dict[str, list[str]] = {}
    checked: dict[str, Any] = {}
    for field, check in (
        ("long_url", lambda: rules.normalize_destination(long_url, request_host=request_host)),
        ("alias", lambda: rules.check_alias(alias) if alias else None),
        ("expires_at", lambda: rules.check_expiry(expires_at)),
        ("max_clicks", lambda: rules.check_max_clicks(max_clicks)),
        ("redirect_type", lambda: rules.check_redirect_type(redirect_type)),
        ("password", lambda: rules.check_password(password) if password else None),
    ):
        try:
            checked[field] = check()
        except InvalidInputError as exc:
            errors.update(exc.fields)
    _raise_if(errors)
    return Link(
        id=next_id(),
        code=checked["alias"] or random_code(length=_code_length()),
        is_alias=bool(checked["alias"]),
        long_url=checked["long_url"],
        owner=owner,
        expires_at=checked["expires_at"],
        max_clicks=checked["max_clicks"],
        redirect_type=checked["redirect_type"],
        password=make_password(checked["password"]) if checked["password"] else "",
    )


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        field, messages = next(iter(errors.items()))
        raise InvalidInputError(f"{field}: {messages[0]}", fields=errors)


def _alias_taken(code: str) -> AliasTakenError:
    message = f"The alias {code!r} is taken."
    return AliasTakenError(message, fields={"alias": [message]})


def _violated(exc: IntegrityError) -> str | None:
    """The name of the constraint an INSERT violated (psycopg's diagnostics)."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _code_length() -> int:
    from django.conf import settings

    return settings.SHORTENER_CODE_LENGTH
