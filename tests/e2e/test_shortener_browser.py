"""A visitor signs up, shortens a URL on the home page, scans its QR code, follows the short
link, and sees the click on "My links" and on the stats page, in Chromium.

The machine has no internet: the destination (https://example.com/...) is answered by
Playwright's router, after our server's real redirect response sent the browser there.
"""

import re

import pytest
from playwright.sync_api import Page, Route, expect

from shortener import clicks
from shortener.models import Link
from tests.accounts.factories import PASSWORD
from tests.shortener.qr_reader import read_qr_png

pytestmark = pytest.mark.e2e

DESTINATION = "https://example.com/e2e/landing?from=short-link"
PHONE = {"width": 390, "height": 844}


def sign_up(page: Page, username: str) -> None:
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def fulfil_destination(route: Route) -> None:
    route.fulfill(
        status=200,
        content_type="text/html",
        body="<!doctype html><title>Landing</title><h1>You have arrived</h1>",
    )


def test_shorten_on_the_home_page_follow_the_link_and_see_the_click(
    page: Page, live_server, screenshot
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto("/")
    sign_up(page, "e2e-sam")
    expect(page.get_by_test_id("user-area")).to_contain_text("Signed in as e2e-sam")
    screenshot("shortener-home")

    page.get_by_label("Long URL").fill(DESTINATION)
    page.get_by_role("button", name="Shorten").click()

    result = page.get_by_test_id("result")
    expect(result.get_by_role("heading", name="Your short link is ready")).to_be_visible()
    link = Link.objects.get(owner__username="e2e-sam")
    short_url = f"{live_server.url}/{link.code}"
    expect(result.get_by_test_id("short-url")).to_have_text(short_url)
    expect(result.get_by_role("link", name="Preview")).to_have_attribute("href", short_url + "+")
    expect(result.get_by_role("link", name="Stats")).to_be_visible()
    screenshot("shortener-created")

    # The QR code as the browser drew it, read back by a real QR decoder.
    qr = result.get_by_role("img", name=f"QR code for {short_url}")
    expect(qr).to_have_js_property("complete", True)
    assert read_qr_png(qr.screenshot()) == [short_url]

    result.get_by_role("button", name="Copy the short URL").click()
    expect(result.get_by_role("button", name="Copy the short URL")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == short_url

    # Follow the short link: our server answers 302 with Location: DESTINATION.
    page.route("https://example.com/**", fulfil_destination)
    with page.expect_response(short_url) as redirect:
        result.get_by_test_id("short-url").click()
    assert redirect.value.status == 302
    assert redirect.value.headers["location"] == DESTINATION
    expect(page.get_by_role("heading", name="You have arrived")).to_be_visible()
    assert page.url == DESTINATION

    # Live clicks: counted in Redis, not yet flushed to PostgreSQL.
    page.goto("/shortener/links/")
    row = page.get_by_role("row").filter(has_text=f"/{link.code}")
    expect(row.get_by_role("cell").nth(1)).to_have_text("1")
    expect(row).to_contain_text("Active")
    screenshot("shortener-my-links")

    row.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Stats of /{link.code}")
    expect(page.get_by_test_id("total-clicks")).to_have_text("1")

    # The per-day chart is drawn from click events, which the Celery beat task flushes every few
    # seconds; run that flush here instead of waiting for a beat that this test does not start.
    clicks.flush_clicks()
    page.reload()
    chart = page.get_by_role("img", name=re.compile(r"^Clicks per day, last 30 days: 1 in total"))
    expect(chart).to_be_visible()
    expect(page.locator("rect.chart-bar:not(.chart-bar-zero)")).to_have_count(1)
    expect(page.get_by_role("table", name="Clicks per day, last 30 days")).to_be_attached()
    expect(page.get_by_test_id("total-clicks")).to_have_text("1")
    screenshot("shortener-stats")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Destination")).to_have_value(DESTINATION)
    screenshot("shortener-edit")

    page.set_viewport_size(PHONE)
    screenshot("shortener-edit-390")
    page.goto(f"/shortener/links/{link.code}/stats/")
    screenshot("shortener-stats-390")
    page.goto("/shortener/links/")
    screenshot("shortener-my-links-390")
    page.goto(f"/shortener/?created={link.code}")
    screenshot("shortener-created-390")
    page.goto("/")
    screenshot("home-390")


def test_a_bad_url_is_explained_next_to_the_field_and_options_stay_open(page: Page, screenshot):
    page.goto("/shortener/")
    page.get_by_label("Long URL").fill("javascript:alert(1)")
    page.get_by_text("Options").click()
    page.get_by_label("Custom alias").fill("admin")
    page.get_by_label("Max clicks").fill("3")
    page.get_by_role("button", name="Shorten").click()

    long_url = page.get_by_label("Long URL")
    expect(long_url).to_have_attribute("aria-invalid", "true")
    expect(long_url).to_have_accessible_description(
        re.compile("Only http:// and https:// URLs can be shortened.")
    )
    alias = page.get_by_label("Custom alias")
    expect(alias).to_be_visible()  # the options opened again to show their error
    expect(alias).to_have_accessible_description(re.compile("is reserved"))
    expect(page.get_by_label("Max clicks")).to_have_value("3")
    screenshot("shortener-errors")
    page.set_viewport_size(PHONE)
    screenshot("shortener-errors-390")
    assert not Link.objects.exists()


def test_a_protected_one_time_link_previewed_unlocked_used_up_edited_and_deleted(
    page: Page, live_server, screenshot
):
    """The rest of a link's life in the browser: a password and max_clicks=1 set in the
    options, the preview hiding the destination, a wrong then the right password, the 410 once
    used up, the owner's edit (a new destination, no password, no limit), then delete."""
    page.goto("/")
    sign_up(page, "e2e-pat")
    page.get_by_label("Long URL").fill(DESTINATION)
    page.get_by_text("Options").click()
    page.get_by_label("Custom alias").fill("e2e-secret")
    page.get_by_label("Max clicks").fill("1")
    page.get_by_label("Password").fill("open sesame")  # the only one: "Password optional"
    page.get_by_role("button", name="Shorten").click()
    expect(page.get_by_test_id("short-url")).to_have_text(f"{live_server.url}/e2e-secret")

    page.goto("/e2e-secret+")
    # Codes are case-sensitive: the upper-cased eyebrow shows this one as it is.
    expect(page.locator(".eyebrow")).to_have_text(
        "Link preview · /e2e-secret".upper().replace("/E2E-SECRET", "/e2e-secret"),
        use_inner_text=True,
    )
    expect(page.get_by_test_id("preview-protected")).to_be_visible()
    expect(page.get_by_test_id("preview-destination")).to_have_count(0)
    assert "example.com" not in page.content()
    screenshot("shortener-preview-protected")

    page.get_by_test_id("preview-continue").click()
    expect(page.get_by_role("heading", name="This link is protected")).to_be_visible()
    page.get_by_label("Password").fill("wrong guess")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text("That password is not right.")
    expect(page.get_by_label("Password")).to_have_accessible_description(
        "That password is not right."
    )
    expect(page.locator(".eyebrow")).to_have_text("/e2e-secret", use_inner_text=True)
    screenshot("shortener-password-wrong")

    page.route("https://example.com/**", fulfil_destination)
    page.get_by_label("Password").fill("open sesame")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="You have arrived")).to_be_visible()
    assert page.url == DESTINATION

    page.goto("/e2e-secret")  # its one click is used
    expect(page.get_by_test_id("link-exhausted")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has been used up")
    screenshot("shortener-exhausted")

    page.goto("/shortener/links/")
    row = page.get_by_role("row").filter(has_text="/e2e-secret")
    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Destination").fill("https://example.com/e2e/moved")
    page.get_by_label("Max clicks").fill("")
    page.get_by_label("Remove the password").check()
    page.get_by_role("button", name="Save changes").click()
    link = Link.objects.get(code="e2e-secret")
    assert (link.long_url, link.max_clicks, link.has_password) == (
        "https://example.com/e2e/moved",
        None,
        False,
    )
    page.goto("/e2e-secret+")  # the cached copy went with the edit
    expect(page.get_by_test_id("preview-host")).to_have_text("example.com")
    expect(page.get_by_test_id("preview-destination")).to_have_text("https://example.com/e2e/moved")
    page.get_by_test_id("preview-continue").click()
    expect(page.get_by_role("heading", name="You have arrived")).to_be_visible()
    assert page.url == "https://example.com/e2e/moved"

    page.goto("/shortener/links/")
    page.get_by_role("row").filter(has_text="/e2e-secret").get_by_role(
        "link", name="Delete"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete /e2e-secret?")
    page.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_text("Deleted /e2e-secret. The code is free again.")).to_be_visible()
    assert not Link.objects.filter(code="e2e-secret").exists()
    page.goto("/e2e-secret")
    expect(page.get_by_test_id("link-unknown")).to_be_visible()
