from django.db import models  # noqa: F401  (models arrive with this app's issue)
