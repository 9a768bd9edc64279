"""The timeline under concurrency, against the real PostgreSQL and Redis: threads with a database
connection each (so their transactions really interleave), and the races of the design played
through the real functions in the order that would lose data if the design were wrong."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import override_settings

from core import outbox
from core.models import OutboxEvent
from core.redis import get_redis
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import ids, oracle_ids, run_outbox
from timeline import fanout, feeds, home, selectors, services
from timeline.models import AuthorMode, Follow, Profile

THREADS = 8


def in_threads(work: Callable[[int], object], n: int = THREADS) -> list:
    """Run work(0..n-1) in n threads started together; their results, or the first error."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()  # each thread had a connection of its own

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def read(user, **bounds) -> home.HomePage:
    return home.home_timeline(reader=user, **bounds)


@pytest.mark.django_db(transaction=True)
@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=4)
def test_parallel_follows_and_unfollows_leave_exact_counts_and_modes():
    star, fans = UserFactory(), [UserFactory() for _ in range(THREADS)]

    def churn(i: int) -> None:
        # Each thread follows and unfollows the star and is followed and unfollowed by it (both
        # rows of an edge locked from either side), and follows its neighbour (who follows
        # back from another thread): lock orders that deadlock if taken carelessly.
        rng, me = random.Random(i), fans[i]
        neighbour = fans[(i + 1) % THREADS]
        for _ in range(12):
            action = rng.choice(["follow", "unfollow", "back", "unback", "pair", "unpair"])
            if action == "follow":
                services.follow(follower=me, username=star.username)
            elif action == "unfollow":
                services.unfollow(follower=me, username=star.username)
            elif action == "back":
                services.follow(follower=star, username=me.username)
            elif action == "unback":
                services.unfollow(follower=star, username=me.username)
            elif action == "pair":
                services.follow(follower=me, username=neighbour.username)
            else:
                services.unfollow(follower=me, username=neighbour.username)

    in_threads(churn)

    for user in (star, *fans):
        profile = Profile.objects.get(user=user)
        assert profile.followers_count == Follow.objects.filter(followee=user).count()
        assert profile.following_count == Follow.objects.filter(follower=user).count()
    profile = Profile.objects.get(user=star)
    # Over the threshold: pulled; at or under it: pushed, or draining until the drain runs.
    assert (profile.mode == AuthorMode.PULL) == (profile.followers_count > 4)
    run_outbox()
    profile.refresh_from_db()
    assert profile.mode == (AuthorMode.PULL if profile.followers_count > 4 else AuthorMode.PUSH)


def _reader_with_a_timeline() -> tuple:
    reader, authors = UserFactory(), [UserFactory() for _ in range(3)]
    for author in authors:
        services.follow(follower=reader, username=author.username)
    for i in range(6):
        services.post_tweet(author=authors[i % 3], text=f"t{i}")
    run_outbox()
    return reader, oracle_ids(reader.id)


class RebuildSpy:
    """Counts the rebuilds that begin, per timeline key (feeds.begin_rebuild: the first write of
    every rebuild)."""

    def __init__(self, monkeypatch) -> None:
        self.keys: list[str] = []
        real = feeds.begin_rebuild

        def begin_rebuild(timeline):
            self.keys.append(timeline.key)
            return real(timeline)

        monkeypatch.setattr(feeds, "begin_rebuild", begin_rebuild)


@pytest.mark.django_db(transaction=True)
def test_parallel_reads_of_a_lost_feed_rebuild_it_once_and_all_answer_right(monkeypatch):
    reader, expected = _reader_with_a_timeline()
    spy = RebuildSpy(monkeypatch)
    for _ in range(3):
        get_redis().flushdb()  # the feed is lost
        spy.keys.clear()

        pages = in_threads(lambda i: read(reader, limit=20))

        assert all(ids(page) == expected for page in pages)
        assert spy.keys == [feeds.home(reader.id).key]
        assert sum(page.rebuilt for page in pages) == 1


@pytest.mark.django_db(transaction=True)
def test_readers_who_saw_the_feed_lost_do_not_rebuild_it_again_once_it_is_rebuilt(monkeypatch):
    """All readers see the feed lost before any of them rebuilds (a barrier after each one's
    first read), and the others reach the lock only after the first rebuilder let it go: the
    race in which each would rebuild in turn, wiping the feed each time."""
    reader, expected = _reader_with_a_timeline()
    get_redis().flushdb()
    spy = RebuildSpy(monkeypatch)
    everyone_read = threading.Barrier(THREADS)
    first_done = threading.Event()
    first_claimed = threading.Lock()
    local = threading.local()
    real_read_pages, real_lock, real_unlock = feeds.read_pages, feeds.lock, feeds.unlock

    def read_pages(timelines, bounds):
        pages = real_read_pages(timelines, bounds)
        if not getattr(local, "read", False):
            local.read = True
            everyone_read.wait(timeout=10)
        return pages

    def lock(timeline):
        if first_claimed.acquire(blocking=False):
            local.first = True
        else:
            assert first_done.wait(timeout=10)
        return real_lock(timeline)

    def unlock(timeline, token):
        real_unlock(timeline, token)
        if getattr(local, "first", False):
            first_done.set()

    monkeypatch.setattr(feeds, "read_pages", read_pages)
    monkeypatch.setattr(feeds, "lock", lock)
    monkeypatch.setattr(feeds, "unlock", unlock)

    pages = in_threads(lambda i: read(reader, limit=20))

    assert all(ids(page) == expected for page in pages)
    assert spy.keys == [feeds.home(reader.id).key]
    assert sum(page.rebuilt for page in pages) == 1


@pytest.mark.django_db
def test_a_tweet_delivered_during_a_rebuild_is_kept():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    old = services.post_tweet(author=author, text="old")
    run_outbox()
    timeline = feeds.home(reader.id)

    feeds.begin_rebuild(timeline)  # what home.rebuild does, step by step
    entries = selectors.newest_entries(reader_id=reader.id, limit=800)  # before the delivery
    new = services.post_tweet(author=author, text="delivered while the feed is building")
    run_outbox()  # the fan-out delivers to the building feed
    assert feeds.finish_rebuild(timeline, entries, floor=0)

    assert feeds.timeline_entries(timeline) == [(new.id, author.id), (old.id, author.id)]
    assert ids(read(reader)) == [str(new.id), str(old.id)]


@pytest.mark.django_db
@override_settings(TIMELINE_FEED_SIZE=8)
def test_a_backfill_delivered_during_a_rebuild_keeps_its_floor():
    """A follow's backfill is a window of the followee's posts, exact only above that window's
    floor; it raises the feed's floor. Delivered while the feed is building, the rebuild (which
    read PostgreSQL before the follow) must not lower the floor again: the followee's older
    tweets would be taken as absent, not as missing from the window."""
    followee, reader = UserFactory(), UserFactory()
    tweets = [services.post_tweet(author=followee, text=f"t{i}") for i in range(11)]
    run_outbox()
    timeline = feeds.home(reader.id)

    feeds.begin_rebuild(timeline)
    entries = selectors.newest_entries(reader_id=reader.id, limit=8)  # before the follow: none
    services.follow(follower=reader, username=followee.username)
    run_outbox()  # the backfill: the newest 8 of 11, the floor raised
    assert feeds.finish_rebuild(timeline, entries, floor=0)

    seen, max_id = [], None
    while page := read(reader, max_id=max_id, limit=4).items:
        seen += [item["id"] for item in page]
        max_id = int(page[-1]["id"])
    assert seen == [str(t.id) for t in reversed(tweets)]


@pytest.mark.django_db
def test_a_follow_racing_the_cleanup_of_its_unfollow_keeps_the_backfill(monkeypatch):
    """The cleanup of an unfollow found no follow; before it removed the author's entries, the
    reader followed again and that follow's backfill ran (another worker): the removal must not
    leave the reader following the author without the author's tweets."""
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    tweet = services.post_tweet(author=author, text="still followed")
    run_outbox()
    services.unfollow(follower=reader, username=author.username)
    (unfollow_event,) = _pending(services.UNFOLLOW)
    real_remove_author = feeds.remove_author

    def remove_author(timeline, author_id):
        # Between the cleanup's check and its removal: the follow again, and its backfill.
        monkeypatch.setattr(feeds, "remove_author", real_remove_author)
        services.follow(follower=reader, username=author.username)
        (follow_event,) = _pending(services.FOLLOW)
        fanout.follow_step(follow_event.payload, None)
        follow_event.delete()
        return real_remove_author(timeline, author_id)

    monkeypatch.setattr(feeds, "remove_author", remove_author)
    fanout.unfollow_step(unfollow_event.payload, None)
    unfollow_event.delete()

    assert ids(read(reader)) == oracle_ids(reader.id) == [str(tweet.id)]


def _pending(topic: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(topic=topic))


@pytest.mark.django_db
@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=3, TIMELINE_FANOUT_CHUNK=2)
def test_a_drain_overtaken_by_a_second_pull_period_does_not_end_the_newer_drain():
    """A drain delivers in steps of followers. Half-way, the author goes back over the threshold
    (its new tweets are pulled again) and under it again (a second drain). The first drain must
    not declare the author pushed when it reaches its last follower: its first followers never
    got the tweets of the second pull period."""
    star, fans = UserFactory(), [UserFactory() for _ in range(5)]
    for fan in fans[:4]:
        services.follow(follower=fan, username=star.username)  # 4 > 3: pulled
        read(fan)
    run_outbox()
    first = services.post_tweet(author=star, text="first pull period")
    services.unfollow(follower=fans[3], username=star.username)  # 3: draining
    run_outbox(only=[services.FAN_OUT, services.UNFOLLOW])
    (drain,) = _pending(services.DRAIN)
    assert outbox.relay(drain.id) == "more"  # its first step: the first two followers

    services.follow(follower=fans[4], username=star.username)  # 4: pulled again
    second = services.post_tweet(author=star, text="second pull period")
    run_outbox(only=[services.FAN_OUT, services.FOLLOW])  # pulled: not pushed
    services.unfollow(follower=fans[4], username=star.username)  # 3: a second drain
    run_outbox()  # the rest of the first drain, then the second one

    assert Profile.objects.get(user=star).mode == AuthorMode.PUSH
    for fan in fans[:3]:
        assert ids(read(fan)) == oracle_ids(fan.id) == [str(second.id), str(first.id)]
