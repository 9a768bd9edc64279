"""A visitor signs up, signs out, signs back in and visits every system, in Chromium."""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

SYSTEMS = {
    "URL shortener": "/shortener/",
    "Timeline": "/timeline/",
    "Payments": "/payments/",
    "Rate limiter": "/ratelimit/",
}

pytestmark = pytest.mark.e2e


def sign_up(page: Page, username: str) -> None:
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def test_sign_up_sign_out_sign_in_and_visit_every_system(page: Page, live_server, screenshot):
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    user_area = page.get_by_test_id("user-area")
    expect(page.get_by_role("heading", level=1)).to_have_text("System design, runnable")
    screenshot("home")

    sign_up(page, "e2e-dana")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(user_area).to_contain_text("Signed in as e2e-dana")
    expect(page.get_by_role("status")).to_contain_text("Welcome, e2e-dana.")
    for title, path in SYSTEMS.items():
        expect(nav.get_by_role("link", name=title, exact=True)).to_have_attribute("href", path)
    screenshot("signed-in")
    assert User.objects.filter(username="e2e-dana").exists()

    user_area.get_by_role("button", name="Sign out").click()

    expect(user_area).not_to_contain_text("Signed in as")
    expect(user_area.get_by_role("link", name="Sign in")).to_be_visible()

    user_area.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("E2E-Dana")  # any case signs in to the one account
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(user_area).to_contain_text("Signed in as e2e-dana")
    for title, path in SYSTEMS.items():
        nav.get_by_role("link", name=title, exact=True).click()
        expect(page).to_have_url(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(title)
        expect(nav.get_by_role("link", name=title, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        expect(user_area).to_contain_text("Signed in as e2e-dana")


def test_sign_up_with_a_name_taken_in_another_case_shows_the_error_next_to_the_field(
    page: Page,
):
    UserFactory(username="dana")
    page.goto("/")

    sign_up(page, "DANA")

    username = page.get_by_label("Username")
    expect(username).to_have_attribute("aria-invalid", "true")
    expect(username).to_have_accessible_description(
        "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only. "
        "A user with that username already exists."
    )
    expect(page.get_by_test_id("user-area")).not_to_contain_text("Signed in as")


def test_the_stylesheet_is_served_and_applied(page: Page):
    page.goto("/")

    header_position = page.locator(".site-header").evaluate("e => getComputedStyle(e).position")
    assert header_position == "sticky"


def test_guessing_at_a_password_through_the_real_server_stops_at_the_limit(page: Page, screenshot):
    # The default `login_username` policy: 10 tries per username per 5 minutes, through the
    # served app (live_server: a real HTTP server), the browser's own CSRF cookie and form.
    UserFactory(username="dana")
    page.goto("/accounts/login/")
    for i in range(10):
        page.get_by_label("Username").fill("dana")
        page.get_by_label("Password").fill(f"guess-{i}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()

    page.get_by_label("Username").fill("DANA")  # any case is the same account, the same budget
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response("**/accounts/login/") as answer:
        page.get_by_role("button", name="Sign in").click()

    assert answer.value.status == 429
    assert 1 <= int(answer.value.headers["retry-after"]) <= 300
    expect(page.get_by_role("heading", level=1)).to_have_text("Please wait before trying again")
    expect(page.get_by_text("Too many sign-in attempts. Try again in 5 minutes.")).to_be_visible()
    expect(page.get_by_test_id("user-area")).not_to_contain_text("Signed in as")
    screenshot("sign-in-limited")
