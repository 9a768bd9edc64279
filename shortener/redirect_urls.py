"""Top-level routes of the short links themselves, included last by config/urls.py:
`/{code}` (redirect) and `/{code}+` (preview). Owned by shortener/redirect.py.

Served by shortener.fastpath before Django when the link is cached and open; these routes do
the rest. The `shortcode` converter (shortener/converters.py) is the one definition of what a
code looks like in a URL.
"""

from django.urls import path

from shortener import converters as _converters  # noqa: F401  (registers `shortcode`)
from shortener import redirect

urlpatterns = [
    path("<shortcode:code>+", redirect.preview_view, name="link-preview"),
    path("<shortcode:code>", redirect.redirect_view, name="link-redirect"),
]
