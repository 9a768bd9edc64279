from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user. A custom model from day one, as Django advises, so that later issues
    can add fields (display name, bio for the timeline) without a painful swap."""

    class Meta(AbstractUser.Meta):
        db_table = "accounts_user"
