"""timeline/demo.py: the seed's follow graph with one celebrity, through the real services and
the outbox, idempotent, and true to the threshold in force. Real PostgreSQL and Redis."""

from __future__ import annotations

from io import StringIO

import pytest

from accounts import demo as accounts_demo
from accounts.models import User
from core.models import OutboxEvent
from tests.timeline.helpers import ids, oracle_ids, run_outbox
from timeline import demo, feeds, services
from timeline.home import home_timeline
from timeline.models import AuthorMode, Follow, Profile, Tweet

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    accounts_demo.seed(stdout=out)
    demo.seed(stdout=out)
    return out.getvalue()


@pytest.fixture
def demo_threshold(settings):
    settings.TIMELINE_CELEBRITY_FOLLOWERS = demo.DEMO_CELEBRITY_FOLLOWERS  # what `make run` sets


def user(name: str) -> User:
    return User.objects.get(username=name)


def test_the_demo_has_one_celebrity_and_alices_home_shows_both_paths(demo_threshold):
    output = seed()
    tweets = Tweet.objects.count()

    assert OutboxEvent.objects.filter(topic=services.FAN_OUT).count() == tweets  # real fan-outs
    run_outbox()
    newsroom = Profile.objects.get(user__username="newsroom")
    assert newsroom.followers_count == 7
    assert newsroom.mode == AuthorMode.PULL
    pulled = Profile.objects.exclude(mode=AuthorMode.PUSH)
    assert list(pulled.values_list("user__username", flat=True)) == ["newsroom"]
    assert "@newsroom has 7 followers, over the threshold of 5: a celebrity" in output

    alice = user("alice")
    pushed = {author for _, author in feeds.timeline_entries(feeds.home(alice.id))}
    assert user("bob").id in pushed  # fanned out into her feed
    assert newsroom.user_id not in pushed  # pulled: never in her feed
    page = home_timeline(reader=alice)
    assert page.merged == 1
    assert ids(page) == oracle_ids(alice.id, limit=20)
    authors = {item["author"]["username"] for item in page.items}
    assert authors == {"alice", "bob", "carol", "newsroom"}
    reply = Tweet.objects.get(author__username="carol", reply_to_id__isnull=False)
    assert Tweet.objects.get(id=reply.reply_to_id).author.username == "alice"


def test_seeding_again_changes_nothing(demo_threshold):
    seed()
    follows, tweets = Follow.objects.count(), Tweet.objects.count()
    profiles = Profile.objects.order_by("user_id").values_list("followers_count", "mode")
    counts = list(profiles)

    again = seed()

    assert (Follow.objects.count(), Tweet.objects.count()) == (follows, tweets)
    assert list(profiles.all()) == counts
    assert "posted" not in again
    assert "demo follows made" not in again
    assert "created @" not in again


def test_under_the_default_threshold_the_same_graph_is_all_push_and_the_seed_says_so():
    output = seed()

    assert not Profile.objects.exclude(mode=AuthorMode.PUSH).exists()
    assert "not over the threshold of 10000" in output
    assert "`make run` sets it to 5" in output


def test_a_threshold_lowered_after_a_seed_makes_newsroom_a_celebrity_through_the_services(settings):
    seed()  # the default: newsroom pushed
    run_outbox()
    settings.TIMELINE_CELEBRITY_FOLLOWERS = 5

    output = seed()
    run_outbox()

    newsroom = Profile.objects.get(user__username="newsroom")
    assert (newsroom.mode, newsroom.followers_count) == (AuthorMode.PULL, 7)
    assert "re-followed to apply the threshold of 5" in output
    alice = user("alice")
    assert ids(home_timeline(reader=alice, limit=50)) == oracle_ids(alice.id, limit=50)


def test_the_follower_only_accounts_cannot_sign_in_with_a_known_password():
    seed()

    for name in (*demo.DEMO_FOLLOWER_ONLY, demo.DEMO_CELEBRITY):
        account = user(name)
        assert not account.check_password(accounts_demo.DEMO_PASSWORD)
        assert not account.is_staff
