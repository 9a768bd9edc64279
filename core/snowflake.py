"""64-bit Snowflake IDs: unique across processes with no database round trip, ordered by time.

Layout (most significant bit first)::

    0 | 41 bits: ms since EPOCH (2025-01-01T00:00:00Z) | 10 bits: worker id | 12 bits: sequence

The top bit stays 0, so every ID fits PostgreSQL's signed BIGINT; 41 bits of milliseconds last
until 2094-09-07. Within one process IDs strictly increase; across processes they are ordered
by millisecond (then by worker id), which is what cursor pagination and feed scores need.

Worker id lease. Two live processes must never share a worker id, so each process leases one
from Redis on its first `next_id()`: `SET snowflake:worker:<id> <token> NX PX <ttl>`, starting at
a random id and trying each in turn (random start: after a restart, processes do not all fight
over id 0). The token is random per process, so only the holder can renew or release. A daemon
thread renews every ttl/3 with a Lua compare-and-PEXPIRE. If the key has vanished (Redis flushed
or restarted) the same script re-takes it; if another token holds it, the generator stops using
that id at once and leases a fresh one. The generator never issues an ID unless its lease is
valid by its *own* monotonic clock: the deadline is the moment just before the last successful
SET/renew was sent, plus ttl, minus a safety margin (ttl/10 by default). The margin absorbs the
rate difference between our clock and Redis's, and wall-clock skew between hosts: whoever takes
the id after our key expires issues timestamps later than any of ours unless its clock is
behind ours by more than the margin. Past the deadline, `next_id()` renews synchronously; if
that store cannot be reached it raises `WorkerIdUnavailableError` (a process without a lease
first tries PostgreSQL, below) -- refusing is always better than risking a duplicate key.
The lease is released (compare-and-DEL) at interpreter exit.
Known window: if Redis loses our key (FLUSHDB, restart without persistence) and another process
leases the same id before our next renewal (at most ttl/3 later), both issue with that id for
that window. A new process starts at a random id, so this needs a 1-in-512 draw (the Redis
range) during a Redis data loss; we accept it rather than pay a Redis round trip per ID.

Redis down. Creating things must not stop when Redis does, so a process that cannot reach Redis
leases its worker id from PostgreSQL instead (table core_worker_lease: an INSERT … ON CONFLICT
that only takes an expired row, renewed and released the same way, over a connection of its own
in autocommit, so no caller's transaction can roll a lease back). The two stores lease disjoint
ranges (Redis 0-511, PostgreSQL 512-1023), so they can never hand one id to two live
processes. A process keeps the store that granted its lease until it loses it.

Fork safety. gunicorn and Celery prefork import the app, then fork. `os.register_at_fork` resets
every generator in the child: a fresh token, no worker id, no renewal thread (threads do not
survive fork), fresh locks (the parent's could have been held mid-fork). The child leases its own
id on its first `next_id()`, so it can never issue with the parent's id.

Clock. IDs use the wall clock (`time.time_ns()`), because the timestamp must mean something
outside this process (created_at, cross-process ordering). If the wall clock steps backwards
by at most `max_backwards_ms` (5 ms: NTP corrections, VM migrations) we sleep it out under the
lock and carry on from the last issued millisecond; beyond that we raise
`ClockMovedBackwardsError` until the clock catches up. We never emit a duplicate or a smaller
ID. If 4096 IDs are issued in one millisecond, we wait for the next millisecond.

Short links do not use these IDs as codes. A Snowflake in base62 is 10-11 characters, and
consecutive links would have near-consecutive codes, so anyone could enumerate everybody's
links. Short codes are 7 random base62 characters (`core.base62.random_code`, 62**7 ≈ 3.5e12)
checked for uniqueness by the database; the Snowflake stays the primary key.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import monotonic, time_ns

import psycopg
import redis
from django.conf import settings
from redis.exceptions import RedisError

from core.errors import ApplicationError
from core.redis import get_redis

logger = logging.getLogger(__name__)

# --- Layout -------------------------------------------------------------------------------------
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
"""The custom epoch: timestamp bits count milliseconds since 2025-01-01T00:00:00Z."""
EPOCH_MS = 1_735_689_600_000  # EPOCH as unix milliseconds (a test checks the two agree)

TIMESTAMP_BITS = 41
WORKER_ID_BITS = 10
SEQUENCE_BITS = 12

MAX_WORKER_ID = (1 << WORKER_ID_BITS) - 1  # 1023
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1  # 4095
WORKER_ID_SHIFT = SEQUENCE_BITS
TIMESTAMP_SHIFT = SEQUENCE_BITS + WORKER_ID_BITS
END_MS = EPOCH_MS + (1 << TIMESTAMP_BITS)  # first unix ms that no longer fits (2094-09-07)
MAX_ID = (1 << (TIMESTAMP_BITS + TIMESTAMP_SHIFT)) - 1  # 2**63 - 1: PostgreSQL's BIGINT max

# --- Lease --------------------------------------------------------------------------------------
LEASE_KEY_PREFIX = "snowflake:worker:"
REDIS_WORKER_IDS = range(0, 512)  # leased in Redis, the normal store
POSTGRES_WORKER_IDS = range(512, MAX_WORKER_ID + 1)  # leased in PostgreSQL while Redis is down

# Take a random free (missing or expired) id of the PostgreSQL range. Two processes may pick the
# same free id: ON CONFLICT … WHERE expired lets exactly one of them have it (the other gets no
# row and tries again).
_PG_ACQUIRE_SQL = """
INSERT INTO core_worker_lease (worker_id, token, expires_at)
SELECT g, %(token)s, clock_timestamp() + %(ttl_ms)s * interval '1 millisecond'
FROM generate_series(%(first)s, %(last)s) AS g
WHERE NOT EXISTS (
    SELECT 1 FROM core_worker_lease l WHERE l.worker_id = g AND l.expires_at > clock_timestamp()
)
ORDER BY random() LIMIT 1
ON CONFLICT (worker_id) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
WHERE core_worker_lease.expires_at <= clock_timestamp()
RETURNING worker_id
"""
# Renew our lease, or re-take our id if it expired and nobody took it since; no row = lost.
_PG_RENEW_SQL = """
INSERT INTO core_worker_lease (worker_id, token, expires_at)
VALUES (%(worker_id)s, %(token)s, clock_timestamp() + %(ttl_ms)s * interval '1 millisecond')
ON CONFLICT (worker_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE core_worker_lease.token = EXCLUDED.token OR core_worker_lease.expires_at <= clock_timestamp()
RETURNING worker_id
"""
_PG_RELEASE_SQL = "DELETE FROM core_worker_lease WHERE worker_id = %s AND token = %s"

# Renew only our own lease; re-take it if it vanished (Redis flushed or restarted); report a
# takeover. One script so "check then act" is atomic. Returns 1 renewed, 2 re-taken, 0 lost.
_RENEW_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""
_RENEWED, _RETAKEN, _LOST = 1, 2, 0

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# How long the overflow/backwards wait may last in total before we call the clock broken: a
# wall clock that stops advancing must not hang every caller forever under the lock.
_MAX_CLOCK_WAIT_SECONDS = 1.0
# Sequence exhausted: poll the clock at this interval until the next millisecond. Sleeping (not
# a busy loop) lets other Python threads run; at most ~1 ms is lost, and only after 4096 IDs.
_SPIN_SECONDS = 0.0001


class SnowflakeError(ApplicationError):
    """The generator cannot issue an ID right now (503). Transient: retry later."""

    status_code, code = 503, "id_unavailable"


class WorkerIdUnavailableError(SnowflakeError):
    """No valid worker-id lease: Redis (and PostgreSQL) unreachable past the lease deadline, or
    every id taken."""


class ClockMovedBackwardsError(SnowflakeError):
    """The wall clock is behind the last issued millisecond by more than the tolerated step."""

    code = "clock_moved_backwards"


@dataclass(frozen=True, slots=True)
class SnowflakeParts:
    """The three fields of an ID; `timestamp_ms` is absolute unix ms (not epoch-relative)."""

    timestamp_ms: int
    worker_id: int
    sequence: int

    @property
    def created_at(self) -> datetime:
        """The timestamp as an aware UTC datetime, exact to the millisecond."""
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=self.timestamp_ms)


def encode(*, timestamp_ms: int, worker_id: int, sequence: int) -> int:
    """Pack fields into an ID. Raises ValueError for any field outside its range
    (timestamp in [EPOCH_MS, END_MS), worker id in [0, 1023], sequence in [0, 4095])."""
    if not EPOCH_MS <= timestamp_ms < END_MS:
        raise ValueError(
            f"timestamp_ms {timestamp_ms} is outside [{EPOCH_MS}, {END_MS}) "
            "(2025-01-01T00:00:00Z to 2094-09-07)"
        )
    if not 0 <= worker_id <= MAX_WORKER_ID:
        raise ValueError(f"worker_id {worker_id} is outside [0, {MAX_WORKER_ID}]")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence {sequence} is outside [0, {MAX_SEQUENCE}]")
    return (
        ((timestamp_ms - EPOCH_MS) << TIMESTAMP_SHIFT) | (worker_id << WORKER_ID_SHIFT) | sequence
    )


def decode(snowflake_id: int, /) -> SnowflakeParts:
    """Split an ID into its fields. Raises ValueError unless 0 <= snowflake_id < 2**63.
    Every such integer decodes (and re-encodes to itself); it need not have been issued."""
    if not 0 <= snowflake_id <= MAX_ID:
        raise ValueError(f"{snowflake_id} is not a Snowflake ID (must be in [0, 2**63))")
    return SnowflakeParts(
        timestamp_ms=(snowflake_id >> TIMESTAMP_SHIFT) + EPOCH_MS,
        worker_id=(snowflake_id >> WORKER_ID_SHIFT) & MAX_WORKER_ID,
        sequence=snowflake_id & MAX_SEQUENCE,
    )


def lease_key(*, worker_id: int) -> str:
    """The Redis key that holds the lease on `worker_id`."""
    return f"{LEASE_KEY_PREFIX}{worker_id}"


def _wall_clock_ms() -> int:
    return time_ns() // 1_000_000


# Every live generator, so the fork hook and atexit can reach them without keeping them alive.
_generators: weakref.WeakSet[SnowflakeGenerator] = weakref.WeakSet()


class SnowflakeGenerator:
    """Issues unique, strictly increasing IDs for one process. Thread-safe.

    Production code uses the module-level `next_id()`; tests build their own generators with an
    explicit Redis client, a short lease, and an injectable clock (`clock_ms` returns unix ms,
    `sleep` waits seconds; a fake pair makes clock steps deterministic).
    """

    def __init__(
        self,
        *,
        redis_client: redis.Redis | None = None,
        lease_seconds: float | None = None,
        safety_margin_seconds: float | None = None,
        max_backwards_ms: int = 5,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        sleep: Callable[[float], None] = time.sleep,
        postgres_fallback: bool = True,
    ) -> None:
        """`redis_client` defaults to `core.redis.get_redis()` and `lease_seconds` to
        settings.SNOWFLAKE_LEASE_SECONDS, both read lazily on first use. With
        `postgres_fallback`, a Redis that fails makes the generator lease from PostgreSQL (the
        default database) instead. Raises ValueError for a non-positive lease or a margin that
        leaves no usable lease time."""
        self._redis_client = redis_client
        self._postgres_fallback = postgres_fallback
        self._safety_margin_seconds = safety_margin_seconds
        self._lease_seconds: float | None = None
        self._usable_seconds = 0.0  # lease minus safety margin: how long a lease is trusted
        if lease_seconds is not None:
            self._configure_lease(lease_seconds)
        if max_backwards_ms < 0:
            raise ValueError("max_backwards_ms must be >= 0")
        self._max_backwards_ms = max_backwards_ms
        self._clock_ms = clock_ms
        self._sleep = sleep

        # Issuing state, guarded by _lock. EPOCH_MS - 1 makes the first millisecond "new".
        self._last_ms = EPOCH_MS - 1
        self._sequence = 0
        self._reset_lease_state()
        _generators.add(self)

    def _reset_lease_state(self) -> None:
        """Forget every lease: used at construction and in a forked child."""
        self._lock = threading.Lock()  # issuing state + the lease fields the hot path reads
        # Serialises lease I/O (acquire/renew/release); taken before _lock, never while holding it.
        self._lease_lock = threading.Lock()
        self._token = secrets.token_hex(16)
        self._worker_id: int | None = None
        self._store: str | None = None  # "redis" or "postgres": who granted the lease
        # Our own connection for PostgreSQL leases. After a fork it belongs to the parent: drop
        # the reference without closing (closing would end the parent's session).
        self._pg: psycopg.Connection | None = None
        self._worker_bits = 0
        self._lease_deadline = float("-inf")  # monotonic; no ID is issued at or after it
        self._retry_not_before = float("-inf")  # monotonic; fail fast until then after an error
        self._last_error: str | None = None
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    # --- Issuing (hot path) ----------------------------------------------------------------------

    def next_id(self) -> int:
        """A new ID, greater than every ID this generator issued before.

        Raises WorkerIdUnavailableError if no valid lease can be held (Redis unreachable past
        the lease deadline, or every id taken), ClockMovedBackwardsError if the wall clock
        is more than `max_backwards_ms` behind the last issued millisecond. Takes this
        generator's lock; may sleep up to a few ms under it (clock step, sequence overflow).
        """
        while True:
            with self._lock:
                if monotonic() < self._lease_deadline:
                    now = self._clock_ms()
                    last = self._last_ms
                    if last < now < END_MS:
                        sequence = 0
                    elif now == last and self._sequence < MAX_SEQUENCE:
                        sequence = self._sequence + 1
                    else:
                        # Overflow, clock step, or out of range: wait (or raise), then start
                        # over so the lease deadline is checked again after the wait.
                        self._wait_for_clock(now)
                        continue
                    self._last_ms = now
                    self._sequence = sequence
                    return ((now - EPOCH_MS) << TIMESTAMP_SHIFT) | self._worker_bits | sequence
            self._refresh_lease(force=False)

    def _wait_for_clock(self, now: int) -> None:
        """With _lock held: return once the clock allows the next ID, or raise. Never issues."""
        if not EPOCH_MS <= now < END_MS:
            raise SnowflakeError(
                f"The wall clock reads {now} ms, outside the Snowflake range "
                f"[{EPOCH_MS}, {END_MS}): fix the system clock."
            )
        give_up = monotonic() + _MAX_CLOCK_WAIT_SECONDS
        last = self._last_ms
        while True:
            behind = last - now
            if behind > self._max_backwards_ms:
                raise ClockMovedBackwardsError(
                    f"The wall clock moved backwards by {behind} ms (tolerated: "
                    f"{self._max_backwards_ms} ms); refusing to issue IDs until it catches up."
                )
            if behind < 0 or (behind == 0 and self._sequence < MAX_SEQUENCE):
                return
            if monotonic() >= give_up:
                raise ClockMovedBackwardsError(
                    f"The wall clock has not passed {last} ms for {_MAX_CLOCK_WAIT_SECONDS} s."
                )
            # Behind by a small step: sleep it out. Level (sequence exhausted): next ms.
            self._sleep(behind / 1000 if behind else _SPIN_SECONDS)
            now = self._clock_ms()

    # --- Lease ----------------------------------------------------------------------------------

    @property
    def worker_id(self) -> int | None:
        """The leased worker id, or None before the first ID / after close() or a fork."""
        return self._worker_id

    def renew_lease(self) -> None:
        """Renew (or re-take, or replace) the lease now; what the renewal thread does every
        ttl/3. Raises WorkerIdUnavailableError if Redis fails or every id is taken."""
        self._refresh_lease(force=True)

    def close(self) -> None:
        """Stop renewing and release the lease if we still hold it. Best effort: a Redis
        error is logged, and the lease then simply expires after its TTL. A later next_id()
        leases again."""
        self._stop.set()
        renewer = self._renewer
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=2.0)
        with self._lease_lock:
            with self._lock:
                worker_id, self._worker_id = self._worker_id, None
                self._lease_deadline = float("-inf")
            self._renewer = None
            self._stop = threading.Event()
            if worker_id is None:
                return
            try:
                if self._store == "postgres":
                    self._pg_execute(_PG_RELEASE_SQL, (worker_id, self._token))
                    self._close_pg()
                else:
                    self._redis().eval(_RELEASE_LUA, 1, lease_key(worker_id=worker_id), self._token)
            except (RedisError, psycopg.Error) as exc:
                logger.warning("snowflake: could not release worker id %s: %s", worker_id, exc)

    def _refresh_lease(self, *, force: bool) -> None:
        """Make sure we hold a valid lease, or raise WorkerIdUnavailableError.

        Single flight: concurrent callers queue on _lease_lock and, unless `force`, return as
        soon as someone else succeeded, or raise at once if the last attempt failed less than
        a retry interval ago (so a dead Redis costs one caller a timeout, not every caller).
        """
        with self._lease_lock:
            if not force:
                now = monotonic()
                if now < self._lease_deadline:
                    return
                if now < self._retry_not_before:
                    raise WorkerIdUnavailableError(
                        f"No valid Snowflake worker-id lease: {self._last_error}"
                    )
            try:
                if self._worker_id is None:
                    self._acquire()
                else:
                    self._renew()
            except (RedisError, psycopg.Error, WorkerIdUnavailableError) as exc:
                self._last_error = str(exc)
                self._retry_not_before = monotonic() + self._retry_seconds()
                if isinstance(exc, WorkerIdUnavailableError):
                    raise
                store = "PostgreSQL" if isinstance(exc, psycopg.Error) else "Redis"
                raise WorkerIdUnavailableError(
                    f"No valid Snowflake worker-id lease: {store} failed: {exc}"
                ) from exc
            self._retry_not_before = float("-inf")

    def _renew(self) -> None:
        """With _lease_lock held and a worker id: extend, re-take, or replace the lease."""
        if self._store == "postgres":
            self._renew_postgres()
            return
        worker_id = self._worker_id
        assert worker_id is not None
        started = monotonic()  # before sending: the key's TTL starts no earlier than this
        outcome = self._redis().eval(
            _RENEW_LUA, 1, lease_key(worker_id=worker_id), self._token, self._ttl_ms()
        )
        if outcome == _LOST:
            # Someone else holds our id (our key vanished and they took it): every further ID
            # with it could collide with theirs. Stop issuing now, then lease another id.
            logger.warning("snowflake: worker id %s taken over by another process", worker_id)
            with self._lock:
                self._lease_deadline = float("-inf")
                self._worker_id = None
            self._acquire()
            return
        if outcome == _RETAKEN:
            logger.warning("snowflake: lease on worker id %s had vanished; re-took it", worker_id)
        with self._lock:
            self._lease_deadline = started + self._usable_lease_seconds()
        self._last_error = None

    def _acquire(self) -> None:
        """With _lease_lock held: lease a free worker id from Redis or, when Redis fails and
        the fallback is on, from PostgreSQL. Raises WorkerIdUnavailableError if every id is
        taken, RedisError / psycopg.Error if the store(s) fail."""
        try:
            self._acquire_redis()
        except RedisError as exc:
            if not self._postgres_fallback:
                raise
            logger.warning("snowflake: Redis failed (%s); leasing from PostgreSQL", exc)
            self._acquire_postgres()

    def _acquire_redis(self) -> None:
        client = self._redis()
        key_ttl_ms = self._ttl_ms()
        ids = REDIS_WORKER_IDS
        start = secrets.randbelow(len(ids))
        for offset in range(len(ids)):
            worker_id = ids[(start + offset) % len(ids)]
            started = monotonic()
            if client.set(lease_key(worker_id=worker_id), self._token, nx=True, px=key_ttl_ms):
                self._granted(worker_id, started=started, store="redis")
                return
        raise WorkerIdUnavailableError(
            f"All {len(ids)} Snowflake worker ids of Redis are leased; "
            "too many live processes share this Redis."
        )

    def _acquire_postgres(self) -> None:
        ids = POSTGRES_WORKER_IDS
        for _attempt in range(5):  # a lost race for one free id is retried with another
            started = monotonic()
            row = self._pg_execute(
                _PG_ACQUIRE_SQL,
                {"token": self._token, "ttl_ms": self._ttl_ms(), "first": ids[0], "last": ids[-1]},
            )
            if row is not None:
                self._granted(row[0], started=started, store="postgres")
                return
        raise WorkerIdUnavailableError(
            f"All {len(ids)} Snowflake worker ids of PostgreSQL are leased."
        )

    def _renew_postgres(self) -> None:
        worker_id = self._worker_id
        assert worker_id is not None
        started = monotonic()
        row = self._pg_execute(
            _PG_RENEW_SQL, {"worker_id": worker_id, "token": self._token, "ttl_ms": self._ttl_ms()}
        )
        if row is None:  # taken over (our lease expired and someone else has the id now)
            logger.warning("snowflake: worker id %s taken over in PostgreSQL", worker_id)
            with self._lock:
                self._lease_deadline = float("-inf")
                self._worker_id = None
            self._acquire()
            return
        with self._lock:
            self._lease_deadline = started + self._usable_lease_seconds()
        self._last_error = None

    def _granted(self, worker_id: int, *, started: float, store: str) -> None:
        with self._lock:
            self._worker_id = worker_id
            self._worker_bits = worker_id << WORKER_ID_SHIFT
            # The new id may be smaller than the last one (takeover, fork, close): finish the
            # current millisecond first so IDs keep strictly increasing.
            self._sequence = MAX_SEQUENCE
            self._lease_deadline = started + self._usable_lease_seconds()
        self._store = store
        self._last_error = None
        self._start_renewer()
        logger.info(
            "snowflake: leased worker id %s from %s (pid %s)", worker_id, store, os.getpid()
        )

    def _pg_execute(self, sql: str, params: object) -> tuple | None:
        """Run one statement on our own autocommit connection; the first row, or None."""
        if self._pg is None or self._pg.closed:
            from django.db import connections

            params_ = connections["default"].get_connection_params()
            self._pg = psycopg.connect(**params_, autocommit=True)
        try:
            with self._pg.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone() if cursor.description else None
        except psycopg.OperationalError:
            self._close_pg()  # a broken connection: reconnect next time
            raise

    def _close_pg(self) -> None:
        pg, self._pg = self._pg, None
        if pg is not None:
            with contextlib.suppress(psycopg.Error):
                pg.close()

    def _start_renewer(self) -> None:
        if self._renewer is not None and self._renewer.is_alive():
            return
        # The thread holds only a weak reference, so a dropped generator can be collected
        # (its thread then exits at its next wake-up).
        self._renewer = threading.Thread(
            target=_renew_forever,
            args=(weakref.ref(self), self._stop, self._renew_interval(), self._retry_seconds()),
            name="snowflake-lease",
            daemon=True,
        )
        self._renewer.start()

    def _after_fork_in_child(self) -> None:
        # _last_ms/_sequence are kept (a torn pair is harmless: the child's first lease forces
        # a new millisecond, and its worker id differs from the parent's anyway).
        self._reset_lease_state()

    # --- Configuration --------------------------------------------------------------------------

    def _redis(self) -> redis.Redis:
        if self._redis_client is None:
            self._redis_client = get_redis()
        return self._redis_client

    def _configure_lease(self, lease_seconds: float) -> None:
        margin = self._safety_margin_seconds
        if margin is None:
            margin = lease_seconds / 10
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be > 0")
        if not 0 <= margin < lease_seconds:
            raise ValueError("safety_margin_seconds must be in [0, lease_seconds)")
        self._lease_seconds = lease_seconds
        self._usable_seconds = lease_seconds - margin

    def _lease(self) -> float:
        if self._lease_seconds is None:
            self._configure_lease(float(getattr(settings, "SNOWFLAKE_LEASE_SECONDS", 60)))
            assert self._lease_seconds is not None
        return self._lease_seconds

    def _ttl_ms(self) -> int:
        return max(1, round(self._lease() * 1000))

    def _usable_lease_seconds(self) -> float:
        self._lease()
        return self._usable_seconds

    def _renew_interval(self) -> float:
        return self._lease() / 3

    def _retry_seconds(self) -> float:
        # After a failed renewal, try again soon: two or three attempts fit before the deadline.
        return min(1.0, self._renew_interval() / 4)


def _renew_forever(
    ref: weakref.ref[SnowflakeGenerator], stop: threading.Event, interval: float, retry: float
) -> None:
    """Body of the renewal thread: renew every `interval`, or every `retry` after a failure."""
    wait = interval
    while not stop.wait(wait):
        generator = ref()
        if generator is None:
            return
        try:
            generator.renew_lease()
            wait = interval
        except WorkerIdUnavailableError as exc:
            logger.warning("snowflake: lease renewal failed, retrying in %.2f s: %s", retry, exc)
            wait = retry
        except Exception:  # a bug must not silently kill renewal: log it and keep trying
            logger.exception("snowflake: unexpected error renewing the lease")
            wait = retry
        del generator


# --- Process-wide generator --------------------------------------------------------------------

_default: SnowflakeGenerator | None = None
_default_lock = threading.Lock()


def default_generator() -> SnowflakeGenerator:
    """The process-wide generator behind `next_id()`, created on first use (lease on first ID)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SnowflakeGenerator()
        return _default


def next_id() -> int:
    """A new ID from this process's generator (see SnowflakeGenerator.next_id for guarantees
    and errors). The first call leases a worker id from Redis (settings.REDIS_URL)."""
    generator = _default
    if generator is None:
        generator = default_generator()
    return generator.next_id()


def _reset_after_fork() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    for generator in list(_generators):
        generator._after_fork_in_child()


def _release_at_exit() -> None:
    for generator in list(_generators):
        try:
            generator.close()
        except Exception:  # best effort at exit: an unreleased lease just expires
            logger.debug("snowflake: release at exit failed", exc_info=True)


os.register_at_fork(after_in_child=_reset_after_fork)
atexit.register(_release_at_exit)
