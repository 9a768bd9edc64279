"""The timeline's browser forms (timeline/views.py)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.errors import InvalidInputError
from core.pagination import parse_id

MAX_FORM_TEXT = 10_000  # as the API's serializer: past it, refused before the service counts
MAX_MEDIA = 4  # as timeline.media's bound, checked again there


class TweetForm(forms.Form):
    """The compose and reply box. The text's rules are the service's (timeline/text.py): here
    only its shape, so that every refusal says the one reason the API gives."""

    text = forms.CharField(
        required=False, strip=False, max_length=MAX_FORM_TEXT, widget=forms.Textarea
    )

    def clean_text(self) -> str:
        # A browser sends a textarea's line breaks as CRLF; a tweet's are "\n" (the service
        # refuses control characters, and CR is one).
        return self.cleaned_data["text"].replace("\r\n", "\n").replace("\r", "\n")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        raw = self.data.getlist("media_ids") if hasattr(self.data, "getlist") else []
        if len(raw) > MAX_MEDIA:
            raise forms.ValidationError(f"Up to {MAX_MEDIA} images per tweet.")
        try:
            cleaned["media_ids"] = [parse_id(value, name="media_ids") for value in raw if value]
        except InvalidInputError:
            raise forms.ValidationError("That image upload is not one of yours.") from None
        return cleaned
