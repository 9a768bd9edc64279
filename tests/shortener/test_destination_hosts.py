"""Destination hosts are read as browsers read them (the WHATWG URL host parser) before any rule
looks at them: no spelling of a loopback, private or own address walks around the rules."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.errors import InvalidInputError
from shortener import rules
from shortener.models import Link
from tests.accounts.factories import UserFactory

# Every spelling a browser reads as 127.0.0.1 (or ::1).
LOOPBACK_SPELLINGS = [
    "127.1",
    "127.0.1",
    "0x7f.0.0.1",
    "0X7F.0x0.0.0x1",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "0177.0.0.1",
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "①②⑦.0.0.1",
    "１２７．０．０．１",  # noqa: RUF001 (fullwidth: the look-alike is the point)
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:0:0:1]",
    "[2002:7f00:1::]",
]


def _refusal(url: str, **kwargs) -> str:
    with pytest.raises(InvalidInputError) as caught:
        rules.normalize_destination(url, **kwargs)
    assert list(caught.value.fields) == ["long_url"]
    assert caught.value.message.startswith("long_url: ")
    return caught.value.fields["long_url"][0]


@pytest.fixture
def elsewhere(settings):
    """This service lives at sho.rt only: a loopback destination is not ours, just not public."""
    settings.ALLOWED_HOSTS = ["sho.rt"]
    settings.SHORTENER_BASE_URL = "https://sho.rt"
    return settings


@pytest.fixture
def private_allowed(settings):
    settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = True
    return settings


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.1:8000/x", "http://127.0.0.1:8000/x"),
        ("http://0x7f.0.0.1/", "http://127.0.0.1/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://127.0.0.1./", "http://127.0.0.1/"),
        ("http://%31%30.1/", "http://10.0.0.1/"),
        ("http://１０.0.0.1/", "http://10.0.0.1/"),  # noqa: RUF001 (fullwidth digits)
        ("http://0x/", "http://0.0.0.0/"),
        ("http://[0:0::0:1]/", "http://[::1]/"),
        ("http://Intranet.Example./wiki", "http://intranet.example/wiki"),
    ],
)
def test_ip_literals_are_stored_as_the_address_a_browser_would_reach(
    elsewhere, private_allowed, url, expected
):
    assert rules.normalize_destination(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://0x08.010.0x8.8/", "http://8.8.8.8/"),
        ("http://134744072/", "http://8.8.8.8/"),
        ("https://[2606:4700:4700:0::1111]/", "https://[2606:4700:4700::1111]/"),
    ],
)
def test_public_addresses_in_any_spelling_are_allowed(url, expected):
    assert rules.normalize_destination(url) == expected


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_in_any_spelling_is_refused_as_the_visitors_own_computer(elsewhere, host):
    message = _refusal(f"http://{host}:8000/x")

    assert "a loopback address (the visitor's own computer)" in message
    assert "not on the public internet: a short link must lead to a public site." in message


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("0.0.0.0", "the unspecified address"),
        ("0", "the unspecified address"),
        ("[::]", "the unspecified address"),
        ("10.1.2.3", "a private network address"),
        ("172.16.0.1", "a private network address"),
        ("192.168.1.1", "a private network address"),
        ("0300.0250.1.1", "a private network address"),
        ("[fd00::1]", "a private network address"),
        ("[::ffff:192.168.1.1]", "a private network address"),
        ("169.254.169.254", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "a multicast address"),
        ("[ff02::1]", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.7", "a reserved address"),  # documentation (TEST-NET-1)
        ("[2001:db8::1]", "a reserved address"),  # documentation
        ("[::127.0.0.1]", "a reserved address"),
        ("[64:ff9b::a00:1]", "a private network address"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_saying_what_they_are(elsewhere, host, kind):
    message = _refusal(f"http://{host}/x")

    assert kind in message


def test_the_message_shows_the_address_a_shorthand_stands_for(elsewhere):
    message = _refusal("http://0x7f.1/x")

    assert message == (
        "0x7f.1 (that is 127.0.0.1) is a loopback address (the visitor's own computer), "
        "not on the public internet: a short link must lead to a public site."
    )


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "app.localhost", "a.b.localhost"])
def test_localhost_names_are_refused(elsewhere, host):
    message = _refusal(f"http://{host}:3000/")

    assert "means the visitor's own computer" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/wiki",
        "http://192.168.1.1/",
        "http://[fd00::1]/",
        "http://localhost:3000/",
        "http://app.localhost/",
        "http://127.1/",
    ],
)
def test_the_setting_allows_private_destinations_for_an_intranet(elsewhere, private_allowed, url):
    assert rules.normalize_destination(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://1.2.3.256/",
        "http://256.1/",
        "http://1.2.3.4.5/",
        "http://1.2.3.09/",
        "http://example.123/",
        "http://example.0x1/",
        "http://1..2/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_hosts_a_browser_would_refuse_are_refused(url):
    message = _refusal(url)

    assert "IPv4" in message or "not a valid" in message or "zone id" in message


# --- this service under another spelling --------------------------------------------------------


@pytest.fixture
def at_sho_rt(settings):
    settings.ALLOWED_HOSTS = ["sho.rt", ".links.example", "127.0.0.1", "[::1]"]
    settings.SHORTENER_BASE_URL = "https://sho.rt"
    return settings


@pytest.mark.parametrize(
    "host",
    [
        "sho.rt",
        "SHO.RT.",
        "ｓｈｏ.ｒｔ",  # noqa: RUF001 (fullwidth letters)
        "sh%6F.rt",
        "links.example",
        "go.links.example",
        *LOOPBACK_SPELLINGS,
        "0.0.0.0",  # browsers connect to this computer
        "localhost",
        "app.localhost",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_this_service_is_refused_under_every_spelling(at_sho_rt, host, allow_private):
    at_sho_rt.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = allow_private

    message = _refusal(f"https://{host}/abc")

    assert message == "Links to this service itself are refused: they would loop or chain."


def test_the_request_host_is_ours_in_every_spelling(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = True

    assert rules.normalize_destination("http://10.0.0.5:8000/x") == "http://10.0.0.5:8000/x"
    message = _refusal("http://0xa.5:8000/x", request_host="10.0.0.5:8000")
    assert "this service itself" in message


# --- an alias that would redirect to itself, end to end -----------------------------------------


@pytest.fixture
def api() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory()).key}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::1]",
        "0.0.0.0",
        "localhost",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_an_alias_cannot_point_at_itself_through_the_api(api, settings, host, allow_private):
    settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = allow_private  # ALLOWED_HOSTS: the defaults

    response = api.post(
        "/api/v1/links",
        {"alias": "loop", "long_url": f"http://{host}:8000/loop"},
        format="json",
        HTTP_HOST="127.0.0.1:8000",
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["fields"]) == ["long_url"]
    assert error["message"].startswith("long_url: ")
    assert not Link.objects.filter(code="loop").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "[::ffff:127.0.0.1]"])
def test_an_alias_cannot_point_at_itself_through_the_home_page(client, settings, host):
    settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = True  # only the own-host rule stands in the way

    response = client.post(
        "/shortener/",
        {"alias": "loop", "long_url": f"http://{host}:8000/loop"},
        HTTP_HOST="127.0.0.1:8000",
    )

    assert response.status_code == 400
    assert "Links to this service itself are refused" in response.content.decode()
    assert not Link.objects.filter(code="loop").exists()


@pytest.mark.django_db
def test_an_alias_cannot_be_edited_to_point_at_itself(api, settings):
    settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS = True
    created = api.post(
        "/api/v1/links",
        {"alias": "loop", "long_url": "https://example.com/"},
        format="json",
        HTTP_HOST="127.0.0.1:8000",
    )
    assert created.status_code == 201

    response = api.patch(
        "/api/v1/links/loop",
        {"long_url": "http://2130706433:8000/loop"},
        format="json",
        HTTP_HOST="127.0.0.1:8000",
    )

    assert response.status_code == 400
    assert "this service itself" in response.json()["error"]["fields"]["long_url"][0]
    assert Link.objects.get(code="loop").long_url == "https://example.com/"


def test_port_zero_is_refused():
    with pytest.raises(InvalidInputError, match="Port 0"):
        rules.normalize_destination("https://example.com:0/")
