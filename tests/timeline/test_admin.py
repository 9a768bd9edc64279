"""The timeline and the outbox in the admin: pages open, a tweet deleted there is deleted the
service's way (count, feeds, cache), and nothing else can be edited behind the services' back."""

import pytest

from core.models import OutboxEvent
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import ids, run_outbox
from timeline import home, services
from timeline.models import Profile, Tweet

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_timeline_admin_page_opens(admin_client):
    author, fan = UserFactory(username="author"), UserFactory()
    services.follow(follower=fan, username="author")
    tweet = services.post_tweet(author=author, text="hello admin")
    for path in ("tweet", "follow", "profile", "media"):
        assert admin_client.get(f"/admin/timeline/{path}/").status_code == 200
    assert "hello admin" in admin_client.get("/admin/timeline/tweet/?q=author").content.decode()
    assert admin_client.get(f"/admin/timeline/tweet/{tweet.id}/change/").status_code == 200
    assert "timeline.fan_out" in admin_client.get("/admin/core/outboxevent/").content.decode()


def test_a_tweet_deleted_in_the_admin_leaves_counts_feeds_and_cache(admin_client):
    author, fan = UserFactory(username="author"), UserFactory()
    services.follow(follower=fan, username="author")
    home.home_timeline(reader=fan)
    tweet = services.post_tweet(author=author, text="oops")
    run_outbox()
    assert ids(home.home_timeline(reader=fan)) == [str(tweet.id)]

    response = admin_client.post(f"/admin/timeline/tweet/{tweet.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Tweet.objects.exists()
    assert Profile.objects.get(user=author).tweets_count == 0
    assert home.home_timeline(reader=fan).items == []
    assert OutboxEvent.objects.filter(topic="timeline.delete").exists()
    run_outbox()


def test_follows_profiles_and_outbox_rows_cannot_be_edited_or_deleted(admin_client):
    author, fan = UserFactory(username="author"), UserFactory()
    follow = services.follow(follower=fan, username="author")
    assert follow.changed
    edge = author.follower_edges.get()
    event = OutboxEvent.objects.first()
    assert admin_client.post(f"/admin/timeline/follow/{edge.id}/delete/").status_code == 403
    assert admin_client.post(f"/admin/core/outboxevent/{event.id}/delete/").status_code == 403
    assert admin_client.get("/admin/timeline/profile/add/").status_code == 403
