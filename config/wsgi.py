"""WSGI entry point (gunicorn `config.wsgi`): Django, behind the shortener's redirect fast path.

Cached redirects are answered by shortener.fastpath without entering Django's middleware stack;
everything else goes to Django unchanged.

Garbage collection. A process with Django loaded holds ~110k objects the collector tracks, and a
full (generation 2) collection walks them all: 130 to 280 ms on this 2-core box, during which the
worker answers nothing. Those objects live as long as the process, so after loading what Django
otherwise loads on first use (the URLconf, the templates of the pages that pay for it), they are
frozen (`gc.freeze`): collections then walk only what came later. Measured under
bench/bench_redirect.py's load: four such pauses per run before, none after (docs/benchmarks.md,
"Garbage-collection pauses"). The same as Instagram's "Dismissing Python Garbage Collection".
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Imported after get_wsgi_application(), which sets Django up (the fast path reads settings and
# the shortener's models module).
from shortener.fastpath import RedirectFastPath  # noqa: E402

application = RedirectFastPath(django_application)

# Templates a request can need at once: an unknown code's 404 (also rendered once by the fast
# path), a link's 410, a password page, the home page and its base.
WARM_TEMPLATES = (
    "404.html",
    "base.html",
    "shortener/unavailable.html",
    "shortener/password.html",
    "shortener/index.html",
)


def freeze_startup_objects() -> int:
    """Load the URLconf and WARM_TEMPLATES, then move every object alive now out of the
    collector's reach. Returns how many objects are frozen."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    for name in WARM_TEMPLATES:
        get_template(name)
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
    return gc.get_freeze_count()


freeze_startup_objects()
