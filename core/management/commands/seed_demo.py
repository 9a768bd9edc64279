"""`manage.py seed_demo`: demo data so a newcomer has something to click.

Every app may ship a `demo.py` with `seed(*, stdout)`; this command runs them in INSTALLED_APPS
order (accounts first, so later apps can use its users). Each seed must be idempotent: `make run`
calls this on every start.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create demo users and data (idempotent)."

    def handle(self, *args, **options) -> None:
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if find_spec(module_name) is None:
                continue
            import_module(module_name).seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
