"""`localtime` that cannot fail: for showing stored datetimes in the reader's time zone.

    {% load safe_time %}
    {{ link.expires_at|safe_localtime|date:"j M Y, H:i T" }}

Django's `localtime` (and `date`, which converts first) raise OverflowError, so the page is a
500, when the value is too near the end of Python's calendar for the zone: 9999-12-31T23:59Z in
Tokyo is in the year 10000. core.bounds keeps what users give us far from that edge; this keeps a
page up for a value that got past it anyway (an admin edit, a row older than the bound): it is
shown in UTC, and the `T`/`e` formats say so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.templatetags.tz import do_timezone
from django.utils import timezone

register = template.Library()


@register.filter(expects_localtime=False)
def safe_localtime(value: Any) -> Any:
    """`value` in the current time zone, or in UTC if that overflows; not a datetime: as is."""
    if not isinstance(value, datetime):
        return value
    try:
        return do_timezone(value, timezone.get_current_timezone())
    except OverflowError:
        return do_timezone(value, UTC)
