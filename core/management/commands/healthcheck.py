"""`manage.py healthcheck`: the /healthz report on stdout; exit 0 when healthy, 1 when not.

For container HEALTHCHECKs, cron and tests: it checks from this process's environment, so it
also proves a configuration (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL) before a deploy.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from core.health import health_report


class Command(BaseCommand):
    help = "Check PostgreSQL, Redis and the Celery broker; exit 1 naming any that do not answer."

    def handle(self, *args, **options) -> None:
        status, body = health_report(detail=True)
        self.stdout.write(json.dumps(body, indent=2))
        if status != 200:
            raise CommandError(f"unhealthy: {', '.join(body['failing'])}")
