"""The fan-out survives what kills it (issue #13, "Proof"): a worker process SIGKILLed in the
middle of a fan-out to 3,000 followers, a Redis flushed, a broker that cannot be reached when
the tweet is posted. Real PostgreSQL, Redis, broker and worker processes."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from accounts.usernames import username_skeleton
from core import outbox
from core.models import OutboxEvent
from core.redis import get_redis
from core.scripts import run_many
from core.snowflake import next_id
from tests.accounts.factories import UserFactory
from tests.servers import _server_env
from tests.timeline.helpers import (
    ROOT,
    FanoutWorker,
    fanout_only_to,
    ids,
    oracle_ids,
    run_outbox,
    wait_for_outbox,
)
from timeline import feeds, home, services
from timeline.models import Follow, Profile

FOLLOWERS = 3000  # three steps of TIMELINE_FANOUT_CHUNK (1000)


def _followers_with_feeds(author: User, n: int) -> list[int]:
    """`n` followers of `author`, each with a ready (empty) home feed, made in bulk."""
    names = [f"f{author.id}-{i}" for i in range(n)]
    users = User.objects.bulk_create(
        [User(username=name, username_skeleton=username_skeleton(name)) for name in names]
    )
    now = timezone.now()
    services.ensure_profiles(author.id)
    Profile.objects.bulk_create([Profile(user_id=u.id, last_active_at=now) for u in users])
    Follow.objects.bulk_create([Follow(id=next_id(), follower=u, followee=author) for u in users])
    Profile.objects.filter(user=author).update(followers_count=n)
    timelines = [feeds.home(u.id) for u in users]
    run_many([(feeds.REBUILD, t.keys, ["begin", 60]) for t in timelines])
    run_many([(feeds.REBUILD, t.keys, ["fill", 800, feeds.ZERO, 3600]) for t in timelines])
    return sorted(u.id for u in users)


def _holding(sql: str, *params) -> psycopg.Connection:
    """A connection of the test's own, in a transaction that holds the lock `sql` takes."""
    db = connection.settings_dict
    conn = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"],
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
    )  # fmt: skip
    conn.execute(sql, params or None)
    return conn


def _wait_until_the_worker_waits_on(table: str, worker: FanoutWorker) -> int:
    """Until a session of the test database waits for a lock, in a statement on `table`; the
    pid of its server process."""
    deadline = time.monotonic() + 30
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            for pid, query in cursor.fetchall():
                if table in query:
                    return pid
        assert worker.alive(), "the worker died"
        assert time.monotonic() < deadline, f"the worker never waited on {table}"
        time.sleep(0.01)


def _delivered(tweet_id: int, author_id: int, follower_ids: list[int]) -> list[int]:
    pipe = get_redis().pipeline(transaction=False)
    for follower_id in follower_ids:
        pipe.zscore(feeds.home(follower_id).key, feeds.member(tweet_id, author_id))
    return [f for f, score in zip(follower_ids, pipe.execute(), strict=True) if score is not None]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_fan_out_leaves_every_follower_the_tweet_once_after_a_restart():
    author = UserFactory()
    followers = _followers_with_feeds(author, FOLLOWERS)
    with fanout_only_to():
        tweet = services.post_tweet(author=author, text="to 3,000 followers")  # not consumed yet
        event = OutboxEvent.objects.get()
        # Hold the worker at chosen points with locks it must wait for, so that it is killed
        # where the kill does most harm: a page delivered, its progress not saved yet.
        locks: list[psycopg.Connection] = []
        worker = FanoutWorker()
        try:
            locks.append(follows := _holding("LOCK TABLE timeline_follow IN ACCESS EXCLUSIVE MODE"))
            worker.start(wait=False)  # it takes the event at once, and waits for the lock
            _wait_until_the_worker_waits_on("timeline_follow", worker)  # step 1, at its page
            locks.append(tweets := _holding("LOCK TABLE timeline_tweet IN ACCESS EXCLUSIVE MODE"))
            follows.rollback()  # step 1 delivers its page, saves its progress; step 2 starts
            _wait_until_the_worker_waits_on("timeline_tweet", worker)
            locks.append(row := _holding(
                "SELECT 1 FROM core_outbox_event WHERE id = %s FOR UPDATE", event.id))  # fmt: skip
            tweets.rollback()  # step 2 delivers its page, then waits to save its progress
            session = _wait_until_the_worker_waits_on("core_outbox_event", worker)

            assert OutboxEvent.objects.get().state == {"after": followers[999], "delivered": 1000}
            assert _delivered(tweet.id, author.id, followers) == followers[:2000]
            worker.kill()
            # Its database session dies with it (else the statement it was waiting in would
            # still run, saving the progress, once the lock goes: PostgreSQL notices a lost
            # client only when it answers).
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [session])
            row.rollback()
        finally:
            worker.stop()
            for conn in locks:
                conn.close()

        # The dead relay's lease holds the event: the sweep leaves it alone until it runs out.
        OutboxEvent.objects.update(due_at=timezone.now() - timedelta(seconds=1))
        assert outbox.sweep() == 0
        assert OutboxEvent.objects.get().locked_until > timezone.now()
        restarted = FanoutWorker().start()
        try:
            OutboxEvent.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
            assert outbox.sweep() == 1  # the lease ran out (outbox.LEASE, fast-forwarded)
            wait_for_outbox(restarted)
        finally:
            restarted.stop()

    assert _delivered(tweet.id, author.id, followers) == followers
    pipe = get_redis().pipeline(transaction=False)
    for follower_id in followers:
        pipe.zcard(feeds.home(follower_id).key)
        pipe.hget(feeds.home(follower_id).meta_key, "count")
    replies = pipe.execute()
    assert set(replies[0::2]) == {1} and set(replies[1::2]) == {"1"}  # one entry each, counted once
    assert feeds.fan_out_stats()["lags"][0]["followers"] == FOLLOWERS  # no page counted twice


@pytest.mark.django_db
@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=3, TIMELINE_FEED_SIZE=8)
def test_after_redis_is_flushed_every_timeline_is_right_on_its_next_read():
    users = [UserFactory() for _ in range(10)]
    star = users[0]
    for i, user in enumerate(users[1:], start=1):
        services.follow(follower=user, username=star.username)  # over 3: a celebrity
        services.follow(follower=user, username=users[i % 9 + 1].username)
    for i in range(30):
        services.post_tweet(author=users[i % 10], text=f"t{i}")
    run_outbox()
    for user in users:
        home.home_timeline(reader=user)
    pending = services.post_tweet(author=users[1], text="its fan-out runs after the flush")

    get_redis().flushdb()  # FLUSHALL of the test's own Redis db (others share the server)
    run_outbox()  # delivers to feeds that are gone: refused, not created

    for user in users:
        page = home.home_timeline(reader=user, limit=100)
        assert ids(page) == oracle_ids(user.id)
        assert page.rebuilt
    assert str(pending.id) in ids(home.home_timeline(reader=users[9]))  # follows users[1]
    for user in users:  # and page by page, from the rebuilt windows and PostgreSQL below them
        seen, max_id = [], None
        while page := home.home_timeline(reader=user, max_id=max_id, limit=4).items:
            seen += [item["id"] for item in page]
            max_id = int(page[-1]["id"])
        assert seen == oracle_ids(user.id)


@pytest.mark.django_db(transaction=True)
def test_a_tweet_posted_while_the_broker_is_unreachable_is_delivered_by_the_sweep():
    author, follower = UserFactory(), UserFactory()
    with fanout_only_to():
        services.follow(follower=follower, username=author.username)
        home.home_timeline(reader=follower)  # the follower's feed exists
        # The web process that posts cannot reach the broker (nor the result store, the same
        # Redis in production): the commit stands, the kick is lost.
        unreachable = "redis://127.0.0.1:1/7"
        script = (
            "import django; django.setup()\n"
            "from accounts.models import User\n"
            "from timeline import services\n"
            f"author = User.objects.get(pk={author.id})\n"
            "import time; started = time.monotonic()\n"
            "tweet = services.post_tweet(author=author, text='while the broker is down')\n"
            "print(tweet.id, time.monotonic() - started)\n"
        )
        env = {"DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_BROKER_URL": unreachable,
               "CELERY_RESULT_BACKEND": unreachable}  # fmt: skip
        web = subprocess.Popen(
            [sys.executable, "-c", script], cwd=ROOT, env=_server_env(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        worker = FanoutWorker().start()  # meanwhile
        try:
            out, err = web.communicate(timeout=120)
            assert web.returncode == 0, err
            tweet_id, took = int(out.split()[-2]), float(out.split()[-1])
            assert "could not enqueue" in err
            # redis-py's retries of a refused connection (some 6 s, the kick's alone), not the
            # result store's 20 s of reconnecting as well.
            assert took < 12, f"posting took {took:.1f} s with the broker down"

            (event,) = OutboxEvent.objects.filter(topic=services.FAN_OUT)
            time.sleep(0.3)  # were there a kick, the worker would have taken it by now
            assert OutboxEvent.objects.get(id=event.id).attempts == 0
            assert (tweet_id, author.id) not in feeds.timeline_entries(feeds.home(follower.id))

            # The broker is back (this process reaches it): the sweep kicks the event once its
            # grace for the lost kick is over (fast-forwarded here).
            deadline = time.monotonic() + 30
            while OutboxEvent.objects.exclude(id=event.id).exists():  # the follow's backfill
                assert time.monotonic() < deadline
                time.sleep(0.02)
            OutboxEvent.objects.filter(id=event.id).update(due_at=timezone.now())
            assert outbox.sweep() == 1
            wait_for_outbox(worker)
        finally:
            worker.stop()

    assert feeds.timeline_entries(feeds.home(follower.id)) == [(tweet_id, author.id)]
