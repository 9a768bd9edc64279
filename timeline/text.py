"""A tweet's text, counted the way Twitter counts it (docs/timeline.md, "Counting characters").

twitter-text-parser (the Python port of Twitter's own twitter-text) gives the weighted length:
text is NFC-normalised first (an "e" plus a combining accent is one character), most Latin,
Cyrillic and similar characters count 1, CJK characters and emoji count 2, and a link counts 23
whatever its length. 1 to 280 is valid. A link can be long (up to the shortener's 2,048), so the
stored text has its own bound in code points (models.MAX_STORED_CHARACTERS), checked here too.
"""

from __future__ import annotations

import re
import unicodedata

from twitter_text import parse_tweet

from core.errors import InvalidInputError
from timeline.models import MAX_STORED_CHARACTERS

MAX_WEIGHTED_LENGTH = 280

# twitter-text's link finder is superlinear in dotted runs: "a." * 140 takes 0.14 s, "a." * 2000
# 11 s, 4,000 characters 42 s of a web worker. So a cheap lower bound comes first (`_lower_bound`)
# and only a text that may fit is given to the parser. A whitespace-separated token may hold a
# link only if it has a dot, at most 4 dotted runs ("https://a.example/x.html?v=1.2" has 3), each
# at most 253 characters (DNS's limit) with at most 16 dots; any other token counts by its
# characters. The price, documented in docs/timeline.md: links glued together without spaces, or
# with many dotted path segments, count by their characters (Twitter would count each 23).
_TOKEN = re.compile(r"\S+")
_DOTTED_RUN = re.compile(r"[^\s/?#=&:,;()\[\]<>\"']*\.[^\s/?#=&:,;()\[\]<>\"']*")
MAX_RUNS, MAX_RUN_LENGTH, MAX_RUN_DOTS = 4, 253, 16
LINK_WEIGHT = 23


def weighted_length(text: str) -> int:
    return parse_tweet(text).weightedLength


def _could_be_link(token: str) -> bool:
    if "." not in token:
        return False
    runs = _DOTTED_RUN.findall(token)
    return len(runs) <= MAX_RUNS and all(
        len(run) <= MAX_RUN_LENGTH and run.count(".") <= MAX_RUN_DOTS for run in runs
    )


def _lower_bound(text: str) -> int:
    """A lower bound of the weighted length, in linear time: every ASCII character counts at least
    1 (whitespace included), except in a token that could be a link, which counts at least
    min(its ASCII characters, 23). Other characters may weigh 2, or be part of an emoji sequence
    that counts 2 in all, so they are not counted."""
    bound = sum(1 for ch in text if ch.isspace() and ch.isascii())
    for token in _TOKEN.findall(text):
        ascii_chars = sum(1 for ch in token if ch.isascii())
        bound += min(ascii_chars, LINK_WEIGHT) if _could_be_link(token) else ascii_chars
    return bound


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
    if _lower_bound(text) > MAX_WEIGHTED_LENGTH:
        raise _invalid(
            f"At most {MAX_WEIGHTED_LENGTH} characters as Twitter counts them (links 23, CJK and"
            " emoji 2 each); this is more."
        )
    length = weighted_length(text)
    if length > MAX_WEIGHTED_LENGTH:
        raise _invalid(
            f"At most {MAX_WEIGHTED_LENGTH} characters as Twitter counts them (links 23, CJK and"
            f" emoji 2 each); this is {length}."
        )
    return text


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError.for_field("text", message)
