"""Bounds on values people give us that the database stores: the one place every app checks them.

PostgreSQL accepts more than Python can read back. A `timestamptz` runs to the year 294276, but
Python's `datetime` stops at 9999-12-31: a row of the year 10000 makes psycopg raise on every
SELECT that reads it, and 9999-12-31T23:59Z shown in Tokyo (`localtime`) overflows. Either way
each page, list and admin screen that meets the row is a 500. So user-supplied datetimes are
kept within a range that every time zone can display (offsets stay within ±26 h), and anything
outside it is a 400 that names the field. Why these ends: docs/shortener.md, "Expiry bounds".
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.errors import InvalidInputError

# 1970 to 2999, in UTC. The end is millennia short of Python's 9999-12-31, so no zone's offset
# can push a stored value over (2999-12-31T23:59:59Z is 3000-01-01T08:59 in Tokyo); it is a
# four-digit ISO 8601 year, and as milliseconds (3.2e13) exact in a JavaScript number, a Lua
# number and an int64. No expiry, tweet or payment needs a later date. The start is the Unix
# epoch: a timestamp is never negative (Windows' fromtimestamp refuses those), and nothing we
# store happened before it.
# Every id we store (Snowflakes, ids in a query string) is a PostgreSQL bigint.
MAX_ID = 2**63 - 1

DATETIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
DATETIME_RANGE_MESSAGE = "Give a date and time from 1970-01-01 00:00 to 2999-12-31 23:59:59 UTC."


def check_datetime(value: datetime, *, field: str) -> datetime:
    """`value` in UTC if it has a time zone and lies within [DATETIME_MIN, DATETIME_MAX];
    InvalidInputError (400) naming `field` otherwise, also when converting it overflows."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise _invalid(field, "Give the time zone too, e.g. 2030-01-31T12:00:00Z.")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-05:00 is in the year 10000 in UTC
        raise _invalid(field, DATETIME_RANGE_MESSAGE) from None
    if not DATETIME_MIN <= utc <= DATETIME_MAX:
        raise _invalid(field, DATETIME_RANGE_MESSAGE)
    return utc


_invalid = InvalidInputError.for_field
