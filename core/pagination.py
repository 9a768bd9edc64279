"""Cursor pagination for every list endpoint of every app, strict about what a client sends.

DRF's CursorPagination trusts the position inside a cursor (`?cursor=` is base64 of
`p=<position>&r=<reverse>&o=<offset>`): a crafted `p=abc`, `p=1.5`, a NUL byte or a number past
the bigint range reached PostgreSQL and came back as a 500, and `?limit=abc` was silently
ignored. Here both are read in one place and refused with a 400 naming the parameter, in the
one error shape. Lists order by Snowflake id, newest first: the position is an id.

    class LinkCursorPagination(IdCursorPagination):
        page_size, max_page_size = 50, 200

Bounds (docs/api.md, "Pagination"): `limit` is 1..max_page_size (more is capped, as DRF and
Mastodon cap it; not a number or below 1 is a 400); an id is a decimal integer 0..2^63-1.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from core.bounds import MAX_ID
from core.errors import InvalidInputError

invalid_param = InvalidInputError.for_field


def parse_id(value: str | None, *, name: str) -> int | None:
    """A 64-bit id as clients send it (decimal digits, as our JSON gives ids), or None when
    absent or empty. Anything else is a 400 naming `name`."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > MAX_ID:
        raise invalid_param(name, f"An id is a whole number from 0 to {MAX_ID}.")
    return int(value)


def parse_limit(request: Request, *, name: str = "limit", default: int, maximum: int) -> int:
    """`?limit=`: `default` when absent, at most `maximum` (more is capped); 400 unless a whole
    number of at least 1."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise invalid_param(name, f"{name} is a whole number from 1 to {maximum}.")
    return maximum if len(digits) > 18 else min(int(digits), maximum)


class IdCursorPagination(CursorPagination):
    """Newest first by Snowflake id (stable under inserts), `?limit=` and `?cursor=` strict."""

    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    invalid_cursor = "Not a cursor from this API: pass `next` or `previous` as given."

    @classmethod
    def openapi_parameters(cls) -> list[Any]:
        """`cursor` and `limit` for the list operation's schema, with the bounds enforced here:
        `@extend_schema(parameters=LinkCursorPagination.openapi_parameters())`. A list is an
        APIView paginating by hand, of which drf-spectacular cannot see the query parameters."""
        from drf_spectacular.utils import OpenApiParameter

        return [
            OpenApiParameter(
                "cursor", str, description="Opaque: from a `next` or `previous` link, as given."
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1},
                description=f"Page size, default {cls.page_size}; more than {cls.max_page_size}"
                f" is capped to {cls.max_page_size}.",
            ),
        ]

    def get_page_size(self, request: Request) -> int:
        return parse_limit(request, default=self.page_size, maximum=self.max_page_size)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except (NotFound, UnicodeError):  # DRF answers 404; it is bad input
            raise invalid_param("cursor", self.invalid_cursor) from None
        if cursor is not None and cursor.position is not None:
            try:
                parse_id(cursor.position, name="cursor")
            except InvalidInputError:
                raise invalid_param("cursor", self.invalid_cursor) from None
        return cursor
