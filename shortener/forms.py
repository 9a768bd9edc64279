"""Forms of the shortener's pages. They check shape only (a number is a number, a date is a
date); the rules (http(s) only, reserved aliases, expiry in the future, …) are
shortener.rules', applied by the services, whose errors the views put back on these fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from core import bounds
from shortener.models import RedirectType

# "example.com/page" is what people paste; anything with a scheme ("ftp:", "javascript:") is
# left alone for the rules to refuse with a reason. "host:8080/x" has no scheme: a digit follows.
_HAS_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)

INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class LocalDateTimeField(forms.DateTimeField):
    """A `datetime-local` input: minutes, in the browser's time zone (the view activates it),
    cleaned to UTC, so the rules check the instant the database will store. Unchanged when the
    stored value differs only in seconds the input cannot show."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT)

    def to_python(self, value: Any) -> datetime | None:
        local = super().to_python(value)
        if local is None:
            return None
        try:
            return local.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59 west of UTC is in the year 10000 in UTC
            raise forms.ValidationError(
                bounds.DATETIME_RANGE_MESSAGE, code="out_of_range"
            ) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return _minute(self.to_python(initial)) != _minute(self.to_python(data))
        except forms.ValidationError:
            return True


def local_input_value(value: datetime | None) -> str:
    """`value` as a datetime-local input shows it, in the active (browser's) time zone; in UTC
    if it is too near the end of the calendar to be shown there (core.bounds)."""
    if value is None:
        return ""
    try:
        return timezone.localtime(value).strftime(INPUT_FORMAT)
    except OverflowError:
        return value.astimezone(UTC).strftime(INPUT_FORMAT)


def _minute(value: datetime | None) -> datetime | None:
    return value.replace(second=0, microsecond=0) if value is not None else None


class LongUrlField(forms.CharField):
    def to_python(self, value: Any) -> str:
        url = super().to_python(value)
        if url and not _HAS_SCHEME.match(url):
            url = f"https://{url}"
        return url


class LinkCreateForm(forms.Form):
    long_url = LongUrlField(label="Long URL")
    alias = forms.CharField(label="Custom alias", required=False)
    expires_at = LocalDateTimeField(label="Expires", required=False)
    max_clicks = forms.IntegerField(label="Max clicks", required=False)
    redirect_type = forms.TypedChoiceField(
        label="Redirect type",
        choices=RedirectType.choices,
        coerce=int,
        required=False,
        empty_value=RedirectType.FOUND,
    )
    password = forms.CharField(label="Password", required=False, strip=False)

    # Fields inside the collapsed "Options": an error or a value there opens it.
    OPTION_FIELDS = ("alias", "expires_at", "max_clicks", "redirect_type", "password")

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "long_url": data["long_url"],
            "alias": data["alias"] or None,
            "expires_at": data["expires_at"],
            "max_clicks": data["max_clicks"],
            "redirect_type": data["redirect_type"],
            "password": data["password"] or None,
        }


class LinkEditForm(forms.Form):
    long_url = LongUrlField(label="Destination")
    expires_at = LocalDateTimeField(label="Expires", required=False)
    max_clicks = forms.IntegerField(label="Max clicks", required=False)
    redirect_type = forms.TypedChoiceField(
        label="Redirect type", choices=RedirectType.choices, coerce=int
    )
    password = forms.CharField(label="New password", required=False, strip=False)
    remove_password = forms.BooleanField(label="Remove the password", required=False)
    disabled = forms.BooleanField(label="Disabled", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("remove_password"):
            self.add_error("password", "Either set a new password or remove it, not both.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """Only what changed: update_link re-checks each field it is given, and an unchanged
        destination should not start failing because a rule (say, a blocked domain) is newer."""
        data = self.cleaned_data
        changes = {
            field: data[field]
            for field in ("long_url", "expires_at", "max_clicks", "redirect_type", "disabled")
            if field in self.changed_data
        }
        if data["remove_password"]:
            changes["password"] = ""
        elif data["password"]:
            changes["password"] = data["password"]
        return changes
