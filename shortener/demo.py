"""Demo data for `manage.py seed_demo`: a few links of alice's, so "My links" and the stats page
have something to show. Idempotent: links are found by their alias."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from shortener import services
from shortener.errors import AliasTakenError
from shortener.models import Link

DEMO_LINKS = (
    ("seed", "https://en.wikipedia.org/wiki/URL_shortening", {}),
    ("snowflake", "https://en.wikipedia.org/wiki/Snowflake_ID", {}),
    ("once", "https://en.wikipedia.org/wiki/One-time_password", {"max_clicks": 1}),
    ("moved", "https://en.wikipedia.org/wiki/HTTP_301", {"redirect_type": 301}),
)


def seed(*, stdout: Any) -> None:
    owner = User.objects.filter(username="alice").first()  # accounts' seed runs first
    if owner is None:
        return
    for alias, url, options in DEMO_LINKS:
        if Link.objects.filter(code=alias).exists():
            continue
        try:
            services.create_link(owner=owner, long_url=url, alias=alias, **options)
        except AliasTakenError:
            continue  # a concurrent seed made it
        stdout.write(f"shortener: created /{alias} → {url} (owner alice)")
