"""`manage.py healthcheck [--backlogs]`: the /healthz report on stdout; exit 0 when healthy, 1 when
not. With `--backlogs`, also 1 when background work is behind (the report's `behind`): the check
for the Celery worker and beat containers, and for monitoring.

For container HEALTHCHECKs, cron and tests: it checks from this process's environment, so it
also proves a configuration (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL) before a deploy.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from core.health import health_report


class Command(BaseCommand):
    help = "Check PostgreSQL, Redis, the broker (exit 1 naming any down) and the backlogs."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--backlogs", action="store_true", help="also fail when background work is behind"
        )

    def handle(self, *args, **options) -> None:
        status, body = health_report(detail=True)
        self.stdout.write(json.dumps(body, indent=2))
        if status != 200:
            raise CommandError(f"unhealthy: {', '.join(body['failing'])}")
        if options["backlogs"] and body.get("behind"):
            raise CommandError(f"behind: {', '.join(body['behind'])}")
