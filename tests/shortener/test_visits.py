"""The link-state rule is written once (shortener.visits.link_state) and visit.lua, which must
apply it inside Redis, is pinned to it: every combination of the rule's inputs, run through the
real script on the real Redis, gets the state the Python function gives. The places that apply
the rule in Python (Redis down, the preview, the pages and API) are checked to agree too."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from shortener import cache, selectors
from shortener.cache import CachedLink
from shortener.redirect import state_without_redis
from shortener.visitors import Visitor
from shortener.visits import STATES, link_state
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
