"""Top-level routes of the short links themselves, included last by config/urls.py:
`/{code}` (redirect) and `/{code}+` (preview). Owned by shortener/redirect.py.

Served by shortener.fastpath before Django when the link is cached and open; these routes do
the rest. The `shortcode` converter is the one definition of what a code looks like here.
"""

from django.urls import path, register_converter

from shortener import redirect


class ShortCodeConverter:
    regex = "[A-Za-z0-9_-]{3,32}"  # random codes (7 base62) and aliases (shortener.rules)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ShortCodeConverter, "shortcode")

urlpatterns = [
    path("<shortcode:code>+", redirect.preview_view, name="link-preview"),
    path("<shortcode:code>", redirect.redirect_view, name="link-redirect"),
]
