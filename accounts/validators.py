"""Password validators of our own (settings.AUTH_PASSWORD_VALIDATORS, with Django's)."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

# Whitespace, and what shows as nothing: separators (Z*), controls (Cc), format characters (Cf:
# zero-width space, joiners, direction marks).
_INVISIBLE_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")


class WhitespacePasswordValidator:
    """Refuse a password that is only spaces (or other characters that show as nothing).

    Django's MinimumLengthValidator takes 20 spaces as 20 characters; a person who typed them,
    or whose password manager pasted nothing but padding, has no password worth the name, and
    one guess in a guesser's first list finds it. Spaces inside a password are fine."""

    def validate(self, password: str, user: Any = None) -> None:
        if all(
            ch.isspace() or unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in password
        ):
            raise ValidationError(
                "This password is only spaces. Use letters, digits or symbols too.",
                code="password_only_whitespace",
            )

    def get_help_text(self) -> str:
        return "Your password cannot be only spaces."
