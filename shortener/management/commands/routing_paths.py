"""`manage.py routing_paths [--output FILE]`: the single-segment paths that are Django's, one per
line ("/admin", "/api", "/healthz", ...), for the load balancer's L7 routing (config/haproxy.cfg,
EDGE_RESERVED): a GET of /<word> is a short code for the redirect tier unless it is listed here.

The list is shortener.rules.reserved_aliases(), the same words an alias may not take, derived
from the URLconf: a route added to Django is routed to Django without anyone editing the proxy's
configuration, and no alias can shadow it."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from shortener.rules import reserved_aliases


class Command(BaseCommand):
    help = "Print (or write) the single-segment paths the load balancer routes to Django."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", type=Path, help="write to this file instead of stdout")

    def handle(self, *args, output: Path | None = None, **options) -> None:
        text = "".join(f"/{word}\n" for word in sorted(reserved_aliases()))
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
