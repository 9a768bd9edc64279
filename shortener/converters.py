"""The `shortcode` path converter: the one definition of what a code looks like in a URL.

Registered on import; every URLconf with a code in its paths imports this module. A path whose
code cannot be one (too short or long, any other character: a NUL byte, which PostgreSQL refuses
in text, a space, a slash) matches no route and is a 404 before any view or query runs.
"""

from django.urls import register_converter

from shortener.rules import ALIAS_PATTERN


class ShortCodeConverter:
    regex = ALIAS_PATTERN  # random codes (7 base62) and aliases (shortener.rules)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ShortCodeConverter, "shortcode")
