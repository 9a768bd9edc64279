"""core.bounds: user-supplied datetimes stay where Python can read and show them in any zone."""

import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from core import bounds
from core.errors import InvalidInputError

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def _refusal(value) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        bounds.check_datetime(value, field="when")
    return caught.value


@pytest.mark.parametrize(
    "value",
    [
        bounds.DATETIME_MIN,
        bounds.DATETIME_MAX,
        datetime(2031, 1, 15, 12, 30, tzinfo=UTC),
        datetime(3000, 1, 1, 8, 59, 59, tzinfo=TOKYO),  # the end, written in Tokyo
    ],
)
def test_values_in_range_come_back_in_utc(value):
    checked = bounds.check_datetime(value, field="when")

    assert checked == value and checked.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        bounds.DATETIME_MAX + timedelta(seconds=1),
        bounds.DATETIME_MIN - timedelta(microseconds=1),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=zoneinfo.ZoneInfo("America/New_York")),  # overflows
        datetime(1, 1, 1, tzinfo=TOKYO),  # the year 0 in UTC: overflows the other way
        datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
    ],
)
def test_values_out_of_range_are_a_400_naming_the_field(value):
    error = _refusal(value)

    assert error.status_code == 400
    assert error.fields == {"when": [bounds.DATETIME_RANGE_MESSAGE]}
    assert error.message == f"when: {bounds.DATETIME_RANGE_MESSAGE}"
    assert "2999-12-31 23:59:59 UTC" in error.message and "1970-01-01" in error.message


def test_a_naive_value_is_refused_not_guessed():
    error = _refusal(datetime(2031, 1, 15, 12, 30))

    assert error.fields["when"] == ["Give the time zone too, e.g. 2030-01-31T12:00:00Z."]


# The widest offsets a Python tzinfo may have (real zones stay within -12 h and +14 h).
@pytest.mark.parametrize(
    "offset", [timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59)]
)
def test_every_value_in_range_can_be_shown_in_any_time_zone(offset):
    zone = timezone(offset)

    for edge in (bounds.DATETIME_MIN, bounds.DATETIME_MAX):
        assert dj_timezone.localtime(edge, zone).utcoffset() == offset
