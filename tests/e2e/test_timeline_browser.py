"""Two people sign up; one follows the other, the other tweets with an image, and the first sees
it arrive on their home page through the "new tweets" notice; unfollowed, it is gone. Then the
fan-out page draws its charts from what just ran. In Chromium, against the live server, with a
real Celery worker process (tests/conftest.py) doing the fan-out and the thumbnail."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.accounts.factories import PASSWORD
from timeline import views
from timeline.models import Tweet
from timeline.text import weighted_length

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = "https://example.com/a/long/path/that/counts/as/23"
TEXT = f"Hello from the writer 👋 see {LINK}"


@pytest.fixture
def fast_polls(monkeypatch):
    # The pages poll every 5 s (home) and 2 s (fan-out); the live server runs in this process.
    monkeypatch.setattr(views, "POLL_SECONDS", 1)
    monkeypatch.setattr(views, "FANOUT_POLL_SECONDS", 1)


def second_page(browser: Browser, live_server) -> Page:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_up(page: Page, username: str) -> None:
    page.goto("/timeline/")
    page.get_by_role("main").get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_test_id("user-area")).to_contain_text(f"Signed in as {username}")


def png() -> bytes:
    """A PNG of random pixels: new bytes (a new content address) on every run."""
    image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_follow_tweet_with_an_image_see_it_arrive_unfollow_and_it_is_gone(
    page: Page, browser: Browser, live_server, celery_worker_process, fast_polls, screenshot
):
    reader = page
    writer = second_page(browser, live_server)
    sign_up(reader, "e2e-reader")
    sign_up(writer, "e2e-writer")

    # The reader follows the writer from the writer's profile.
    reader.goto("/timeline/u/e2e-writer")
    expect(reader.get_by_role("heading", level=1)).to_have_text("@e2e-writer")
    reader.get_by_role("button", name="Follow @e2e-writer").click()
    expect(reader.locator(".messages")).to_contain_text("You follow @e2e-writer.")
    expect(
        reader.get_by_test_id("profile-counts").locator('[data-count="followers"]')
    ).to_have_text("1")
    expect(reader.get_by_role("button", name="Unfollow @e2e-writer")).to_be_visible()
    reader.goto("/timeline/")
    expect(reader.get_by_text("Nothing here yet.")).to_be_visible()

    # The writer composes: the live counter counts as the server will, an image is uploaded
    # (POST /api/v1/media) and its thumbnail made by the worker before the tweet is posted.
    writer.goto("/timeline/")
    box = writer.get_by_label("What is happening?")
    box.fill(TEXT)
    left = 280 - weighted_length(TEXT)
    expect(writer.locator("[data-compose-count]")).to_have_text(f"{left} characters left")
    writer.locator("[data-media-input]").set_input_files(
        {"name": "picture.png", "mimeType": "image/png", "buffer": png()}
    )
    thumbnail = writer.get_by_test_id("compose-image")
    expect(thumbnail).to_have_attribute("data-state", "ready", timeout=30_000)
    screenshot("timeline-compose")
    writer.get_by_role("button", name="Post").click()
    expect(writer.locator(".messages")).to_contain_text("Your tweet is posted.")
    mine = writer.get_by_test_id("tweet").first
    expect(mine).to_contain_text("Hello from the writer")
    expect(mine.get_by_test_id("tweet-image")).to_be_visible()
    tweet = Tweet.objects.get(author__username="e2e-writer")
    assert len(tweet.media) == 1

    # The reader's page finds it by polling since_id, and shows it on request.
    notice = reader.locator("[data-show-new]")
    expect(notice).to_have_text("Show 1 new tweet", timeout=20_000)
    notice.click()
    arrived = reader.locator(f'[data-tweet-id="{tweet.id}"]')
    expect(arrived).to_contain_text("Hello from the writer 👋")
    expect(arrived.get_by_role("link", name=LINK)).to_have_attribute("href", LINK)
    image = arrived.get_by_test_id("tweet-image")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", tweet.media[0]["preview_url"])
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")  # the thumbnail loaded
    screenshot("timeline-arrived")
    reader.reload()  # and it is in the server-rendered timeline too
    expect(reader.locator(f'[data-tweet-id="{tweet.id}"]')).to_be_visible()

    # Unfollow: gone from the reader's home.
    reader.goto("/timeline/u/e2e-writer")
    reader.get_by_role("button", name="Unfollow @e2e-writer").click()
    expect(reader.locator(".messages")).to_contain_text("You no longer follow @e2e-writer")
    expect(
        reader.get_by_test_id("profile-counts").locator('[data-count="followers"]')
    ).to_have_text("0")
    reader.goto("/timeline/")
    expect(reader.get_by_text("Nothing here yet.")).to_be_visible()
    expect(reader.locator(f'[data-tweet-id="{tweet.id}"]')).to_have_count(0)

    # The fan-out page draws what ran: the delivery into the reader's feed and the lag.
    reader.goto("/timeline/fanout")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Fan-out, live")
    delivered = reader.locator("#deliveries-chart rect.chart-bar:not(.chart-bar-zero)")
    lags = reader.locator("#lag-chart rect.chart-bar")
    expect(delivered).to_have_count(1)
    expect(lags).to_have_count(1)
    expect(reader.get_by_test_id("lag-table")).to_contain_text("@e2e-writer")
    status = reader.locator("[data-status]")
    first = status.inner_text()
    expect(status).not_to_have_text(first, timeout=10_000)  # redrawn by the page's script
    expect(delivered).to_have_count(1)
    expect(lags).to_have_count(1)
    assert "none" not in reader.locator("#deliveries-chart svg").get_attribute("aria-label")
    expect(reader.get_by_test_id("your-read")).to_contain_text("The last read: from")
    screenshot("timeline-fanout")
    writer.context.close()
