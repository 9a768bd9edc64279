"""`manage.py seed_demo`: demo data so a newcomer has something to click.

Every app may ship a `demo.py` with `seed(*, stdout)`; this command runs them in INSTALLED_APPS
order (accounts first, so later apps can use its users). Each seed must be idempotent: `make run`
calls this on every start.

The demo accounts have public passwords, so the command refuses to run with DEBUG off: a
deployment never has demo data. `make run` sets DEBUG=true (Makefile); `check --deploy` fails
while a demo account keeps its password (core/checks.py).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.checks import demo_modules


class Command(BaseCommand):
    help = "Create demo users and data (idempotent). Development only: refuses with DEBUG off."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "DEBUG is off, so this looks like a deployment: seed_demo creates accounts with "
                "public passwords (admin / admin-pass-123) and refuses to. It is for a "
                "development machine: `make run` runs it with DEBUG=true."
            )
        for module in demo_modules():
            module.seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
