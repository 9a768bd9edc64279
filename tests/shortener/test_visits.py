"""The link-state rule is written once (shortener.visits.link_state) and visit.lua, which must
apply it inside Redis, is pinned to it: every combination of the rule's inputs, run through the
real script on the real Redis, gets the state the Python function gives. The places that apply
the rule in Python (Redis down, the preview, the pages and API) are checked to agree too."""

from __future__ import annotations

import contextlib
import itertools
import time
from datetime import UTC, datetime

import pytest

from shortener import cache, clicks, selectors
from shortener.cache import CachedLink
from shortener.visitors import Visitor
from shortener.visits import STATES, answer, answer_cached, link_state, state_without_redis
from tests.asyncio_helpers import run_in_new_loop
from tests.shortener.factories import LinkFactory

PERSON = Visitor("desktop", False, "")
NOW_MS = int(time.time() * 1000)

COMBINATIONS = list(
    itertools.product(
        [False, True],  # disabled
        [None, NOW_MS - 1, NOW_MS, NOW_MS + 60_000],  # expires_at_ms
        [None, 0, 1, 5],  # clicks left (None: no max_clicks)
        [False, True],  # has_password
        [False, True],  # unlocked (the caller checked the password)
    )
)


@pytest.mark.parametrize(("disabled", "expires", "left", "password", "unlocked"), COMBINATIONS)
def test_visit_lua_applies_the_one_state_rule(disabled, expires, left, password, unlocked):
    code = "pinned"
    entry = CachedLink(
        id=7, location="https://example.com/", redirect_type=302, expires_at_ms=expires,
        has_password=password, disabled=disabled, max_clicks=None if left is None else 10,
    )  # fmt: skip
    keys = cache.keys_for(code)
    if left is not None:
        cache.client().set(keys.gate, left)

    visit = cache.visit(
        code=code, now_ms=NOW_MS, count=False, visitor=PERSON, inline=entry, unlocked=unlocked
    )

    expected = link_state(
        disabled=disabled, expires_at_ms=expires, now_ms=NOW_MS, clicks_left=left,
        has_password=password, unlocked=unlocked,
    )  # fmt: skip
    assert expected in STATES
    assert visit.state == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "redirect", "page"),
    [
        ({}, "ok", "active"),
        ({"disabled": True}, "disabled", "disabled"),
        ({"expires_at": datetime(2001, 1, 1, tzinfo=UTC)}, "expired", "expired"),
        ({"password": "x"}, "password", "active"),  # the pages call a protected link active
        ({"max_clicks": 3, "clicks": 3}, "unavailable", "exhausted"),
        ({"max_clicks": 3, "disabled": True}, "disabled", "disabled"),
    ],
)
def test_the_python_callers_agree_with_the_rule(fields, redirect, page):
    link = LinkFactory(**fields)

    assert state_without_redis(code=link.code).state == redirect  # Redis down: no gate to read
    assert selectors.link_state(link=link) == page


# --- answer(): the path of a visit, as every edge gets it ---------------------------------------


def _environ(**extra) -> dict:
    return {"REQUEST_METHOD": "GET", "REMOTE_ADDR": "198.51.100.20", "HTTP_USER_AGENT": "Firefox",
            **extra}  # fmt: skip


@pytest.mark.django_db
def test_answer_gives_a_redirect_with_its_headers_and_counts_it():
    link = LinkFactory(long_url="https://example.com/a", redirect_type=307)

    outcome = answer(code=link.code, method="GET", environ=_environ())

    assert (outcome.state, outcome.status) == ("ok", 307)
    assert dict(outcome.headers)["Location"] == "https://example.com/a"
    assert dict(outcome.headers)["Cache-Control"] == "no-store"
    assert outcome.visit.counted


@pytest.mark.django_db
def test_head_looks_without_counting_and_pages_are_left_to_the_edge():
    link = LinkFactory()
    gone = LinkFactory(disabled=True)

    head = answer(code=link.code, method="HEAD", environ=_environ())
    unknown = answer(code="nosuchcode", method="GET", environ=_environ(REMOTE_ADDR="198.51.100.21"))
    disabled = answer(code=gone.code, method="GET", environ=_environ(REMOTE_ADDR="198.51.100.22"))

    assert head.state == "ok" and not head.visit.counted
    assert (unknown.state, unknown.status, unknown.headers) == ("none", 404, [])
    assert (disabled.state, disabled.status) == ("disabled", 410)


@pytest.mark.django_db
def test_the_database_hook_wraps_only_the_work_that_reads_postgresql():
    link = LinkFactory()
    opened: list[str] = []

    @contextlib.contextmanager
    def database():
        opened.append("db")
        yield

    answer(code=link.code, method="GET", environ=_environ(), database=database)  # a miss
    answer(code=link.code, method="GET", environ=_environ(), database=database)  # now cached

    assert opened == ["db"]


# --- answer_cached(): the async edge's share, from Redis alone ----------------------------------


@pytest.mark.django_db
def test_the_async_answer_of_a_cached_link_is_the_sync_one_and_counts_the_click():
    link = LinkFactory(long_url="https://example.com/async", redirect_type=301)
    synchronous = answer(code=link.code, method="GET", environ=_environ())  # a miss: fills it

    asynchronous = run_in_new_loop(
        lambda: answer_cached(code=link.code, method="GET", environ=_environ())
    )

    assert asynchronous.state == "ok"
    assert (asynchronous.status, asynchronous.headers) == (synchronous.status, synchronous.headers)
    assert clicks.pending_clicks(link_ids=[link.id]) == {link.id: 2}


@pytest.mark.django_db
def test_the_async_answer_leaves_a_miss_to_the_synchronous_path():
    link = LinkFactory()

    assert (
        run_in_new_loop(lambda: answer_cached(code=link.code, method="GET", environ=_environ()))
        is None
    )
    assert clicks.pending_clicks(link_ids=[link.id]).get(link.id, 0) == 0


@pytest.mark.django_db
def test_the_async_answer_refuses_like_the_sync_one(settings):
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "redirect": {"algorithm": "gcra", "limit": 1, "window": 60, "key": "ip"},
    }
    link = LinkFactory()
    answer(code=link.code, method="GET", environ=_environ(REMOTE_ADDR="198.51.100.30"))

    refused = run_in_new_loop(
        lambda: answer_cached(
            code=link.code, method="GET", environ=_environ(REMOTE_ADDR="198.51.100.30")
        )
    )

    assert (refused.state, refused.status) == ("refused", 429)
    assert b"Too many requests" in refused.body
