"""The timeline's REST API through its URLs: status codes, error bodies, ids as strings, cursors.
Real PostgreSQL and Redis; the outbox runs in-process (tests/timeline/helpers.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory
from tests.timeline.helpers import run_outbox
from timeline.models import Follow, Profile, Tweet

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def error(response) -> dict:
    return response.json()["error"]


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    return UserFactory(username="bob")


def test_posting_a_tweet_answers_201_with_string_ids(alice):
    response = signed_in(alice).post("/api/v1/tweets", {"text": "hello"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["text"] == "hello"
    assert isinstance(body["id"], str) and Tweet.objects.filter(id=int(body["id"])).exists()
    assert body["author"] == {"id": str(alice.id), "username": "alice"}
    assert body["reply_to_id"] is None and body["media"] == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "cannot be empty"),
        ("   \n\t ", "cannot be empty"),
        ("a" * 281, "At most 280 characters"),
        ("日本" * 71, "At most 280 characters"),
        ("bell\x07", "Control characters"),
        ("nul\x00byte", "Null characters"),
        ("https://example.com/" + "x" * 4000, "At most 4000 characters"),
    ],
)
def test_a_text_twitter_would_refuse_is_a_400_saying_why(alice, text, says):
    response = signed_in(alice).post("/api/v1/tweets", {"text": text}, format="json")

    assert response.status_code == 400
    assert says in error(response)["message"]
    assert "text" in error(response)["fields"]
    assert not Tweet.objects.exists()


def test_twitters_weighting_lets_a_long_link_and_280_characters_through(alice):
    client = signed_in(alice)
    assert client.post("/api/v1/tweets", {"text": "a" * 280}, format="json").status_code == 201
    link = "see https://example.com/" + "x" * 500  # a link counts 23
    assert client.post("/api/v1/tweets", {"text": link}, format="json").status_code == 201
    composed = "e\u0301" * 280  # NFC makes each pair one character
    response = client.post("/api/v1/tweets", {"text": composed}, format="json")
    assert response.status_code == 201
    assert response.json()["text"] == "\u00e9" * 280


def test_writes_need_a_token_and_unknown_fields_are_refused(alice):
    anonymous = APIClient()
    assert anonymous.post("/api/v1/tweets", {"text": "x"}, format="json").status_code == 401
    assert anonymous.get("/api/v1/timeline/home").status_code == 401
    response = signed_in(alice).post("/api/v1/tweets", {"txt": "x"}, format="json")
    assert response.status_code == 400 and "txt" in error(response)["fields"]


def test_a_reply_must_point_at_a_tweet_and_replies_read_oldest_first(alice, bob):
    client = signed_in(alice)
    parent = client.post("/api/v1/tweets", {"text": "parent"}, format="json").json()["id"]
    missing = client.post("/api/v1/tweets", {"text": "r", "reply_to_id": "123"}, format="json")
    assert missing.status_code == 400 and "reply_to_id" in error(missing)["fields"]
    bad = client.post("/api/v1/tweets", {"text": "r", "reply_to_id": "x1"}, format="json")
    assert bad.status_code == 400

    first = signed_in(bob).post(
        "/api/v1/tweets", {"text": "one", "reply_to_id": parent}, format="json"
    )
    second = client.post("/api/v1/tweets", {"text": "two", "reply_to_id": parent}, format="json")
    replies = APIClient().get(f"/api/v1/tweets/{parent}/replies").json()["results"]

    assert [r["id"] for r in replies] == [first.json()["id"], second.json()["id"]]
    assert replies[0]["reply_to_id"] == parent
    assert APIClient().get("/api/v1/tweets/1/replies").status_code == 404


def test_only_the_author_deletes_and_a_deleted_tweet_is_404(alice, bob):
    tweet = signed_in(alice).post("/api/v1/tweets", {"text": "mine"}, format="json").json()
    url = f"/api/v1/tweets/{tweet['id']}"

    assert APIClient().get(url).json()["text"] == "mine"
    refused = signed_in(bob).delete(url)
    assert refused.status_code == 403 and error(refused)["code"] == "forbidden"
    assert signed_in(alice).delete(url).status_code == 204
    assert APIClient().get(url).status_code == 404
    assert signed_in(alice).delete(url).status_code == 404
    assert Profile.objects.get(user=alice).tweets_count == 0


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999999999999", "%00"])
def test_a_malformed_tweet_id_is_a_400_not_a_500(alice, bad):
    response = APIClient().get(f"/api/v1/tweets/{bad}")
    assert response.status_code == 400
    assert error(response)["fields"] == {"tweet_id": [error(response)["message"].split(": ", 1)[1]]}


def test_follow_is_idempotent_counts_are_exact_and_the_profile_says_who_follows(alice, bob):
    client = signed_in(alice)
    first = client.post("/api/v1/users/bob/follow")
    again = client.post("/api/v1/users/BOB/follow")

    assert first.status_code == again.status_code == 200
    assert again.json()["followers_count"] == 1 and again.json()["following"] is True
    assert Follow.objects.count() == 1
    profile = APIClient().get("/api/v1/users/alice").json()
    assert (profile["following_count"], profile["followers_count"]) == (1, 0)
    assert profile["following"] is False  # anonymous

    assert client.delete("/api/v1/users/bob/follow").json()["following"] is False
    assert client.delete("/api/v1/users/bob/follow").status_code == 200
    assert APIClient().get("/api/v1/users/bob").json()["followers_count"] == 0


def test_following_yourself_is_400_and_an_unknown_user_is_404(alice):
    client = signed_in(alice)
    yourself = client.post("/api/v1/users/alice/follow")
    assert yourself.status_code == 400
    assert error(yourself)["code"] == "cannot_follow_yourself"
    assert client.post("/api/v1/users/nobody/follow").status_code == 404
    assert error(APIClient().get("/api/v1/users/nobody"))["code"] == "not_found"


def test_follower_lists_and_a_users_tweets_page_by_cursor(alice, bob):
    fans = [UserFactory() for _ in range(5)]
    for fan in fans:
        signed_in(fan).post("/api/v1/users/alice/follow")
    for i in range(3):
        signed_in(alice).post("/api/v1/tweets", {"text": f"t{i}"}, format="json")

    first = APIClient().get("/api/v1/users/alice/followers?limit=3").json()
    second = APIClient().get(first["next"]).json()
    names = [u["username"] for u in first["results"] + second["results"]]
    assert names == [f.username for f in reversed(fans)]
    assert second["next"] is None
    following = APIClient().get(f"/api/v1/users/{fans[0].username}/following").json()
    assert [u["username"] for u in following["results"]] == ["alice"]
    tweets = APIClient().get("/api/v1/users/alice/tweets").json()["results"]
    assert [t["text"] for t in tweets] == ["t2", "t1", "t0"]
    assert APIClient().get("/api/v1/users/alice/tweets?cursor=zzz").status_code == 400


def test_the_home_timeline_pages_with_next_and_previous_links(alice, bob):
    signed_in(alice).post("/api/v1/users/bob/follow")
    signed_in(alice).get("/api/v1/timeline/home")  # builds alice's feed
    posted = [
        signed_in(bob).post("/api/v1/tweets", {"text": f"b{i}"}, format="json").json()["id"]
        for i in range(5)
    ]
    run_outbox()
    client = signed_in(alice)

    first = client.get("/api/v1/timeline/home?limit=2")
    assert first["X-Timeline-Source"] == "feed"
    body = first.json()
    assert [t["id"] for t in body["results"]] == posted[::-1][:2]
    second = client.get(body["next"]).json()
    third = client.get(second["next"]).json()
    assert [t["id"] for t in second["results"] + third["results"]] == posted[::-1][2:]
    assert third["next"] is None  # a short page is the end
    newer = client.get(third["previous"]).json()
    assert [t["id"] for t in newer["results"]] == posted[::-1][2:4]  # the 2 just newer


@pytest.mark.parametrize(
    "query", ["max_id=abc", "since_id=-5", "min_id=1e9", "limit=0", "limit=x", "max_id=%00"]
)
def test_bad_home_bounds_are_a_400_naming_the_parameter(alice, query):
    response = signed_in(alice).get(f"/api/v1/timeline/home?{query}")
    assert response.status_code == 400
    assert list(error(response)["fields"]) == [query.split("=")[0]]


def test_a_huge_limit_is_capped_at_100(alice):
    for i in range(3):
        signed_in(alice).post("/api/v1/tweets", {"text": f"t{i}"}, format="json")
    response = signed_in(alice).get("/api/v1/timeline/home?limit=100000000000000000000000")
    assert response.status_code == 200 and len(response.json()["results"]) == 3


TWO = {"algorithm": "token_bucket", "limit": 2, "window": 3600, "burst": 2, "key": "user",
       "methods": ["POST"]}  # fmt: skip


@override_settings(RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES, "tweet_create": TWO})
def test_posting_is_rate_limited_and_a_refused_post_writes_nothing(alice):
    client = signed_in(alice)
    codes = [client.post("/api/v1/tweets", {"text": f"{i}"}, format="json").status_code
             for i in range(3)]  # fmt: skip
    assert codes == [201, 201, 429]
    assert Tweet.objects.count() == 2
    assert client.get("/api/v1/timeline/home").status_code == 200  # reading is not posting


@override_settings(
    RATELIMIT_POLICIES={
        **settings.RATELIMIT_POLICIES,
        "follow": {**TWO, "methods": ["POST", "DELETE"]},
    }
)
def test_following_is_rate_limited(alice, bob):
    client = signed_in(alice)
    codes = [client.post("/api/v1/users/bob/follow").status_code,
             client.delete("/api/v1/users/bob/follow").status_code,
             client.post("/api/v1/users/bob/follow").status_code]  # fmt: skip
    assert codes == [200, 200, 429]


@pytest.mark.parametrize("name", ["a%00b", "a%20b", "x" * 151, "%F0%9F%98%80"])
def test_a_username_that_cannot_exist_is_a_404_not_a_500(alice, name):
    assert APIClient().get(f"/api/v1/users/{name}").status_code == 404
    assert signed_in(alice).post(f"/api/v1/users/{name}/follow").status_code == 404


def test_min_id_wins_over_since_id_as_on_mastodon(alice, bob):
    signed_in(alice).post("/api/v1/users/bob/follow")
    signed_in(alice).get("/api/v1/timeline/home")
    posted = [
        signed_in(bob).post("/api/v1/tweets", {"text": f"b{i}"}, format="json").json()["id"]
        for i in range(5)
    ]
    run_outbox()
    query = f"limit=2&min_id={posted[0]}&since_id={posted[1]}"
    body = signed_in(alice).get(f"/api/v1/timeline/home?{query}").json()
    assert [t["id"] for t in body["results"]] == [posted[3], posted[2]]
