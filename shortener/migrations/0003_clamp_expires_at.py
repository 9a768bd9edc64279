"""Bring stored expiries back into core.bounds' datetime range.

Before the bound, the home page form (9999-12-31T23:59 west of UTC) stored the year 10000, which
psycopg cannot read: every page, list and admin screen that met the row answered 500. So this is
SQL, not a loop over models: Python could not load those rows. A later expiry becomes the bound's
end (the link still does not expire for ~975 years), an earlier one its start (still expired);
each changed code gets a PendingInvalidation row, so its cached copy is dropped (the outbox,
shortener.services) once Redis is reached.
"""

from django.db import migrations

# core.bounds' range when this was written; a later change of the bound needs its own migration.
DATETIME_MIN = "1970-01-01 00:00:00+00"
DATETIME_MAX = "2999-12-31 23:59:59+00"


def clamp_expires_at(apps, schema_editor) -> int:
    """Clamp shortener_link.expires_at into [DATETIME_MIN, DATETIME_MAX]; the rows changed."""
    link = apps.get_model("shortener", "Link")._meta.db_table
    outbox = apps.get_model("shortener", "PendingInvalidation")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH clamped AS (
                UPDATE {link}
                SET expires_at = LEAST(GREATEST(expires_at, %(min)s::timestamptz),
                                       %(max)s::timestamptz)
                WHERE expires_at > %(max)s::timestamptz OR expires_at < %(min)s::timestamptz
                RETURNING code
            )
            INSERT INTO {outbox} (code, created_at) SELECT code, now() FROM clamped
            """,
            {"min": DATETIME_MIN, "max": DATETIME_MAX},
        )
        return cursor.rowcount


class Migration(migrations.Migration):
    dependencies = [
        ("shortener", "0002_pending_invalidation"),
    ]

    operations = [
        # Nothing to undo: the old values were the bug.
        migrations.RunPython(clamp_expires_at, migrations.RunPython.noop, elidable=True),
    ]
