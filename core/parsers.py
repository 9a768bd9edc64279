"""The API's JSON parser: DRF's, with a bound on nesting and errors a client can act on.

DRF's parser passes Python's own words through ("use sys.set_int_max_str_digits()", "decode
using utf-8-sig") and lets a body of a thousand `[` overflow the interpreter's stack, a 500 for
a 2 KB anonymous request. Here every refusal is a 400 `parse_error` that says what is wrong with
the body, in JSON's terms. The body's size is bounded before this runs: DRF reads it through
`request.body`, which enforces DATA_UPLOAD_MAX_MEMORY_SIZE (413, core.errors). Bounds:
docs/api.md, "Bounds".
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any request body of this API needs (the deepest, bulk creation, is 3), and far
# below the recursion limit, so no later walk over the data (serializers, error flattening)
# can overflow either.
MAX_JSON_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """application/json: UTF-8 whatever the charset says (a BOM is accepted and skipped), no
    NaN or Infinity, integers of at most 4,300 digits, arrays and objects nested at most
    MAX_JSON_DEPTH deep."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        # Always UTF-8, whatever `charset` the Content-Type names: JSON between systems is UTF-8
        # and its media type defines no charset (RFC 8259 §8.1, §11). Decoding by the declared
        # one let a client pick any text codec of Python's: `charset=punycode` raised a bare
        # UnicodeError (a 500), `unicode_escape` rewrote the body's backslashes before parsing.
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            declared = (parser_context or {}).get("encoding")
            hint = "" if _is_utf8(declared) else f"; JSON is read as UTF-8, not {declared}"
            raise ParseError(
                f"The body is not valid utf-8 text (byte {exc.start} cannot be decoded){hint}."
            ) from None
        text = text.removeprefix("\ufeff")  # a BOM is noise, not an error (RFC 8259 §8.1)
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        except RecursionError:  # the C scanner's own guard, near 1,000 levels
            raise _too_deep() from None
        except ValueError as exc:  # the integer digit limit, or a NaN/Infinity (below)
            if "digits" in str(exc):
                raise ParseError("A number in the body has more than 4,300 digits.") from None
            raise ParseError(str(exc)) from None
        # Counting brackets is C-speed and settles almost every body without a walk.
        if text.count("[") + text.count("{") > MAX_JSON_DEPTH and too_deep(data):
            raise _too_deep()
        return data


def _is_utf8(charset: str | None) -> bool:
    if not charset:
        return True
    try:
        return codecs.lookup(charset).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number or null.")


def _too_deep() -> ParseError:
    return ParseError(f"The JSON nests arrays and objects more than {MAX_JSON_DEPTH} deep.")


def too_deep(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects nest more than `limit` deep in parsed JSON. Iterative (no stack
    to overflow), each container visited once."""
    if not isinstance(data, dict | list):
        return False
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
