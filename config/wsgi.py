"""WSGI entry point (gunicorn `config.wsgi`): Django, behind the shortener's redirect fast path.

Cached redirects are answered by shortener.fastpath without entering Django's middleware stack;
everything else goes to Django unchanged.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Imported after get_wsgi_application(), which sets Django up (the fast path reads settings and
# the shortener's models module).
from shortener.fastpath import RedirectFastPath  # noqa: E402

application = RedirectFastPath(django_application)
