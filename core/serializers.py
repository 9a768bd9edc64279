"""Input serializers that refuse what they do not know.

DRF drops unknown keys of a request body in silence. For most fields that is harmless; for an
optional one it is not: `{"long_url": …, "pasword": "…"}` would make a link *without* the
password its author asked for, and `"max_click": 1` a link that never runs out. So every input
serializer of the API derives from `StrictSerializer`, and an unknown key is a 400 that names it
and lists the fields there are (as Stripe answers "Received unknown parameter").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A Serializer whose input may only hold its own fields (read-only ones excluded)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = [name for name, field in self.fields.items() if not field.read_only]
            unknown = sorted(key for key in data if key not in writable)
            if unknown:
                known = ", ".join(writable)
                raise serializers.ValidationError(
                    {key: [f"Unknown field. The fields are: {known}."] for key in unknown}
                )
        return super().to_internal_value(data)
