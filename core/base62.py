"""Base62 (`0-9A-Za-z`): short, URL-safe, case-sensitive codes.

The alphabet is in ASCII order, so for two encodings of the same length string order equals
numeric order (shorter encodings are smaller numbers; `encode` never pads). Short links use
`random_code()`: 7 characters give 62**7 ≈ 3.5e12 codes, drawn uniformly from `secrets`, so a
code says nothing about its neighbours (unlike base62 of a sequential or Snowflake ID).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE = len(ALPHABET)  # 62
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_BASE62_RE = re.compile(r"[0-9A-Za-z]+")


def encode(n: int) -> str:
    """The shortest base62 string for `n` (0 -> "0"). Raises ValueError if n < 0."""
    if n < 0:
        raise ValueError(f"base62 encodes non-negative integers, not {n}")
    if n == 0:
        return ALPHABET[0]
    chars = []
    while n:
        n, remainder = divmod(n, BASE)
        chars.append(ALPHABET[remainder])
    return "".join(reversed(chars))


def decode(s: str) -> int:
    """The integer `s` encodes. Leading zeros are accepted ("007" -> 7). Raises ValueError for
    an empty string or any character outside 0-9A-Za-z, naming the first bad one."""
    if not s:
        raise ValueError("cannot decode an empty base62 string")
    n = 0
    for position, char in enumerate(s):
        value = _VALUES.get(char)
        if value is None:
            raise ValueError(
                f"invalid base62 character {char!r} at position {position} in {s!r} "
                "(allowed: 0-9, A-Z, a-z)"
            )
        n = n * BASE + value
    return n


def random_code(length: int = 7) -> str:
    """`length` characters drawn uniformly and independently from the alphabet with `secrets`
    (one unbiased draw below 62**length, zero-padded). Raises ValueError if length < 1."""
    if length < 1:
        raise ValueError(f"length must be >= 1, not {length}")
    return encode(secrets.randbelow(BASE**length)).rjust(length, ALPHABET[0])


def is_base62(s: object) -> bool:
    """True for a non-empty str made only of 0-9A-Za-z (what `decode` accepts)."""
    return isinstance(s, str) and _BASE62_RE.fullmatch(s) is not None
