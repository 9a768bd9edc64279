"""Policies are parsed when the process starts: a bad one stops it, naming the scope."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ratelimit.policies import parse_policy

REPO = Path(__file__).resolve().parents[2]


def _start_django(overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RATELIMIT_POLICY_OVERRIDES": overrides}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_an_override_of_a_scope_that_does_not_exist_stops_the_process_at_start_up():
    # Before, the process started and then answered 500 to every request that asked a limiter.
    started = _start_django('{"api_user": {"mode": "shadow"}}')

    assert started.returncode != 0 and "started" not in started.stdout
    assert "RATELIMIT_POLICIES['api_user']: no 'algorithm'" in started.stderr


def test_a_valid_override_starts():
    started = _start_django('{"redirect": {"mode": "shadow"}}')

    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"limit": 5, "window": 60}, "no 'algorithm'"),
        ({"algorithm": "gcra", "limit": "many", "window": 60}, "ValueError"),
        ({"algorithm": "leaky", "limit": 5, "window": 60}, "algorithm"),
        ({"algorithm": "gcra", "limit": 5, "window": 60, "burts": 9}, "unknown ['burts']"),
    ],
)
def test_a_bad_policy_names_its_scope_and_what_is_wrong(spec, says):
    with pytest.raises(ImproperlyConfigured) as raised:
        parse_policy("scope_x", spec)

    assert "RATELIMIT_POLICIES['scope_x']" in str(raised.value)
    assert says in str(raised.value)
