"""Demo data for `manage.py seed_demo`: a few links of alice's, with two weeks of clicks, so "My
links" and the stats page have something to show. Idempotent: links are found by their alias,
histories by their events' stream ids.

The history is written as the flush writes real clicks (shortener/clicks/flush.py): ClickEvent
rows, and the same counts added to Link.clicks / bot_hits in the same transaction, so the stats
page's total, chart, referrers and devices agree. Its events' stream ids start with "demo:"
(real ones are "<slot>:<entry id>"). The history ends yesterday; when it has aged, the next seed
moves it forward by whole days, counts unchanged, so the chart is never empty on a first look.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.db.models.functions import Least

from accounts.models import User
from shortener import services
from shortener.errors import AliasTakenError
from shortener.models import ClickEvent, Device, Link

DEMO_LINKS = (
    ("seed", "https://en.wikipedia.org/wiki/URL_shortening", {}),
    ("snowflake", "https://en.wikipedia.org/wiki/Snowflake_ID", {}),
    ("once", "https://en.wikipedia.org/wiki/One-time_password", {"max_clicks": 1}),
    ("moved", "https://en.wikipedia.org/wiki/HTTP_301", {"redirect_type": 301}),
)
# Human clicks per day, oldest first, ending yesterday: a share on a forum, then the long tail.
# "once" has none: it allows one click, left for the newcomer to try.
DEMO_HISTORY = {
    "seed": (2, 3, 2, 5, 31, 58, 36, 21, 14, 17, 11, 8, 12, 9),
    "snowflake": (0, 1, 4, 3, 6, 5, 9, 7, 12, 10, 8, 14, 11, 13),
    "moved": (0, 0, 0, 0, 0, 0, 0, 6, 3, 2, 1, 2, 0, 1),  # a 301: browsers cache it after once
}
_PREFIX = "demo:"
_REFERRERS = (("", 40), ("news.ycombinator.com", 22), ("www.google.com", 14),
              ("github.com", 10), ("www.reddit.com", 8), ("lobste.rs", 6))  # fmt: skip
_DEVICES = ((Device.DESKTOP, 58), (Device.MOBILE, 35), (Device.TABLET, 7))


def seed(*, stdout: Any) -> None:
    owner = User.objects.filter(username="alice").first()  # accounts' seed runs first
    if owner is None:
        return
    for alias, url, options in DEMO_LINKS:
        if not Link.objects.filter(code=alias).exists():
            try:
                services.create_link(owner=owner, long_url=url, alias=alias, **options)
                stdout.write(f"shortener: created /{alias} → {url} (owner alice)")
            except AliasTakenError:
                pass  # a concurrent seed made it
        if alias in DEMO_HISTORY:
            _seed_history(code=alias, per_day=DEMO_HISTORY[alias], stdout=stdout)


def _seed_history(*, code: str, per_day: tuple[int, ...], stdout: Any) -> None:
    """Give the link `code` its demo click history if it has none, or move an aged one forward.
    Locks the link's row (SELECT FOR UPDATE): two seeds at once write one history, and the
    flush's counter UPDATE waits for the commit (it adds to the same columns)."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with transaction.atomic():
        link = Link.objects.select_for_update().filter(code=code).first()
        if link is None:
            return
        history = ClickEvent.objects.filter(link=link, stream_id__startswith=_PREFIX)
        newest = history.aggregate(newest=Max("occurred_at"))["newest"]
        if newest is not None:
            days = (yesterday - newest.astimezone(UTC).date()).days
            if days > 0:
                history.update(occurred_at=F("occurred_at") + timedelta(days=days))
            return
        events = _history_events(link=link, per_day=per_day, last_day=yesterday)
        ClickEvent.objects.bulk_create(events)
        humans = sum(not event.is_bot for event in events)
        bots = len(events) - humans
        first = min(event.occurred_at for event in events)
        Link.objects.filter(pk=link.pk).update(
            clicks=F("clicks") + humans,
            bot_hits=F("bot_hits") + bots,
            # A link is not clicked before it exists: dated back to its first click, if later.
            created_at=Least(F("created_at"), first - timedelta(hours=1)),
        )
    stdout.write(f"shortener: /{code} has {humans} clicks and {bots} bot hits over the last days")


def _history_events(*, link: Link, per_day: tuple[int, ...], last_day: date) -> list[ClickEvent]:
    """The events of `per_day` (human clicks a day, the last on `last_day`), plus a bot hit for
    about every eighth click (crawlers, link previews). Random but the same on every machine."""
    rng = random.Random(link.code)
    referrers, referrer_weights = zip(*_REFERRERS, strict=True)
    devices, device_weights = zip(*_DEVICES, strict=True)
    events: list[ClickEvent] = []
    first_day = last_day - timedelta(days=len(per_day) - 1)
    for offset, clicks in enumerate(per_day):
        midnight = datetime.combine(first_day + timedelta(days=offset), time.min, tzinfo=UTC)
        bots = (clicks + rng.randrange(8)) // 8
        for index in range(clicks + bots):
            is_bot = index >= clicks
            events.append(
                ClickEvent(
                    link=link,
                    stream_id=f"{_PREFIX}{link.id}:{len(events)}",
                    occurred_at=midnight + timedelta(seconds=rng.randrange(86_400)),
                    referrer_host="" if is_bot else rng.choices(referrers, referrer_weights)[0],
                    device=Device.BOT if is_bot else rng.choices(devices, device_weights)[0],
                    is_bot=is_bot,
                )
            )
    return events
