"""core.snowflake against the real test Redis (db 14): uniqueness across processes, threads and
forks, the worker-id lease (take, renew, re-take, lose, refuse), clock steps, and the layout."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.redis import get_redis
from core.snowflake import (
    END_MS,
    EPOCH,
    EPOCH_MS,
    MAX_SEQUENCE,
    MAX_WORKER_ID,
    POSTGRES_WORKER_IDS,
    REDIS_WORKER_IDS,
    ClockMovedBackwardsError,
    SnowflakeError,
    SnowflakeGenerator,
    SnowflakeParts,
    WorkerIdUnavailableError,
    decode,
    default_generator,
    encode,
    lease_key,
    next_id,
)

timestamps = st.integers(min_value=EPOCH_MS, max_value=END_MS - 1)
worker_ids = st.integers(min_value=0, max_value=MAX_WORKER_ID)
sequences = st.integers(min_value=0, max_value=MAX_SEQUENCE)
parts = st.builds(SnowflakeParts, timestamp_ms=timestamps, worker_id=worker_ids, sequence=sequences)


class FakeClock:
    """A wall clock that only moves when told to, or when the generator sleeps on it."""

    def __init__(self) -> None:
        self.us = time.time_ns() // 1_000  # microseconds: sleeps of 0.1 ms add up exactly
        self.slept: list[float] = []

    def now(self) -> int:
        return self.us // 1_000

    def step(self, ms: int) -> None:
        self.us += ms * 1_000

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.us += round(seconds * 1_000_000)


@pytest.fixture
def make_generator() -> Iterator[Callable[..., SnowflakeGenerator]]:
    """Generators on the test Redis; each is closed (lease released, thread stopped) after."""
    made: list[SnowflakeGenerator] = []

    def make(**kwargs: object) -> SnowflakeGenerator:
        kwargs.setdefault("redis_client", get_redis())
        kwargs.setdefault("lease_seconds", 30)
        generator = SnowflakeGenerator(**kwargs)
        made.append(generator)
        return generator

    yield make
    for generator in made:
        generator.close()


def _strictly_increasing(ids: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(ids))


def _no_retry_client() -> redis.Redis:
    # redis-py retries a failed connection 10 times with backoff by default (~4 s): the point
    # here is what the generator does when Redis does not answer, not how long redis-py tries.
    return redis.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, retry=Retry(NoBackoff(), 0)
    )


def _point_at_port(client: redis.Redis, port: int) -> None:
    """Make `client` talk to `port` from its next command on (1: nothing listens: Redis down)."""
    client.connection_pool.connection_kwargs["port"] = port
    client.connection_pool.reset()  # drop pooled connections so the next one dials `port`


# --- Layout ------------------------------------------------------------------------------------


def test_epoch_constant_is_2025_01_01_utc_in_unix_ms():
    assert datetime(2025, 1, 1, tzinfo=UTC) == EPOCH
    assert int(EPOCH.timestamp() * 1000) == EPOCH_MS


def test_largest_id_fits_a_signed_bigint():
    largest = encode(timestamp_ms=END_MS - 1, worker_id=MAX_WORKER_ID, sequence=MAX_SEQUENCE)
    assert largest == 2**63 - 1


@given(parts)
def test_decode_inverts_encode(p):
    assert (
        decode(encode(timestamp_ms=p.timestamp_ms, worker_id=p.worker_id, sequence=p.sequence)) == p
    )


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_encode_inverts_decode_for_every_63_bit_integer(snowflake_id):
    p = decode(snowflake_id)
    assert encode(timestamp_ms=p.timestamp_ms, worker_id=p.worker_id, sequence=p.sequence) == (
        snowflake_id
    )


@given(parts, parts)
def test_ids_sort_by_timestamp_then_worker_then_sequence(a, b):
    def as_id(p: SnowflakeParts) -> int:
        return encode(timestamp_ms=p.timestamp_ms, worker_id=p.worker_id, sequence=p.sequence)

    key_a = (a.timestamp_ms, a.worker_id, a.sequence)
    key_b = (b.timestamp_ms, b.worker_id, b.sequence)
    assert (as_id(a) < as_id(b)) == (key_a < key_b)


def test_created_at_is_the_exact_utc_millisecond():
    p = decode(encode(timestamp_ms=EPOCH_MS + 1_234, worker_id=7, sequence=9))
    assert p.created_at == datetime(2025, 1, 1, 0, 0, 1, 234_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp_ms", EPOCH_MS - 1),
        ("timestamp_ms", END_MS),
        ("timestamp_ms", 0),
        ("worker_id", -1),
        ("worker_id", MAX_WORKER_ID + 1),
        ("sequence", -1),
        ("sequence", MAX_SEQUENCE + 1),
    ],
)
def test_encode_rejects_out_of_range_fields(field, value):
    fields = {"timestamp_ms": EPOCH_MS, "worker_id": 0, "sequence": 0, field: value}
    with pytest.raises(ValueError, match=field):
        encode(**fields)


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)))
def test_decode_rejects_integers_outside_63_bits(snowflake_id):
    with pytest.raises(ValueError, match="not a Snowflake ID"):
        decode(snowflake_id)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lease_seconds": 0},
        {"lease_seconds": -1},
        {"lease_seconds": 10, "safety_margin_seconds": 10},
        {"lease_seconds": 10, "safety_margin_seconds": -1},
        {"max_backwards_ms": -1},
    ],
)
def test_generator_rejects_a_nonsensical_configuration(kwargs):
    with pytest.raises(ValueError):
        SnowflakeGenerator(**kwargs)


def test_errors_are_503_application_errors():
    assert WorkerIdUnavailableError("x").status_code == 503
    assert ClockMovedBackwardsError("x").status_code == 503
    assert ClockMovedBackwardsError("x").code == "clock_moved_backwards"


# --- Uniqueness --------------------------------------------------------------------------------


def _issue_ids_in_fresh_process(redis_url: str, count: int, barrier: Any, results: Any) -> None:
    """Body of a spawned process: a fresh interpreter that leases its own worker id the way
    production code does (module-level next_id() on settings.REDIS_URL)."""
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    assert redis_url == settings.REDIS_URL  # never lease (or leak a lease) in a dev database
    first = next_id()  # leases
    worker_id = decode(first).worker_id
    token = get_redis().get(lease_key(worker_id=worker_id))
    barrier.wait(timeout=60)  # every process holds its lease at once before issuing the rest
    ids = [first] + [next_id() for _ in range(count - 1)]
    results.put((worker_id, token, ids))


def test_eight_spawned_processes_issue_400000_ids_without_a_duplicate():
    processes, per_process = 8, 50_000
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_issue_ids_in_fresh_process,
            args=(settings.REDIS_URL, per_process, barrier, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=60) for _ in range(processes)]
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * processes

    all_ids = [i for _, _, ids in outcomes for i in ids]
    assert len(all_ids) == processes * per_process
    assert len(set(all_ids)) == len(all_ids)
    assert len({worker_id for worker_id, _, _ in outcomes}) == processes
    r = get_redis()
    for worker_id, token, ids in outcomes:
        assert _strictly_increasing(ids)
        assert {decode(i).worker_id for i in ids} == {worker_id}
        assert token is not None
        assert r.get(lease_key(worker_id=worker_id)) != token  # released at exit (atexit)


def test_threads_sharing_one_generator_get_unique_increasing_ids(make_generator):
    generator = make_generator()
    per_thread: dict[int, list[int]] = {}

    def issue(n: int) -> None:
        per_thread[n] = [generator.next_id() for _ in range(20_000)]

    threads = [threading.Thread(target=issue, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_ids = [i for ids in per_thread.values() for i in ids]
    assert len(set(all_ids)) == len(all_ids) == 8 * 20_000
    assert all(_strictly_increasing(ids) for ids in per_thread.values())


def test_forked_child_leases_its_own_worker_id_and_never_collides_with_the_parent():
    # The autouse fixture flushed Redis, so make sure this process's lease key exists again
    # (otherwise the child could legitimately be handed the same, now unleased, id).
    default_generator().renew_lease()
    parent_ids = [next_id() for _ in range(1_000)]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child must never return into pytest
        code = 1
        try:
            os.close(read_fd)
            child_ids = [next_id() for _ in range(20_000)]
            with os.fdopen(write_fd, "w") as pipe:
                json.dump(child_ids, pipe)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write_fd)
    parent_ids += [next_id() for _ in range(20_000)]  # concurrently with the child
    with os.fdopen(read_fd) as pipe:
        child_ids = json.load(pipe)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    parent_workers = {decode(i).worker_id for i in parent_ids}
    child_workers = {decode(i).worker_id for i in child_ids}
    assert len(parent_workers) == len(child_workers) == 1
    assert parent_workers != child_workers
    assert not set(parent_ids) & set(child_ids)
    assert _strictly_increasing(parent_ids)
    assert _strictly_increasing(child_ids)


# --- Lease -------------------------------------------------------------------------------------


def test_live_generators_never_share_a_worker_id(make_generator):
    generators = [make_generator() for _ in range(64)]
    with ThreadPoolExecutor(max_workers=16) as pool:  # racing for ids at the same moment
        list(pool.map(lambda g: g.next_id(), generators))
    assert len({g.worker_id for g in generators}) == 64


def test_the_last_free_worker_id_is_found_and_then_a_full_house_is_refused(make_generator):
    r = get_redis()
    free = 317
    with r.pipeline(transaction=False) as pipe:
        for worker_id in REDIS_WORKER_IDS:
            if worker_id != free:
                pipe.set(lease_key(worker_id=worker_id), "someone-else", px=30_000)
        pipe.execute()
    first = make_generator()
    assert decode(first.next_id()).worker_id == free
    with pytest.raises(WorkerIdUnavailableError, match="All 512"):
        make_generator(postgres_fallback=False).next_id()


def test_a_vanished_lease_is_retaken_with_the_same_worker_id(make_generator):
    r = get_redis()
    generator = make_generator()
    before = generator.next_id()
    worker_id = generator.worker_id
    r.flushdb()  # Redis restarted without persistence
    generator.renew_lease()
    assert r.exists(lease_key(worker_id=worker_id))
    assert generator.worker_id == worker_id
    after = generator.next_id()
    assert after > before
    assert decode(after).worker_id == worker_id


def test_a_lease_taken_by_another_token_makes_the_generator_switch_ids(make_generator):
    r = get_redis()
    generator = make_generator()
    before = [generator.next_id() for _ in range(100)]
    old = generator.worker_id
    r.set(lease_key(worker_id=old), "intruder", px=30_000)
    generator.renew_lease()
    assert generator.worker_id not in (old, None)
    after = [generator.next_id() for _ in range(100)]
    assert {decode(i).worker_id for i in after} == {generator.worker_id}
    assert _strictly_increasing(before + after)  # even if the new worker id is smaller
    assert r.get(lease_key(worker_id=old)) == "intruder"  # theirs now: left alone


def test_switching_to_a_smaller_worker_id_within_one_millisecond_keeps_ids_increasing(
    make_generator,
):
    r = get_redis()
    high, low = 500, 3
    with r.pipeline(transaction=False) as pipe:
        for worker_id in REDIS_WORKER_IDS:
            if worker_id != high:
                pipe.set(lease_key(worker_id=worker_id), "someone-else", px=30_000)
        pipe.execute()
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=clock.sleep)
    before = generator.next_id()
    assert generator.worker_id == high
    r.delete(lease_key(worker_id=low))  # the only free id, and a smaller one
    r.set(lease_key(worker_id=high), "intruder", px=30_000)
    generator.renew_lease()
    assert generator.worker_id == low
    after = generator.next_id()  # the clock has not moved: same millisecond
    assert after > before
    assert decode(after).timestamp_ms == decode(before).timestamp_ms + 1


def test_renewal_thread_keeps_a_short_lease_alive(make_generator):
    r = get_redis()
    generator = make_generator(lease_seconds=0.3)
    generator.next_id()
    worker_id = generator.worker_id
    time.sleep(1.0)  # more than three lease lengths
    assert r.pttl(lease_key(worker_id=worker_id)) > 0
    assert decode(generator.next_id()).worker_id == worker_id


def test_renewal_thread_notices_a_takeover(make_generator):
    r = get_redis()
    generator = make_generator(lease_seconds=0.3)
    generator.next_id()
    old = generator.worker_id
    r.set(lease_key(worker_id=old), "intruder", px=30_000)
    time.sleep(0.5)  # renewal runs every 0.1 s
    assert generator.worker_id not in (old, None)
    assert decode(generator.next_id()).worker_id == generator.worker_id


def test_no_id_without_ever_reaching_redis():
    client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    generator = SnowflakeGenerator(redis_client=client, lease_seconds=30, postgres_fallback=False)
    with pytest.raises(WorkerIdUnavailableError, match="Redis"):
        generator.next_id()
    with pytest.raises(WorkerIdUnavailableError):  # again, fast: within the retry interval
        generator.next_id()
    assert generator.worker_id is None


def test_redis_unreachable_refuses_ids_once_the_lease_expires_and_recovers_after(make_generator):
    client = _no_retry_client()
    generator = make_generator(redis_client=client, lease_seconds=0.3, postgres_fallback=False)
    before = generator.next_id()
    _point_at_port(client, 1)
    during = generator.next_id()  # the lease is still valid by our own clock
    time.sleep(0.35)  # past ttl: any renewal since has failed
    with pytest.raises(WorkerIdUnavailableError):
        generator.next_id()

    _point_at_port(client, get_redis().connection_pool.connection_kwargs["port"])
    deadline = time.monotonic() + 5
    while True:
        try:
            after = generator.next_id()
            break
        except WorkerIdUnavailableError:
            assert time.monotonic() < deadline, "no recovery after Redis came back"
            time.sleep(0.02)
    assert before < during < after


def _pg_lease(worker_id: int) -> tuple | None:
    from django.db import connections

    with psycopg.connect(**connections["default"].get_connection_params()) as pg:
        return pg.execute(
            "SELECT token, expires_at > clock_timestamp() FROM core_worker_lease"
            " WHERE worker_id = %s",
            (worker_id,),
        ).fetchone()


@pytest.mark.django_db
def test_with_redis_down_the_worker_id_is_leased_from_postgresql_in_its_own_range():
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    first = SnowflakeGenerator(redis_client=dead, lease_seconds=30)
    second = SnowflakeGenerator(redis_client=dead, lease_seconds=30)
    try:
        ids = [first.next_id() for _ in range(1000)] + [second.next_id() for _ in range(1000)]

        assert first.worker_id in POSTGRES_WORKER_IDS and second.worker_id in POSTGRES_WORKER_IDS
        assert first.worker_id != second.worker_id
        assert len(set(ids)) == 2000
        assert _strictly_increasing(ids[:1000]) and _strictly_increasing(ids[1000:])
        assert _pg_lease(first.worker_id) == (first._token, True)
        first.renew_lease()  # renewal goes to the store that granted the lease
        assert decode(first.next_id()).worker_id == first.worker_id
    finally:
        first.close()
        second.close()
    assert _pg_lease(first.worker_id) is None  # released


@pytest.mark.django_db
def test_a_postgresql_lease_taken_over_makes_the_generator_switch_ids():
    from django.db import connections

    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    generator = SnowflakeGenerator(redis_client=dead, lease_seconds=30)
    try:
        generator.next_id()
        old = generator.worker_id
        with psycopg.connect(
            **connections["default"].get_connection_params(), autocommit=True
        ) as pg:
            pg.execute(
                "UPDATE core_worker_lease SET token = 'intruder' WHERE worker_id = %s", (old,)
            )
        generator.renew_lease()
        assert generator.worker_id not in (old, None)
        assert _pg_lease(old)[0] == "intruder"  # theirs now: left alone
    finally:
        generator.close()


def test_close_releases_our_lease_and_never_someone_elses(make_generator):
    r = get_redis()
    generator = make_generator()
    generator.next_id()
    key = lease_key(worker_id=generator.worker_id)
    generator.close()
    assert not r.exists(key)
    assert generator.worker_id is None

    generator.next_id()  # leases again
    key = lease_key(worker_id=generator.worker_id)
    r.set(key, "intruder")
    generator.close()
    assert r.get(key) == "intruder"


# --- Clock -------------------------------------------------------------------------------------


@pytest.mark.parametrize("step_ms", [1, 3, 5])
def test_small_backwards_step_is_waited_out_and_ids_still_increase(make_generator, step_ms):
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=clock.sleep)
    before = [generator.next_id() for _ in range(3)]
    clock.step(-step_ms)
    after = [generator.next_id() for _ in range(3)]
    assert clock.slept == [step_ms / 1000]
    assert _strictly_increasing(before + after)
    assert decode(after[0]).timestamp_ms == decode(before[-1]).timestamp_ms  # continued the ms


def test_large_backwards_step_is_refused_until_the_clock_catches_up(make_generator):
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=clock.sleep)
    before = generator.next_id()
    clock.step(-6)
    with pytest.raises(ClockMovedBackwardsError, match="6 ms"):
        generator.next_id()
    clock.step(-10_000)  # stays refused, however far back
    with pytest.raises(ClockMovedBackwardsError):
        generator.next_id()
    assert clock.slept == []
    clock.step(10_007)
    assert generator.next_id() > before


def test_tolerated_backwards_step_is_configurable(make_generator):
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=clock.sleep, max_backwards_ms=0)
    generator.next_id()
    clock.step(-1)
    with pytest.raises(ClockMovedBackwardsError):
        generator.next_id()


def test_more_than_4096_ids_in_one_millisecond_roll_into_the_next(make_generator):
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=clock.sleep)
    start = clock.now()
    ids = [generator.next_id() for _ in range(3 * 4096 + 10)]
    assert len(set(ids)) == len(ids)
    assert _strictly_increasing(ids)
    fields = [decode(i) for i in ids]
    assert [p.sequence for p in fields[:4096]] == list(range(4096))
    assert {p.timestamp_ms for p in fields[:4096]} == {start}
    assert (fields[4096].timestamp_ms, fields[4096].sequence) == (start + 1, 0)
    assert fields[-1].timestamp_ms == start + 3


def test_a_clock_that_stops_is_refused_instead_of_hanging(make_generator):
    clock = FakeClock()
    generator = make_generator(clock_ms=clock.now, sleep=lambda seconds: None)
    for _ in range(MAX_SEQUENCE + 1):
        generator.next_id()
    with pytest.raises(ClockMovedBackwardsError, match="has not passed"):
        generator.next_id()


def test_a_clock_before_the_epoch_is_refused(make_generator):
    generator = make_generator(clock_ms=lambda: EPOCH_MS - 1)
    with pytest.raises(SnowflakeError, match="outside the Snowflake range"):
        generator.next_id()


def test_real_ids_carry_the_current_time():
    before = time.time_ns() // 1_000_000
    snowflake_id = next_id()
    after = time.time_ns() // 1_000_000
    assert before <= decode(snowflake_id).timestamp_ms <= after
