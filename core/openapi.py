"""OpenAPI helpers shared by every app's api.py: the one error body, documented once.

core.errors renders error bodies; these serializers only describe them in /api/schema/. Nested
serializers in api.py files set `Meta.ref_name`, because drf-spectacular would otherwise name
every app's nested `InputSerializer` "Input" and the components would collide.
"""

from __future__ import annotations

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
