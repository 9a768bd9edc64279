"""The rate limiter lab's endpoints (/ratelimit/lab/*) through HTTP, against the real limiter
scripts in the test Redis: decisions per algorithm, per-browser keys, memory figures, bounds,
CSRF and the lab's own limits, and what one memory request costs Redis."""

from __future__ import annotations

import contextlib
import multiprocessing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.test import Client
from redis.connection import AbstractConnection

from core.redis import get_redis
from ratelimit import lab
from ratelimit.algorithms import ALGORITHMS
from ratelimit.services import check_rate, key_memory_bytes
from tests.ratelimit import hammer

pytestmark = pytest.mark.django_db

CHECK = "/ratelimit/lab/check"
MEMORY = "/ratelimit/lab/memory"
RESET = "/ratelimit/lab/reset"
# Windows of an hour: a burst of a few milliseconds cannot straddle a fixed window's boundary
# (the fixed window and the sliding counter would then legitimately admit more).
HOUR = 3600


@dataclass
class Traffic:
    round_trips: int = 0
    commands: list[tuple[str, ...]] = field(default_factory=list)

    def fills(self) -> list[tuple[str, ...]]:
        """Script runs on keys that are not a lab policy's own (rl:{lab_<scope>:...})."""
        return [c for c in self.commands if c[0] == "EVALSHA" and not c[3].startswith("rl:{lab_")]


@contextlib.contextmanager
def redis_traffic() -> Iterator[Traffic]:
    """What this process sends to Redis (limiter and Django's cache alike), counted by wrapping
    the real client's connection: one round trip per write to the socket, a single command or a
    whole pipeline; every command with its arguments."""
    traffic = Traffic()
    send_packed, send_command, pack_commands = (
        AbstractConnection.send_packed_command,
        AbstractConnection.send_command,
        AbstractConnection.pack_commands,
    )

    def counted_send_packed(self, command, check_health=True):
        traffic.round_trips += 1
        return send_packed(self, command, check_health)

    def counted_send_command(self, *args, **kwargs):
        traffic.commands.append(tuple(str(a) for a in args))
        return send_command(self, *args, **kwargs)

    def counted_pack_commands(self, commands):
        traffic.commands.extend(tuple(str(a) for a in args) for args in commands)
        return pack_commands(self, commands)

    AbstractConnection.send_packed_command = counted_send_packed
    AbstractConnection.send_command = counted_send_command
    AbstractConnection.pack_commands = counted_pack_commands
    try:
        yield traffic
    finally:
        AbstractConnection.send_packed_command = send_packed
        AbstractConnection.send_command = send_command
        AbstractConnection.pack_commands = pack_commands


def memory(client: Client, **body):
    return client.post(MEMORY, body, content_type="application/json")


def table_in_another_process(config: dict) -> tuple[list[dict], int, list[tuple[str, ...]]]:
    """Run in a spawned process (its own Django, connections and memory): the memory table of
    `config`, with the Redis traffic it took (once its cache connection is set up)."""
    from django.core.cache import cache

    cache.get("connect")
    with redis_traffic() as traffic:
        rows = lab.memory_table(**config, client="192.0.2.7")
    return rows, traffic.round_trips, traffic.fills()


def check(client: Client, **body):
    return client.post(CHECK, body, content_type="application/json")


def test_the_page_shows_every_algorithm_and_its_memory_per_key(client):
    response = client.get("/ratelimit/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rate limiter lab" in html
    rows = response.context["memory"]
    assert [row["algorithm"] for row in rows] == list(ALGORITHMS)
    assert all(row["bytes_per_key"] > 0 for row in rows)
    assert "csrftoken" in response.cookies  # the page's script posts with it


def test_a_token_bucket_burst_admits_the_limit_and_refuses_the_rest(client):
    response = check(client, algorithm="token_bucket", limit=5, window=10, n=10)
    assert response.status_code == 200
    data = response.json()
    assert (data["admitted"], data["refused"]) == (5, 5)
    decisions = data["decisions"]
    assert [d["allowed"] for d in decisions] == [True] * 5 + [False] * 5
    assert [d["remaining"] for d in decisions[:5]] == [4, 3, 2, 1, 0]
    # One token per 2 s (5 per 10 s): a refused request may retry within 2 s, not before 1 s.
    assert all(1.0 < d["retry_after"] <= 2.0 for d in decisions[5:])
    assert all(d["retry_after"] == 0 for d in decisions[:5])
    times = [d["t"] for d in decisions]
    assert times == sorted(times)
    assert data["key_memory_bytes"] > 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_admits_exactly_the_limit_from_a_fresh_key(client, algorithm):
    data = check(client, algorithm=algorithm, limit=5, window=HOUR, n=8).json()
    assert [d["allowed"] for d in data["decisions"]] == [True] * 5 + [False] * 3
    assert all(d["limit"] == 5 for d in data["decisions"])
    assert data["key_memory_bytes"] > 0


def test_a_burst_larger_than_the_limit_is_the_bucket_size_for_token_bucket_and_gcra(client):
    for algorithm in ("token_bucket", "gcra"):
        data = check(client, algorithm=algorithm, limit=5, window=HOUR, burst=8, n=10).json()
        assert data["admitted"] == 8, algorithm
    # Burst means nothing to a window: ignored there, not an error.
    data = check(client, algorithm="fixed_window", limit=5, window=HOUR, burst=8, n=10).json()
    assert data["admitted"] == 5


def test_state_carries_over_between_calls_of_one_browser(client):
    check(client, algorithm="sliding_log", limit=3, window=HOUR, n=2)
    data = check(client, algorithm="sliding_log", limit=3, window=HOUR, n=2).json()
    assert [d["allowed"] for d in data["decisions"]] == [True, False]


def test_two_browsers_have_separate_keys(client):
    other = Client()
    assert check(client, algorithm="gcra", limit=2, window=HOUR, n=5).json()["admitted"] == 2
    assert check(other, algorithm="gcra", limit=2, window=HOUR, n=5).json()["admitted"] == 2


def test_a_new_limit_is_a_new_experiment(client):
    assert (
        check(client, algorithm="fixed_window", limit=2, window=HOUR, n=3).json()["admitted"] == 2
    )
    assert (
        check(client, algorithm="fixed_window", limit=4, window=HOUR, n=5).json()["admitted"] == 4
    )


def test_start_over_empties_this_browsers_state(client):
    check(client, algorithm="token_bucket", limit=2, window=HOUR, n=2)
    assert client.post(RESET).status_code == 204
    assert (
        check(client, algorithm="token_bucket", limit=2, window=HOUR, n=3).json()["admitted"] == 2
    )


def test_the_lab_key_is_a_random_id_not_the_session_key(client):
    check(client, algorithm="gcra", limit=2, window=HOUR, n=1)
    session_key = client.session.session_key
    assert session_key
    lab_id = client.session[lab.SESSION_KEY]
    assert lab_id and lab_id not in session_key
    from core.redis import get_redis

    names = [name for name in get_redis().scan_iter("*") if lab_id in name]
    assert names and not any(session_key in name for name in names)


def test_memory_per_key_for_every_algorithm_and_for_a_billion_users(client):
    data = client.post(MEMORY, {"limit": 100, "window": 60}, content_type="application/json")
    assert data.status_code == 200
    rows = {row["algorithm"]: row for row in data.json()["algorithms"]}
    assert set(rows) == set(ALGORITHMS)
    for row in rows.values():
        assert row["bytes_per_key"] > 0
        assert row["bytes_for_users"] == row["bytes_per_key"] * 1_000_000_000
    # The seed's point, as a number: the log keeps one member per request in the window.
    log = rows["sliding_log"]["bytes_per_key"]
    assert log > 5 * max(rows[a]["bytes_per_key"] for a in ALGORITHMS if a != "sliding_log")
    assert rows["sliding_log"]["share"] == 100.0


def test_the_sliding_logs_memory_grows_with_the_limit(client):
    def log_bytes(limit: int) -> int:
        body = {"limit": limit, "window": 60}
        rows = client.post(MEMORY, body, content_type="application/json").json()["algorithms"]
        return next(r["bytes_per_key"] for r in rows if r["algorithm"] == "sliding_log")

    assert log_bytes(1000) > 10 * log_bytes(10)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"algorithm": "leaky", "limit": 5, "window": 10, "n": 1}, "algorithm"),
        ({"algorithm": "gcra", "limit": 0, "window": 10, "n": 1}, "limit"),
        ({"algorithm": "gcra", "limit": lab.MAX_LIMIT + 1, "window": 10, "n": 1}, "limit"),
        ({"algorithm": "gcra", "limit": 5, "window": 0, "n": 1}, "window"),
        ({"algorithm": "gcra", "limit": 5, "window": lab.MAX_WINDOW_SECONDS + 1}, "window"),
        ({"algorithm": "gcra", "limit": 5, "window": 10, "n": 0}, "n"),
        ({"algorithm": "gcra", "limit": 5, "window": 10, "n": lab.MAX_N + 1}, "n"),
        ({"algorithm": "gcra", "limit": 5, "window": 10, "burst": 0}, "burst"),
        ({"algorithm": "gcra", "limit": "five", "window": 10}, "limit"),
        ({"limit": 5, "window": 10}, "algorithm"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, body, field):
    response = check(client, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert error["message"].startswith(f"{field}:")


def test_malformed_json_is_a_400_in_the_error_shape(client):
    response = client.post(CHECK, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_memory_bounds_are_checked_too(client):
    response = client.post(MEMORY, {"limit": 5000, "window": 60}, content_type="application/json")
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["fields"]


def test_a_post_without_the_csrf_token_is_refused_even_when_signed_out():
    browser = Client(enforce_csrf_checks=True)
    body = {"algorithm": "gcra", "limit": 5, "window": 10, "n": 1}
    response = browser.post(CHECK, body, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"

    token = browser.get("/ratelimit/").cookies["csrftoken"].value
    response = browser.post(CHECK, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_only_post_is_allowed(client):
    assert client.get(CHECK).status_code == 405


def test_the_lab_is_itself_rate_limited_per_address(client, settings):
    # One token back a minute, not ten a second: a slow machine must not refill one mid-test.
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "lab_request": {
            "algorithm": "token_bucket", "limit": 1, "window": 60, "burst": 3, "key": "ip",
        },
    }  # fmt: skip
    body = {"algorithm": "gcra", "limit": 5, "window": 10, "n": 1}
    assert [check(client, **body).status_code for _ in range(3)] == [200] * 3
    response = check(client, **body)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    # Another browser from the same address is the same client to the guard.
    assert check(Client(), **body).status_code == 429
    assert memory(client, limit=5, window=10).status_code == 429  # every lab endpoint


def test_one_memory_request_costs_a_few_round_trips_whatever_the_limit(client):
    memory(client, limit=5, window=10)  # connections open, scripts known: what follows is steady
    with redis_traffic() as traffic:
        response = memory(client, limit=lab.MAX_LIMIT, window=60, burst=lab.MAX_BURST)
    assert response.status_code == 200
    # lab_request, cache GET, lab_memory, one pipeline filling and measuring, cache SET.
    assert traffic.round_trips <= 5
    assert len(traffic.fills()) == len(ALGORITHMS) * lab.MAX_LIMIT  # the real scripts, run
    assert len(traffic.commands) <= len(ALGORITHMS) * (lab.MAX_LIMIT + 3) + 4


def test_a_memory_request_leaves_no_scratch_key_behind(client):
    assert memory(client, limit=lab.MAX_LIMIT, window=3600).status_code == 200
    names = list(get_redis().scan_iter("*"))
    # What stays: the cached table and the lab policies' own counters, nothing else.
    assert names and all(
        n.startswith(("cache:", "rl:{lab_request:", "rl:{lab_memory:")) for n in names
    )
    assert any(n.startswith("cache:") for n in names)


def test_a_configuration_is_measured_once_for_every_process(client):
    config = {"limit": 300, "window": 60, "burst": None}
    first = memory(client, **config).json()["algorithms"]
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, initializer=hammer.setup) as other:
        rows, round_trips, fills = other.apply(
            table_in_another_process, ({"limit": 300, "window_seconds": 60, "burst": None},)
        )
    assert rows == first
    assert fills == []  # read, not measured again
    assert round_trips == 1  # one cache GET


@pytest.mark.parametrize("limit", [100, lab.MAX_LIMIT])
def test_the_figures_are_what_a_key_filled_by_real_checks_holds(client, limit):
    rows = memory(client, limit=limit, window=60).json()["algorithms"]
    for row in rows:
        # A name as long as the lab's scratch keys': MEMORY USAGE counts the name too.
        algorithm, key = row["algorithm"], f"lab:{uuid.uuid4().hex[:14]}"
        for _ in range(limit):
            check_rate(algorithm=algorithm, key=key, limit=limit, window_seconds=60)
        held = key_memory_bytes(algorithm=algorithm, key=key)
        # Equal up to the allocator's rounding of a number's digits (the token bucket's refill
        # fraction depends on how fast the requests came) and, past 128 entries, the sliding
        # log's skiplist, whose node heights are random.
        assert abs(row["bytes_per_key"] - held) <= max(16, held // 50), (algorithm, held)


def test_measuring_new_configurations_has_its_own_stricter_limit(client, settings):
    settings.RATELIMIT_POLICIES = {
        **settings.RATELIMIT_POLICIES,
        "lab_memory": {
            "algorithm": "token_bucket", "limit": 1, "window": 3600, "burst": 2, "key": "ip",
        },
    }  # fmt: skip
    assert memory(client, limit=10, window=60).status_code == 200
    assert memory(client, limit=11, window=60).status_code == 200
    response = memory(client, limit=12, window=60)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    # A configuration already measured costs no measurement: still answered.
    assert memory(client, limit=10, window=60).status_code == 200
    # Checks are not measurements.
    assert check(client, algorithm="gcra", limit=5, window=10, n=1).status_code == 200


def test_with_redis_down_the_page_renders_and_a_memory_table_is_a_503(client, settings):
    down = "redis://127.0.0.1:1/4"  # nothing listens there: refused at once
    settings.REDIS_URL = down
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": down}}
    response = client.get("/ratelimit/")
    assert response.status_code == 200
    assert "Redis is not answering" in response.content.decode()
    response = memory(client, limit=7, window=10)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "backend_unavailable"


def test_human_bytes_uses_decimal_units():
    assert lab.human_bytes(999) == "999 B"
    assert lab.human_bytes(1_234) == "1.23 KB"
    assert lab.human_bytes(88_000 * 10**9) == "88 TB"
    assert lab.human_bytes(123_456 * 10**12) == "123 PB"
