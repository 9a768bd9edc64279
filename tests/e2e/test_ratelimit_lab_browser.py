"""A visitor opens the rate limiter lab, fires a burst at a token bucket of 5 per 10 s and sees
5 admitted and 5 refused, on the counters and on the chart; switches algorithm and starts a new
experiment; and reads each algorithm's memory per key, in Chromium."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_a_burst_of_10_at_a_token_bucket_of_5_admits_5_and_refuses_5(page: Page, screenshot):
    page.goto("/ratelimit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rate limiter lab")
    memory = page.get_by_test_id("memory-table")
    expect(memory.get_by_role("row")).to_have_count(6)  # header + five algorithms
    screenshot("ratelimit-lab-empty")

    page.get_by_label("Algorithm").select_option("token_bucket")
    page.get_by_label("Limit", exact=True).fill("5")
    page.get_by_label("Window").fill("10")
    page.get_by_label("Burst of").fill("10")
    page.get_by_role("button", name="Fire burst").click()

    expect(page.get_by_test_id("admitted-count")).to_have_text("5")
    expect(page.get_by_test_id("refused-count")).to_have_text("5")
    legend = page.get_by_test_id("legend")
    expect(legend).to_contain_text("Admitted 5")
    expect(legend).to_contain_text("Refused 5")
    expect(page.get_by_role("status").filter(has_text="10 requests")).to_have_text(
        re.compile(r"10 requests: 5 admitted, 5 refused\. Next one allowed in \d\.\d s\.")
    )
    chart = page.get_by_role("img", name=re.compile(r"5 admitted, 5 refused\.$"))
    expect(chart).to_be_visible()
    expect(page.locator("rect.lab-bar-admitted")).to_have_count(1)  # one instant: one bucket
    expect(page.locator("rect.lab-bar-refused")).to_have_count(1)
    # This lab's token bucket key now holds state, and the table says how much.
    key_now = memory.get_by_role("row").filter(has_text="Token bucket").get_by_role("cell").last
    expect(key_now).to_have_text(re.compile(r"^\d+ B$"))
    screenshot("ratelimit-lab-burst")

    # A single request more is refused too: the bucket refills one token every 2 s.
    page.get_by_role("button", name="Fire 1 request").click()
    expect(page.get_by_test_id("refused-count")).to_have_text("6")
    expect(page.get_by_test_id("latest")).to_contain_text("Request 11: refused.")

    # Another algorithm is another experiment, on its own key: counters start again.
    page.get_by_label("Algorithm").select_option("sliding_log")
    expect(page.get_by_test_id("admitted-count")).to_have_text("0")
    expect(page.get_by_test_id("algorithm-help")).to_contain_text("sorted set")
    expect(page.get_by_label("Burst optional")).to_be_disabled()
    page.get_by_label("Burst of").fill("8")
    page.get_by_role("button", name="Fire burst").click()
    expect(page.get_by_test_id("admitted-count")).to_have_text("5")
    expect(page.get_by_test_id("refused-count")).to_have_text("3")
    screenshot("ratelimit-lab-sliding-log")

    page.set_viewport_size(PHONE)
    screenshot("ratelimit-lab-390")


def test_the_memory_table_follows_the_limit_and_bad_input_is_explained(page: Page, screenshot):
    page.goto("/ratelimit/")
    memory = page.get_by_test_id("memory-table")
    log_row = memory.get_by_role("row").filter(has_text="Sliding window log")
    small = int(log_row.get_by_role("cell").first.get_attribute("data-bytes"))

    page.get_by_label("Limit", exact=True).fill("1000")
    page.get_by_label("Limit", exact=True).press("Tab")
    expect(memory).to_contain_text("1000")  # the caption names the limit
    expect(log_row.get_by_role("cell").nth(1)).to_have_text(re.compile(r"\d+(\.\d+)? TB$"))
    large = int(log_row.get_by_role("cell").first.get_attribute("data-bytes"))
    assert large > 10 * small
    screenshot("ratelimit-lab-memory-1000")

    page.get_by_label("Limit", exact=True).fill("0")
    page.get_by_role("button", name="Fire 1 request").click()
    limit = page.get_by_label("Limit", exact=True)
    expect(limit).to_have_attribute("aria-invalid", "true")
    expect(limit).to_have_accessible_description(re.compile("greater than or equal to 1"))
    expect(page.get_by_test_id("latest")).to_contain_text("limit:")
    screenshot("ratelimit-lab-error")
