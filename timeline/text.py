"""A tweet's text, counted the way Twitter counts it (docs/timeline.md, "Counting characters").

twitter-text-parser (the Python port of Twitter's own twitter-text) gives the weighted length:
text is NFC-normalised first (an "e" plus a combining accent is one character), most Latin,
Cyrillic and similar characters count 1, CJK characters and emoji count 2, and a link counts 23
whatever its length. 1 to 280 is valid. A link can be long (up to the shortener's 2,048), so the
stored text has its own bound in code points (models.MAX_STORED_CHARACTERS), checked here too.
"""

from __future__ import annotations

import unicodedata

from twitter_text import parse_tweet

from core.errors import InvalidInputError
from timeline.models import MAX_STORED_CHARACTERS

MAX_WEIGHTED_LENGTH = 280


def weighted_length(text: str) -> int:
    return parse_tweet(text).weightedLength


def clean_text(text: str) -> str:
    """`text` NFC-normalised, or InvalidInputError (400, field "text") saying why it is refused:
    empty, only whitespace, over 280 as Twitter counts, too long to store, or holding NUL or
    other control characters (except newlines and tabs)."""
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        raise _invalid("Write something: a tweet cannot be empty or only whitespace.")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise _invalid("Control characters are not allowed in a tweet.")
    if len(text) > MAX_STORED_CHARACTERS:
        raise _invalid(f"At most {MAX_STORED_CHARACTERS} characters, links included.")
    length = weighted_length(text)
    if length > MAX_WEIGHTED_LENGTH:
        raise _invalid(
            f"At most {MAX_WEIGHTED_LENGTH} characters as Twitter counts them (links 23, CJK and"
            f" emoji 2 each); this is {length}."
        )
    return text


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError.for_field("text", message)
