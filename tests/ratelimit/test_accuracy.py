"""Exactness under concurrency, through real Redis: 8 processes (spawned, each with its own
Redis connection) hammer one key, and the admissions are held to each algorithm's bound.

Redis here is on this host, so its TIME and the workers' time.time() read the same clock: a
call's Redis time lies between the worker's `before` and `after` around it.
"""

from __future__ import annotations

import math
import multiprocessing
import time
import uuid

import pytest

from ratelimit.services import check_rate
from tests.ratelimit import hammer

PROCESSES = 8


@pytest.fixture(scope="module")
def pool():
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES, initializer=hammer.setup) as workers:
        # Every worker set up before the first round, so all eight hammer from its first instant
        # (one that is still importing Django would leave its job to another).
        deadline = time.monotonic() + 30
        while len(set(workers.map(hammer.ready, range(PROCESSES), chunksize=1))) < PROCESSES:
            assert time.monotonic() < deadline, "the workers did not start"
        yield workers


def run(pool, *, start_at: float | None = None, duration: float, **job) -> list:
    """Admitted calls (before, after) of one round, sorted by `before`; asserts all 8 ran."""
    job = {
        "key": f"acc:{uuid.uuid4().hex}",
        "start_at": start_at or time.time() + 0.15,
        "duration": duration,
        **job,
    }
    results = pool.map(hammer.hammer, [job] * PROCESSES, chunksize=1)
    assert all(results), "every process made calls"
    calls = [call for result in results for call in result]
    return sorted((before, after) for before, after, admitted in calls if admitted)


def last_after(admitted: list) -> float:
    """The latest `after` of the admitted calls: a bound on the Redis time of every admission.
    (Not the `after` of the last call by `before`: a call preempted after Redis answered it
    ends later than calls that started after it.)"""
    return max(after for _, after in admitted)


def next_boundary(window: float, *, at_least: float = 0.3) -> float:
    """The first window boundary (windows are aligned to the epoch) `at_least` s from now."""
    return math.ceil((time.time() + at_least) / window) * window


@pytest.mark.parametrize("algorithm", ["token_bucket", "gcra"])
def test_token_bucket_and_gcra_never_admit_more_than_burst_plus_refill(pool, algorithm):
    limit, window, burst = 40, 1.0, 10
    admitted = run(pool, algorithm=algorithm, limit=limit, window=window, burst=burst, duration=0.6)
    span = last_after(admitted) - admitted[0][0]  # covers the Redis time of every admission
    bound = burst + math.floor(limit / window * span)
    assert len(admitted) <= bound
    assert len(admitted) >= burst + limit / window * span * 0.8  # and it was saturated


def test_sliding_log_never_admits_more_than_the_limit_in_any_window(pool):
    limit, window = 15, 0.25
    admitted = run(pool, algorithm="sliding_log", limit=limit, window=window, duration=0.6)
    span = last_after(admitted) - admitted[0][0]
    # Any half-open interval of `window` holds at most `limit`: cut the span into such pieces.
    assert len(admitted) <= limit * math.ceil(span / window)
    # Stronger, per admission: the (limit+1)-th admission after one is a whole window later.
    befores, afters = [b for b, _ in admitted], [a for _, a in admitted]
    for i in range(len(admitted) - limit):
        assert afters[i + limit] - befores[i] >= window - 0.002  # 2 ms: ordering by `before`
    assert len(admitted) >= limit * 2  # saturated: 0.6 s is 2.4 windows


def test_fixed_window_lets_twice_the_limit_through_across_a_boundary(pool):
    limit, window = 20, 0.5
    boundary = next_boundary(window)
    admitted = run(
        pool,
        algorithm="fixed_window",
        limit=limit,
        window=window,
        start_at=boundary - window / 4,
        duration=window / 2,
    )
    # The whole limit just before the boundary and again just after: 2 x limit in far less
    # than one window. Each aligned window itself holds exactly `limit`.
    assert len(admitted) == 2 * limit
    assert admitted[-1][1] - admitted[0][0] < window
    assert sum(1 for _, after in admitted if after < boundary) <= limit  # surely window 1


def test_sliding_counter_stays_within_its_documented_bound_across_a_boundary(pool):
    limit, window = 20, 0.5
    boundary = next_boundary(window)
    admitted = run(
        pool,
        algorithm="sliding_counter",
        limit=limit,
        window=window,
        start_at=boundary - window / 2,
        duration=window,
    )
    # docs/ratelimit.md: each aligned window <= limit; in the window after a full one, admissions
    # by fraction f of it <= limit * f (the previous count weighs limit * (1 - f)). So over this
    # one-window span: at most limit + limit * f_end, where f_end ≈ 0.5 here — fixed window
    # admits 2 x limit over the same span (the test above).
    f_end = (last_after(admitted) - boundary) / window
    assert len(admitted) <= limit + math.floor(limit * f_end) + 1
    assert len(admitted) < 2 * limit
    assert sum(1 for _, after in admitted if after < boundary) == limit  # window 1: all of it
    late = sum(1 for before, _ in admitted if before >= boundary)
    assert late <= math.floor(limit * f_end) + 1
    assert late >= limit * 0.3  # and it does admit, at the rate the weight frees up


def test_limits_follow_redis_time_not_the_app_servers_clock(monkeypatch):
    key = f"clock:{uuid.uuid4().hex}"
    for algorithm in ("token_bucket", "sliding_log", "sliding_counter", "fixed_window", "gcra"):
        monkeypatch.setattr(time, "time", lambda: 0.0)  # an app server stuck in 1970
        first = [
            check_rate(algorithm=algorithm, key=key, limit=2, window_seconds=60).allowed
            for _ in range(3)
        ]
        monkeypatch.setattr(time, "time", lambda: 4e9)  # one a century ahead
        later = check_rate(algorithm=algorithm, key=key, limit=2, window_seconds=60)
        monkeypatch.undo()
        assert first == [True, True, False], algorithm
        assert not later.allowed, algorithm  # an app clock past the window frees nothing
        assert 0 < later.retry_after <= 120, algorithm  # sliding counter: up to 2 windows
