"""The shortener's pages through Django's test client: create (anonymous and signed in), my
links, edit, delete, stats, QR codes. Real PostgreSQL and Redis."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from shortener.models import ClickEvent, Link
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory
from tests.shortener.qr_reader import read_qr_png, read_qr_svg

pytestmark = pytest.mark.django_db


def create(client, long_url="https://example.com/a/long/path", **options):
    return client.post("/shortener/", {"long_url": long_url, **options})


def created_code(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    location = urlsplit(response["Location"])
    assert location.path == "/shortener/"
    return parse_qs(location.query)["created"][0]


def field_errors(html: str, field: str) -> list[str]:
    block = re.search(rf'<ul class="field-errors" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


@pytest.fixture
def user():
    return UserFactory(username="dana")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


# --- create -------------------------------------------------------------------------------------


def test_the_shortener_page_has_the_form_with_options_folded_away(client):
    response = client.get("/shortener/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 id="page-title">URL shortener</h1>' in html
    assert 'action="/shortener/"' in html
    for name in ("long_url", "alias", "expires_at", "max_clicks", "password"):
        assert f'name="{name}"' in html
    assert '<details class="options">' in html  # closed
    assert re.search(r'value="302" aria-describedby="redirect_help_302" checked', html)
    assert "Browsers cache it: repeat clicks skip us and go uncounted." in html


def test_the_home_page_has_a_shorten_form_posting_to_the_shortener(client):
    html = client.get("/").content.decode()

    assert '<h2 id="shorten-title">Shorten a link</h2>' in html
    assert '<form method="post" action="/shortener/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="long_url"' in html
    assert 'value="308"' in html  # the options are there, folded


def test_anonymous_creation_shows_the_short_url_qr_and_preview_but_no_stats(client):
    code = created_code(create(client))

    link = Link.objects.get(code=code)
    assert link.owner is None
    assert link.long_url == "https://example.com/a/long/path"
    html = client.get(f"/shortener/?created={code}").content.decode()
    assert "Your short link is ready" in html
    assert f'<a class="short-url" href="http://testserver/{code}"' in html
    assert f'data-copy="http://testserver/{code}"' in html
    assert f'src="/shortener/links/{code}/qr.svg"' in html
    assert f'href="/shortener/links/{code}/qr.png?download=1"' in html
    assert f'href="http://testserver/{code}+">Preview</a>' in html
    assert "/stats/" not in html and "/edit/" not in html
    assert "nobody can change it or see its stats" in html


def test_a_signed_in_user_owns_the_link_and_gets_stats_and_edit(signed_in, user):
    code = created_code(create(signed_in))

    assert Link.objects.get(code=code).owner == user
    html = signed_in.get(f"/shortener/?created={code}").content.decode()
    assert f'href="/shortener/links/{code}/stats/">Stats</a>' in html
    assert f'href="/shortener/links/{code}/edit/">Edit</a>' in html


def test_the_created_panel_is_only_for_the_browser_that_made_the_link(client):
    other = LinkFactory()

    html = client.get(f"/shortener/?created={other.code}").content.decode()

    assert "Your short link is ready" not in html


def test_every_option_is_stored_and_the_expiry_is_read_in_the_browsers_time_zone(signed_in):
    signed_in.cookies["tz"] = "Europe/Berlin"

    code = created_code(
        create(
            signed_in,
            alias="launch-day",
            expires_at="2031-01-15T12:30",
            max_clicks="100",
            redirect_type="301",
            password="open sesame",
        )
    )

    link = Link.objects.get(code=code)
    assert code == "launch-day" and link.is_alias
    assert link.expires_at == datetime(2031, 1, 15, 11, 30, tzinfo=UTC)  # CET is UTC+1
    assert link.max_clicks == 100
    assert link.redirect_type == 301
    assert link.has_password and link.password != "open sesame"


@pytest.mark.parametrize("cookie", ["Not/AZone", "../../etc/passwd", "Europe", "x" * 500])
def test_a_bogus_time_zone_cookie_means_utc(client, cookie):
    client.cookies["tz"] = cookie

    code = created_code(create(client, expires_at="2031-01-15T12:30"))

    assert Link.objects.get(code=code).expires_at == datetime(2031, 1, 15, 12, 30, tzinfo=UTC)
    assert "Your time zone: UTC" in client.get("/shortener/").content.decode()


def test_a_url_without_a_scheme_gets_https(client):
    code = created_code(create(client, long_url="example.com/page"))

    assert Link.objects.get(code=code).long_url == "https://example.com/page"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"long_url": "javascript:alert(1)"}, "long_url", "Only http:// and https:// URLs"),
        ({"long_url": ""}, "long_url", "This field is required."),
        ({"long_url": "https://bit.ly/x"}, "long_url", "Links to bit.ly are not allowed"),
        ({"long_url": "http://localhost/abc"}, "long_url", "Links to this service itself"),
        ({"alias": "admin"}, "alias", "is reserved"),
        ({"alias": "a b"}, "alias", "An alias is 3 to 32 characters"),
        ({"max_clicks": "0"}, "max_clicks", "at least 1"),
        ({"max_clicks": "many"}, "max_clicks", "Enter a whole number."),
        ({"expires_at": "2001-01-01T00:00"}, "expires_at", "must be in the future"),
        ({"expires_at": "soon"}, "expires_at", "Enter a valid date/time."),
        ({"redirect_type": "303"}, "redirect_type", "Select a valid choice."),
    ],
)
def test_bad_input_is_a_form_error_on_its_field(client, data, field, message):
    response = client.post("/shortener/", {"long_url": "https://example.com/", **data})

    html = response.content.decode()
    assert response.status_code == 400
    errors = field_errors(html, field)
    assert errors and message in errors[0], errors
    assert re.search(rf'name="{field}" id="id_{field}"[^>]*aria-invalid="true"', html) or (
        field == "redirect_type" and 'aria-describedby="id_redirect_type_error"' in html
    )
    if field != "long_url":
        assert '<details class="options" open>' in html  # the error is not hidden
    assert not Link.objects.exists()


def test_a_taken_alias_is_a_form_error_not_a_500(client):
    LinkFactory(code="launch", is_alias=True)

    response = create(client, alias="launch")

    assert response.status_code == 400
    assert field_errors(response.content.decode(), "alias") == [
        "The alias &#x27;launch&#x27; is taken."
    ]
    assert Link.objects.count() == 1


def test_the_form_keeps_what_was_typed_after_an_error(client):
    response = create(client, long_url="ftp://example.com/file", alias="my-file", max_clicks="5")

    html = response.content.decode()
    assert 'value="ftp://example.com/file"' in html
    assert 'value="my-file"' in html
    assert 'value="5"' in html


# --- my links -----------------------------------------------------------------------------------


def test_my_links_needs_a_sign_in(client):
    response = client.get("/shortener/links/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/shortener/links/"


def test_my_links_lists_only_my_links_newest_first_with_state(signed_in, user):
    now = timezone.now()
    active = LinkFactory(owner=user, clicks=3)
    expired = LinkFactory(owner=user, expires_at=now - timedelta(days=1))
    used_up = LinkFactory(owner=user, max_clicks=2, clicks=2)
    disabled = LinkFactory(owner=user, disabled=True)
    theirs = LinkFactory()

    html = signed_in.get("/shortener/links/").content.decode()

    codes = re.findall(r'<tr data-code="([^"]+)">', html)
    assert codes == [disabled.code, used_up.code, expired.code, active.code]
    assert theirs.code not in html
    row = {code: html.split(f'data-code="{code}"')[1].split("</tr>")[0] for code in codes}
    assert 'class="state state-active">Active<' in row[active.code]
    assert 'data-label="Clicks">3<' in row[active.code]
    assert 'class="state state-expired">Expired<' in row[expired.code]
    assert 'class="state state-exhausted">Used up<' in row[used_up.code]
    assert '2<span class="muted"> / 2</span>' in row[used_up.code]
    assert 'class="state state-disabled">Disabled<' in row[disabled.code]
    for action in ("stats/", "edit/", "qr.svg", "delete/"):
        assert f'href="/shortener/links/{active.code}/{action}"' in row[active.code]


def test_clicks_not_yet_flushed_show_on_my_links_and_stats(signed_in, user):
    link = LinkFactory(owner=user, clicks=5, max_clicks=7)

    for _ in range(2):
        assert signed_in.get(f"/{link.code}").status_code == 302  # counted in Redis only

    assert Link.objects.get(pk=link.pk).clicks == 5
    html = signed_in.get("/shortener/links/").content.decode()
    assert 'data-label="Clicks">7<span class="muted"> / 7</span>' in html
    assert 'class="state state-exhausted">Used up<' in html
    stats = signed_in.get(f"/shortener/links/{link.code}/stats/").content.decode()
    assert '<dd data-testid="total-clicks">7</dd>' in stats


def test_my_links_costs_a_fixed_number_of_queries(signed_in, user, django_assert_max_num_queries):
    LinkFactory.create_batch(25, owner=user)

    with django_assert_max_num_queries(5):  # session, user, page, "any older?" (+ savepoints)
        response = signed_in.get("/shortener/links/")

    assert response.status_code == 200


def test_my_links_pages_newer_and_older_by_id(signed_in, user):
    links = LinkFactory.create_batch(25, owner=user)  # ascending ids
    newest_first = [link.code for link in reversed(links)]

    first = signed_in.get("/shortener/links/").content.decode()
    assert re.findall(r'<tr data-code="([^"]+)">', first) == newest_first[:20]
    assert "Newer" not in first
    older_url = re.search(r'href="(\?before=\d+)" rel="next"', first).group(1)

    second = signed_in.get(f"/shortener/links/{older_url}").content.decode()
    assert re.findall(r'<tr data-code="([^"]+)">', second) == newest_first[20:]
    assert 'rel="next"' not in second
    newer_url = re.search(r'href="(\?after=\d+)" rel="prev"', second).group(1)

    back = signed_in.get(f"/shortener/links/{newer_url}").content.decode()
    assert re.findall(r'<tr data-code="([^"]+)">', back) == newest_first[:20]
    assert 'rel="prev"' not in back and 'rel="next"' in back


def test_my_links_without_links_invites_to_make_one(signed_in):
    html = signed_in.get("/shortener/links/").content.decode()

    assert "No links yet" in html


# --- owner-only pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["edit/", "stats/", "delete/"])
def test_someone_elses_link_is_a_404_on_every_owner_page(signed_in, page):
    theirs = LinkFactory()
    anonymous = LinkFactory(owner=None)

    for link in (theirs, anonymous):
        assert signed_in.get(f"/shortener/links/{link.code}/{page}").status_code == 404
        if page != "stats/":  # read-only: a POST there is a 405 for anyone
            assert signed_in.post(f"/shortener/links/{link.code}/{page}").status_code == 404
    assert signed_in.get(f"/shortener/links/nosuchcode/{page}").status_code == 404
    assert Link.objects.count() == 2


@pytest.mark.parametrize("page", ["edit/", "stats/", "delete/"])
def test_owner_pages_send_anonymous_visitors_to_sign_in(client, page):
    link = LinkFactory()

    response = client.get(f"/shortener/links/{link.code}/{page}")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# --- edit ---------------------------------------------------------------------------------------


def edit_data(link: Link, **changes) -> dict:
    data = {
        "long_url": link.long_url,
        "expires_at": "",
        "max_clicks": link.max_clicks or "",
        "redirect_type": str(link.redirect_type),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_edit_form_shows_the_current_values(signed_in, user):
    signed_in.cookies["tz"] = "America/New_York"
    link = LinkFactory(
        owner=user,
        max_clicks=9,
        redirect_type=307,
        expires_at=datetime(2031, 7, 1, 16, 45, 30, tzinfo=UTC),
    )

    html = signed_in.get(f"/shortener/links/{link.code}/edit/").content.decode()

    assert f'value="{link.long_url}"' in html
    assert 'value="2031-07-01T12:45"' in html  # EDT is UTC-4
    assert "Your time zone: America/New_York" in html
    assert 'value="9"' in html
    assert re.search(r'value="307" aria-describedby="redirect_help_307" checked', html)
    assert "This link has no password." in html


def test_edit_changes_destination_limits_and_redirect_type(signed_in, user):
    link = LinkFactory(owner=user)

    response = signed_in.post(
        f"/shortener/links/{link.code}/edit/",
        edit_data(link, long_url="https://example.org/new", max_clicks="50", redirect_type="308"),
    )

    assert response.status_code == 302
    assert response["Location"] == "/shortener/links/"
    link.refresh_from_db()
    assert (link.long_url, link.max_clicks, link.redirect_type) == (
        "https://example.org/new", 50, 308,
    )  # fmt: skip
    assert f"Saved /{link.code}." in signed_in.get("/shortener/links/").content.decode()


def test_edit_sets_then_removes_a_password_and_disables(signed_in, user):
    link = LinkFactory(owner=user)
    url = f"/shortener/links/{link.code}/edit/"

    signed_in.post(url, edit_data(link, password="s3cret"))
    link.refresh_from_db()
    assert link.has_password
    assert "This link asks visitors for a password." in signed_in.get(url).content.decode()

    signed_in.post(url, edit_data(link, remove_password="on", disabled="on"))
    link.refresh_from_db()
    assert not link.has_password
    assert link.disabled


def test_edit_leaves_an_unchanged_expiry_alone_although_the_input_has_no_seconds(signed_in, user):
    expiry = (timezone.now() + timedelta(days=3)).replace(second=42, microsecond=0)
    link = LinkFactory(owner=user, expires_at=expiry)
    shown = timezone.localtime(expiry).strftime("%Y-%m-%dT%H:%M")

    signed_in.post(f"/shortener/links/{link.code}/edit/", edit_data(link, expires_at=shown))

    link.refresh_from_db()
    assert link.expires_at == expiry


def test_edit_of_other_fields_works_when_the_destination_breaks_a_newer_rule(
    signed_in, user, settings
):
    link = LinkFactory(owner=user, long_url="https://newly-blocked.example/")
    settings.SHORTENER_BLOCKED_DOMAINS = ["newly-blocked.example"]

    response = signed_in.post(f"/shortener/links/{link.code}/edit/", edit_data(link, disabled="on"))

    assert response.status_code == 302
    link.refresh_from_db()
    assert link.disabled


def test_edit_errors_are_form_errors(signed_in, user):
    link = LinkFactory(owner=user)
    url = f"/shortener/links/{link.code}/edit/"

    response = signed_in.post(
        url, edit_data(link, long_url="ftp://x.example/", expires_at="2001-01-01T00:00")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Only http:// and https://" in field_errors(html, "long_url")[0]
    assert "must be in the future" in field_errors(html, "expires_at")[0]
    both = signed_in.post(url, edit_data(link, password="x", remove_password="on"))
    assert "not both" in field_errors(both.content.decode(), "password")[0]
    refreshed = Link.objects.get(pk=link.pk)
    assert refreshed.long_url == link.long_url and not refreshed.has_password


# --- delete -------------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes_on_post(signed_in, user):
    link = LinkFactory(owner=user)
    url = f"/shortener/links/{link.code}/delete/"

    confirm = signed_in.get(url)
    assert confirm.status_code == 200
    assert f"Delete /{link.code}?" in confirm.content.decode()
    assert Link.objects.filter(pk=link.pk).exists()

    response = signed_in.post(url)

    assert response["Location"] == "/shortener/links/"
    assert not Link.objects.filter(pk=link.pk).exists()
    assert f"Deleted /{link.code}." in signed_in.get("/shortener/links/").content.decode()


# --- stats --------------------------------------------------------------------------------------


def test_stats_show_totals_a_chart_referrers_and_devices(signed_in, user):
    link = LinkFactory(owner=user, clicks=4, bot_hits=2)
    now = timezone.now()
    for i, (referrer, device, days_ago) in enumerate(
        [("news.example", "mobile", 0), ("news.example", "desktop", 0),
         ("blog.example", "mobile", 2), ("", "tablet", 2)]
    ):  # fmt: skip
        ClickEvent.objects.create(
            link=link,
            stream_id=f"1-{i}",
            occurred_at=now - timedelta(days=days_ago),
            referrer_host=referrer,
            device=device,
        )

    response = signed_in.get(f"/shortener/links/{link.code}/stats/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f"Stats of /{link.code}" in html
    assert '<dd data-testid="total-clicks">4</dd>' in html
    assert "<dt>Bot hits</dt>\n      <dd>2</dd>" in html
    assert '<svg class="chart-svg"' in html
    assert re.search(
        r'aria-label="Clicks per day, last 30 days: 4 in total, most on [^"]+ \(2\)\."', html
    )
    assert len(re.findall(r'<rect class="chart-bar', html)) == 30
    assert "news.example" in html and "blog.example" in html
    assert re.search(
        r"Mobile</span></th>\s*<td class=\"num\">2 <span class=\"muted\">\(50%\)", html
    )


def test_stats_of_a_link_without_visits_say_so(signed_in, user):
    link = LinkFactory(owner=user)

    html = signed_in.get(f"/shortener/links/{link.code}/stats/").content.decode()

    assert '<dd data-testid="total-clicks">0</dd>' in html
    assert "No referrers yet" in html
    assert "No visits recorded yet." in html
    assert "Clicks per day, last 30 days: none." in html


# --- QR codes -----------------------------------------------------------------------------------


def test_qr_codes_are_public_and_decode_to_the_short_url(client):
    link = LinkFactory(code="Qr7code")

    svg = client.get(f"/shortener/links/{link.code}/qr.svg")
    png = client.get(f"/shortener/links/{link.code}/qr.png")

    assert svg.status_code == png.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert png["Content-Type"] == "image/png"
    assert read_qr_svg(svg.content) == ["http://testserver/Qr7code"]
    assert read_qr_png(png.content) == ["http://testserver/Qr7code"]
    for response in (svg, png):
        assert response["Cache-Control"] == "public, max-age=86400"
        assert response.has_header("ETag")
        assert not response.has_header("Content-Disposition")


def test_qr_codes_follow_the_configured_base_url(client, settings):
    settings.SHORTENER_BASE_URL = "https://sho.rt"
    link = LinkFactory(code="based1")

    png = client.get(f"/shortener/links/{link.code}/qr.png")

    assert read_qr_png(png.content) == ["https://sho.rt/based1"]


def test_a_qr_code_is_revalidated_by_etag_and_can_be_downloaded(client):
    link = LinkFactory(code="etag123")
    url = f"/shortener/links/{link.code}/qr.png"
    etag = client.get(url)["ETag"]

    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.head(url)["ETag"] == etag
    download = client.get(url + "?download=1")
    assert download["Content-Disposition"] == 'attachment; filename="etag123-qr.png"'


def test_a_qr_code_of_an_unknown_code_is_a_404(client):
    assert client.get("/shortener/links/nosuch1/qr.svg").status_code == 404
    assert client.get("/shortener/links/bad%20code/qr.png").status_code == 404


def test_the_pages_of_a_string_that_cannot_be_a_code_are_404s(signed_in):
    for page in ("edit/", "delete/", "stats/", "qr.svg", "qr.png"):
        assert signed_in.get(f"/shortener/links/a%00b/{page}").status_code == 404, page
