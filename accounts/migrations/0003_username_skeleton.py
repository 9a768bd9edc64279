"""Store each username's TR39 skeleton under a unique constraint (accounts/usernames.py).

The backfill goes oldest user first. A user whose skeleton an older user already has (two
look-alike names that signed up before this rule) keeps a NULL skeleton: nobody is renamed, the
older one holds the skeleton, and no new look-alike of either can sign up. The migration names
such users on stdout, for an operator to look at. Running the backfill again (after an ICU
upgrade changed the confusables data) recomputes every skeleton the same way.
"""

from django.db import migrations, models

from accounts.usernames import username_skeleton

BATCH = 1000


def backfill_skeletons(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    seen = set()
    batch = []
    for user in User.objects.order_by("pk").only("pk", "username").iterator(chunk_size=BATCH):
        skeleton = username_skeleton(user.username)
        if skeleton in seen:
            print(f"\n  accounts: {user.username!r} (id {user.pk}) looks like an older user; kept")
            user.username_skeleton = None
        else:
            seen.add(skeleton)
            user.username_skeleton = skeleton
        batch.append(user)
        if len(batch) >= BATCH:
            User.objects.bulk_update(batch, ["username_skeleton"])
            batch = []
    User.objects.bulk_update(batch, ["username_skeleton"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_username_case_insensitive_unique"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_skeleton",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill_skeletons, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                fields=("username_skeleton",),
                name="accounts_user_username_skeleton_unique",
                violation_error_code="username_lookalike",
                violation_error_message=(
                    "This username looks too much like an existing one. Please choose another."
                ),
            ),
        ),
    ]
