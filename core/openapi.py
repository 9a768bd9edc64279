"""OpenAPI helpers shared by every app's api.py: the one error body, documented once.

core.errors renders error bodies; these serializers only describe them in /api/schema/. Nested
serializers in api.py files set `Meta.ref_name`, because drf-spectacular would otherwise name
every app's nested `InputSerializer` "Input" and the components would collide. The request
body of a `core.serializers.StrictSerializer` is documented as the server reads it: closed
(`additionalProperties: false`), its non-blank text fields not whitespace alone.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The body of every API error."""

    class ErrorBodySerializer(serializers.Serializer):
        code = serializers.CharField(help_text="Machine-readable, e.g. `username_taken`.")
        message = serializers.CharField(help_text="For humans: what is wrong.")
        fields = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages per input field; empty when the error is not about one field.",
        )

        class Meta:
            ref_name = "ErrorBody"

    error = ErrorBodySerializer()

    class Meta:
        ref_name = "Error"


class StrictSerializerExtension(OpenApiSerializerExtension):
    """A StrictSerializer refuses unknown keys (400 "Unknown field"), so its request schema
    says so, and a text field that may not be blank says that whitespace alone is blank. The
    schema allowed both, and a client or fuzzer built from it sent bodies the server refused
    (found by tests/core/test_fuzz_api.py). Responses stay open: a client must tolerate fields
    added later."""

    target_class = "core.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        schema["additionalProperties"] = False
        for name, field in self.target.fields.items():
            prop = schema.get("properties", {}).get(name)
            if _trimmed_and_required_text(field) and prop is not None and "pattern" not in prop:
                # DRF strips the value before its "may not be blank" check: "\u00a0" is blank.
                prop["pattern"] = NOT_ONLY_WHITESPACE
        return schema


# A string with at least one character that Python's str.strip() keeps (what DRF's CharField
# trims), spelled out rather than as \S: ECMAScript's \s is a different set (it has U+FEFF,
# lacks U+001C-U+001F and U+0085), and clients validate with their own regex engines.
NOT_ONLY_WHITESPACE = (
    "[^\\t\\n\\v\\f\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]"
)


def _trimmed_and_required_text(field: serializers.Field) -> bool:
    return (
        isinstance(field, serializers.CharField)
        and field.trim_whitespace
        and not field.allow_blank
        and not field.read_only
    )


def error_response(
    description: str, code: str, message: str, fields: dict | None = None
) -> OpenApiResponse:
    """An OpenAPI response entry for one error, with an example in the one error shape."""
    example = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value=example)],
    )


def _error_entry(description: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    example = {"error": {"code": code, "message": message, "fields": {}}}
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {code: {"value": example, "summary": code}},
            }
        },
        **extra,
    }


_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds until a retry can pass.", "schema": {"type": "integer"}}
}


def document_common_errors(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: the errors every operation of a kind can answer,
    which no view lists because no view raises them: 429 (throttles run on every endpoint),
    406 (an `Accept` other than JSON), 401 where credentials are required, and for operations
    with a body 413 (size), 415 (not JSON) and a 400 `parse_error` (malformed, nested too
    deep). Generated clients and fuzzers then agree with the server."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.setdefault("406", _error_entry(
                "The `Accept` header asks for something other than JSON.", "not_acceptable",
                "Could not satisfy the request Accept header.",
            ))  # fmt: skip
            if "requestBody" in operation:
                responses.setdefault("415", _error_entry(
                    "The body is not `application/json`.", "unsupported_media_type",
                    'Unsupported media type "text/plain" in request.',
                ))  # fmt: skip
                responses.setdefault("400", _error_entry(
                    "The body is not JSON, or nests too deep.", "parse_error",
                    "The body is not valid JSON: Expecting value at line 1, column 1.",
                ))  # fmt: skip
                responses.setdefault("413", _error_entry(
                    "The body is larger than the server accepts (2.5 MiB).", "request_too_large",
                    "The request body is larger than 2,621,440 bytes, the most this server"
                    " accepts.",
                ))  # fmt: skip
            if {} not in operation.get("security", [{}]):
                responses.setdefault("401", _error_entry(
                    "No credentials (`not_authenticated`) or an unknown token"
                    " (`authentication_failed`).",
                    "not_authenticated", "Authentication credentials were not provided.",
                ))  # fmt: skip
            responses.setdefault("429", _error_entry(
                "A rate limit refused the request; retry after `Retry-After` seconds.",
                "rate_limited", "Request was throttled. Expected available in 7 seconds.",
                headers=_RETRY_AFTER,
            ))  # fmt: skip
    return result
