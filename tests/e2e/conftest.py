"""Playwright (sync API) driving Debian's Chromium against pytest-django's live_server."""

import os
from collections.abc import Iterator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an asyncio event loop in this thread; Django then refuses ORM calls
# from it (SynchronousOnlyOperation) although they are made synchronously, between page steps.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_server(_static_manifest) -> Iterator[LiveServer]:
    """pytest-django's live server, serving static files the way production does.

    pytest-django wraps the server in Django's StaticFilesHandler, which answers every /static/
    request from the finders. The finders know only unhashed names (css/site.css), but pages
    link the manifest's hashed names (css/site.4f2a....css): every stylesheet would 404. Without
    that wrapper, /static/ reaches WhiteNoise's middleware, which serves STATIC_ROOT (built by
    the `_static_manifest` fixture, which must run first: WhiteNoise indexes it at start-up).
    """
    server = LiveServer("localhost", start=False)
    server.thread.static_handler = _no_static_handler
    server.start()
    yield server
    server.stop()


def _no_static_handler(handler: WSGIHandler) -> WSGIHandler:
    return handler


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page: Page):
    """Save a full-page screenshot to $E2E_SCREENSHOTS/<name>.png when that variable is set."""
    directory = os.environ.get("E2E_SCREENSHOTS")

    def take(name: str) -> None:
        if directory:
            page.screenshot(path=os.path.join(directory, f"{name}.png"), full_page=True)

    return take
