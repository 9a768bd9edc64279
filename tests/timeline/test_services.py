"""The timeline's rules, through the services and the home read, against real PostgreSQL and
Redis; the outbox's handlers run in-process (tests/timeline/test_worker.py runs them on a real
worker)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from core.redis import get_redis
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import ids, oracle_ids, run_outbox
from timeline import feeds, home, services
from timeline.errors import CannotFollowYourselfError
from timeline.models import AuthorMode, Profile

pytestmark = pytest.mark.django_db


def read(user, **bounds):
    return home.home_timeline(reader=user, **bounds)


def test_a_tweet_reaches_every_follower_and_the_author_newest_first():
    author, a, b = UserFactory(), UserFactory(), UserFactory()
    services.follow(follower=a, username=author.username)
    services.follow(follower=b, username=author.username)
    read(a), read(b)  # their feeds exist (built on first read)
    first = services.post_tweet(author=author, text="first")
    second = services.post_tweet(author=author, text="second")
    run_outbox()

    for reader in (author, a, b):
        page = read(reader)
        assert ids(page) == [str(second.id), str(first.id)]
        assert page.source == "feed"
    assert page.items[0]["author"] == {"id": str(author.id), "username": author.username}


def test_following_yourself_is_refused_and_following_twice_changes_nothing():
    user, other = UserFactory(), UserFactory()
    with pytest.raises(CannotFollowYourselfError):
        services.follow(follower=user, username=user.username)
    assert services.follow(follower=user, username=other.username).changed
    assert not services.follow(follower=user, username=other.username.upper()).changed
    assert Profile.objects.get(user=other).followers_count == 1
    assert not services.unfollow(follower=other, username=user.username).changed


def test_a_lost_feed_is_rebuilt_on_the_first_read_and_that_read_is_already_right():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    tweets = [services.post_tweet(author=author, text=f"t{i}") for i in range(5)]
    run_outbox()
    get_redis().flushdb()

    page = read(reader)

    assert ids(page) == [str(t.id) for t in reversed(tweets)]
    assert page.rebuilt
    assert read(reader).source == "feed"


def test_a_delivery_to_a_lost_feed_does_not_make_a_feed_of_one_entry():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    old = services.post_tweet(author=author, text="old")
    run_outbox()
    read(reader)
    get_redis().flushdb()  # Redis restarted empty
    new = services.post_tweet(author=author, text="new")
    run_outbox()  # delivers to a feed that is gone: refused (-1), not created

    assert ids(read(reader)) == [str(new.id), str(old.id)]


def test_a_hole_punched_into_a_feed_is_detected_and_the_read_is_still_right():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    tweets = [services.post_tweet(author=author, text=f"t{i}") for i in range(6)]
    run_outbox()
    get_redis().zrem(feeds.home(reader.id).key, feeds.member(tweets[2].id, author.id))

    page = read(reader)

    assert ids(page) == [str(t.id) for t in reversed(tweets)]
    assert page.rebuilt


def test_unfollow_removes_the_authors_entries_and_never_the_readers_own():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    theirs = services.post_tweet(author=author, text="theirs")
    mine = services.post_tweet(author=reader, text="mine")
    run_outbox()
    assert ids(read(reader)) == [str(mine.id), str(theirs.id)]

    services.unfollow(follower=reader, username=author.username)
    assert ids(read(reader)) == [str(mine.id)]  # hidden at once, before the cleanup ran
    run_outbox()
    assert feeds.timeline_entries(feeds.home(reader.id)) == [(mine.id, reader.id)]


def test_follow_backfills_the_followees_recent_tweets():
    author, reader = UserFactory(), UserFactory()
    read(reader)
    tweets = [services.post_tweet(author=author, text=f"t{i}") for i in range(3)]
    run_outbox()
    services.follow(follower=reader, username=author.username)
    run_outbox()

    page = read(reader)
    assert ids(page) == [str(t.id) for t in reversed(tweets)]
    assert page.source == "feed"


def test_a_deleted_tweet_never_appears_even_before_its_removal_ran():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    keep = services.post_tweet(author=author, text="keep")
    gone = services.post_tweet(author=author, text="gone")
    run_outbox()
    services.delete_tweet(user=author, tweet_id=gone.id)

    assert ids(read(reader)) == [str(keep.id)]
    run_outbox()
    assert feeds.timeline_entries(feeds.home(reader.id)) == [(keep.id, author.id)]


@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=2)
def test_a_celebrity_is_not_fanned_out_and_is_merged_at_read_time():
    star, fans = UserFactory(), [UserFactory() for _ in range(3)]
    for fan in fans:
        read(fan)
        services.follow(follower=fan, username=star.username)
    assert Profile.objects.get(user=star).mode == AuthorMode.PULL
    run_outbox()
    tweet = services.post_tweet(author=star, text="to millions")
    own = services.post_tweet(author=fans[0], text="mine")
    run_outbox()

    assert feeds.timeline_entries(feeds.home(fans[1].id)) == []  # not pushed
    page = read(fans[0])
    assert ids(page) == [str(own.id), str(tweet.id)]
    assert page.merged == 1


@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=2)
def test_crossing_the_threshold_both_ways_keeps_every_timeline_exact():
    star, fans = UserFactory(), [UserFactory() for _ in range(4)]
    services.follow(follower=fans[0], username=star.username)
    for fan in fans:
        read(fan)
    before = services.post_tweet(author=star, text="pushed")
    run_outbox()
    services.follow(follower=fans[1], username=star.username)
    services.follow(follower=fans[2], username=star.username)  # 3 > 2: pulled
    run_outbox()
    during = services.post_tweet(author=star, text="pulled")
    run_outbox()
    for fan in fans[:3]:
        assert ids(read(fan)) == oracle_ids(fan.id) == [str(during.id), str(before.id)]

    services.unfollow(follower=fans[2], username=star.username)  # 2: pushed again (draining)
    assert Profile.objects.get(user=star).mode == AuthorMode.DRAINING
    for fan in fans[:2]:
        assert ids(read(fan)) == oracle_ids(fan.id)
    run_outbox()
    assert Profile.objects.get(user=star).mode == AuthorMode.PUSH
    after = services.post_tweet(author=star, text="pushed again")
    run_outbox()
    for fan in fans:
        page = read(fan)
        assert ids(page) == oracle_ids(fan.id)
    assert ids(read(fans[1])) == [str(after.id), str(during.id), str(before.id)]
    assert read(fans[1]).merged == 0


@override_settings(TIMELINE_FEED_SIZE=5)
def test_pages_older_than_the_window_come_from_postgresql_without_a_gap():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    tweets = [services.post_tweet(author=author, text=f"t{i}") for i in range(12)]
    run_outbox()
    assert len(feeds.timeline_entries(feeds.home(reader.id))) == 5

    seen, max_id = [], None
    while True:
        page = read(reader, max_id=max_id, limit=3)
        if not page.items:
            break
        seen += ids(page)
        max_id = int(page.items[-1]["id"])
    assert seen == [str(t.id) for t in reversed(tweets)]


def test_since_id_and_min_id_follow_mastodons_semantics():
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    read(reader)
    t = [services.post_tweet(author=author, text=f"t{i}") for i in range(6)]
    run_outbox()
    newest_first = [str(x.id) for x in reversed(t)]

    assert ids(read(reader, since_id=t[1].id, limit=2)) == newest_first[:2]
    assert ids(read(reader, min_id=t[1].id, limit=2)) == [str(t[3].id), str(t[2].id)]
    assert ids(read(reader, max_id=t[4].id, since_id=t[1].id)) == [str(t[3].id), str(t[2].id)]


def test_redis_down_serves_the_pull_model_and_posting_still_works(settings):
    author, reader = UserFactory(), UserFactory()
    services.follow(follower=reader, username=author.username)
    first = services.post_tweet(author=author, text="before")
    run_outbox()
    settings.REDIS_URL = "redis://127.0.0.1:1/2"  # nobody listens

    second = services.post_tweet(author=author, text="during")
    page = read(reader)
    assert ids(page) == [str(second.id), str(first.id)]
    assert page.source == "sql"


def test_the_read_right_after_a_follow_already_shows_the_followee_without_the_queue(
    django_capture_on_commit_callbacks,
):
    author, reader = UserFactory(), UserFactory()
    read(reader)
    tweets = [services.post_tweet(author=author, text=f"t{i}") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        services.follow(follower=reader, username=author.username)
    # No run_outbox(): the follow's own backfill ran after its commit.

    page = read(reader)
    assert ids(page) == [str(t.id) for t in reversed(tweets)]
    assert page.source == "feed"
