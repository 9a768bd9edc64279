"""Destination and alias rules: every refusal is a 400 that says why."""

import pytest

from core.errors import InvalidInputError
from shortener import rules


def _refusal(fn, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(InvalidInputError) as caught:
        fn(*args, **kwargs)
    (field, messages), *_ = caught.value.fields.items()
    return field, messages[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com", "https://example.com/"),
        ("  HTTP://Example.COM/Path?q=1#frag  ", "http://example.com/Path?q=1#frag"),
        ("https://bücher.example/straße?q=ü", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://8.8.8.8/x", "http://8.8.8.8/x"),  # public: private ones are refused
        ("http://[2606:4700:4700::1111]:8080/", "http://[2606:4700:4700::1111]:8080/"),
    ],
)
def test_destinations_are_normalised_to_what_location_will_carry(url, expected):
    assert rules.normalize_destination(url) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("javascript:alert(1)", "Only http:// and https://"),
        ("ftp://example.com/file", "Only http:// and https://"),
        ("data:text/html,hi", "Only http:// and https://"),
        ("example.com/no-scheme", "Only http:// and https://"),
        ("https://paypal.com@evil.example/", "user name or password"),
        ("https://", "no host"),
        ("https://exa mple.com/", "not a valid host name"),
        ("https://intranet/", "not a public host name"),
        ("https://bit.ly/abc", "Links to bit.ly are not allowed"),
        ("https://www.bit.ly/abc", "Links to bit.ly are not allowed"),
        ("http://127.0.0.1:8000/abc", "this service itself"),
        ("http://localhost/abc", "this service itself"),
        ("https://example.com:99999/", "not a valid URL"),
        ("", "Give the URL"),
    ],
)
def test_bad_destinations_are_refused_with_the_reason(url, why):
    field, message = _refusal(rules.normalize_destination, url)

    assert field == "long_url"
    assert why in message


def test_a_url_over_2048_characters_is_refused_with_its_length():
    url = "https://example.com/" + "a" * 2100

    _, message = _refusal(rules.normalize_destination, url)

    assert message == "The URL is 2120 characters; the limit is 2048."


def test_the_request_host_counts_as_our_own(settings):
    settings.ALLOWED_HOSTS = ["*"]

    assert rules.normalize_destination("https://sho.rt/x") == "https://sho.rt/x"
    _, message = _refusal(
        rules.normalize_destination, "https://sho.rt/x", request_host="sho.rt:443"
    )
    assert "this service itself" in message


@pytest.mark.parametrize("alias", ["abc", "My_Launch-2026", "x" * 32])
def test_good_aliases_pass(alias):
    assert rules.check_alias(alias) == alias


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("ab", "3 to 32 characters"),
        ("x" * 33, "3 to 32 characters"),
        ("has space", "3 to 32 characters"),
        ("dot.dot", "3 to 32 characters"),
        ("ünï", "3 to 32 characters"),
        ("api", "reserved"),
        ("Admin", "reserved"),
        ("accounts", "reserved"),
        ("healthz", "reserved"),
        ("shortener", "reserved"),
        ("static", "reserved"),
        ("robots.txt", "3 to 32 characters"),
    ],
)
def test_bad_aliases_are_refused_with_the_reason(alias, why):
    field, message = _refusal(rules.check_alias, alias)

    assert field == "alias"
    assert why in message


def test_every_top_level_route_is_reserved():
    reserved = rules.reserved_aliases()

    assert {"api", "admin", "accounts", "healthz", "shortener", "timeline", "payments"} <= reserved
    assert "ratelimit" in reserved


@pytest.mark.parametrize(
    ("max_clicks", "why"),
    [(0, "at least 1"), (-5, "at least 1"), (2**31, "at most 2,147,483,647"), (10**30, "at most")],
)
def test_max_clicks_out_of_range_says_which_end(max_clicks, why):
    field, message = _refusal(rules.check_max_clicks, max_clicks)
    assert field == "max_clicks" and why in message
