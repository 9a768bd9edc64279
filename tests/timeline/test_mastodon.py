"""The Mastodon client API subset (/mastodon/api/, timeline/mastodon/): Mastodon.py from PyPI as
the client against a live server, and the error cases through DRF's APIClient. Real PostgreSQL
and Redis; the outbox runs in-process (tests/timeline/helpers.py), except in the last test,
where a real Celery worker delivers."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError
from rest_framework.test import APIClient

from accounts.services import issue_token
from core.snowflake import next_id
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import oracle_ids, run_outbox
from timeline import services
from timeline.mastodon.entities import content_html
from timeline.models import Follow, Media, MediaStatus, Profile, Tweet

BASE = "/mastodon/api/v1"


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=user)}")
    return client


def client_of(live_server, user, **kwargs) -> Mastodon:
    return Mastodon(
        access_token=issue_token(user=user),
        api_base_url=live_server.url + "/mastodon",
        version_check_mode=kwargs.pop("version_check_mode", "none"),
        ratelimit_method="throw",
        request_timeout=30,
        **kwargs,
    )


def ids_of(statuses) -> list[str]:
    return [str(s.id) for s in statuses]


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    return UserFactory(username="bob")


# --- Mastodon.py against a live server ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_mastodon_py_signs_in_posts_follows_pages_the_home_timeline_and_unfollows(live_server):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    as_alice, as_bob = client_of(live_server, alice), client_of(live_server, bob)

    me = as_alice.account_verify_credentials()
    assert (str(me.id), me.username, me.acct) == (str(alice.id), "alice", "alice")
    found = as_alice.account_lookup("bob")
    assert str(found.id) == str(bob.id)

    relationship = as_alice.account_follow(found.id)
    assert relationship.following is True and relationship.followed_by is False
    assert as_bob.account(bob.id).followers_count == 1
    run_outbox()

    mine = as_alice.status_post("<b>alice</b> & co")
    assert mine.content == "<p>&lt;b&gt;alice&lt;/b&gt; &amp; co</p>"
    posted = [str(as_bob.status_post(f"bob {i}").id) for i in range(5)]
    reply = as_alice.status_post("a reply", in_reply_to_id=posted[1])
    assert str(reply.in_reply_to_id) == posted[1]
    assert str(reply.in_reply_to_account_id) == str(bob.id)
    run_outbox()

    expected = oracle_ids(alice.id)
    assert len(expected) == 7 and set(posted) <= set(expected)
    pages = [as_alice.timeline_home(limit=2)]
    while (page := as_alice.fetch_next(pages[-1])) is not None:
        pages.append(page)
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [i for p in pages for i in ids_of(p)] == expected
    assert ids_of(as_alice.fetch_previous(pages[-1])) == expected[4:6]  # the 2 just newer
    assert pages[0][0].account.username == "alice" and str(pages[0][0].id) == str(reply.id)

    deleted = as_bob.status_delete(posted[2])
    assert deleted.text == "bob 2"
    with pytest.raises(MastodonNotFoundError):
        as_alice.status(posted[2])
    assert posted[2] not in ids_of(as_alice.timeline_home(limit=40))

    relationship = as_alice.account_unfollow(bob.id)
    assert relationship.following is False
    run_outbox()
    assert ids_of(as_alice.timeline_home()) == [str(reply.id), str(mine.id)]
    assert Follow.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_mastodon_py_reads_the_version_from_the_instance_and_its_errors(live_server):
    alice = UserFactory(username="alice")
    client = client_of(live_server, alice, version_check_mode="created")

    assert client.retrieve_mastodon_version() == "4.2.0"
    assert client.instance_v1().configuration.statuses.max_characters == 280
    assert client.instance_v2().domain == live_server.url.split("://")[1]
    with pytest.raises(MastodonAPIError) as refused:
        client.account_follow(alice.id)
    assert refused.value.args[1] == 403
    assert refused.value.args[3] == "Following your own account is not allowed"
    with pytest.raises(MastodonAPIError) as invalid:
        client.status_post("x" * 281)
    assert invalid.value.args[1] == 422 and "At most 280" in invalid.value.args[3]


# --- Reading --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_account_has_mastodons_shape_with_string_ids_and_exact_counts(alice, bob):
    services.follow(follower=alice, username="bob")
    services.post_tweet(author=bob, text="hi")

    body = APIClient().get(f"{BASE}/accounts/{bob.id}").json()
    assert body["id"] == str(bob.id) and body["username"] == body["acct"] == "bob"
    assert (body["followers_count"], body["following_count"], body["statuses_count"]) == (1, 0, 1)
    assert body["created_at"].endswith("T00:00:00.000Z")
    assert body["avatar"].startswith("http://testserver/") and body["note"] == ""
    me = bearer(alice).get(f"{BASE}/accounts/verify_credentials").json()
    assert me["following_count"] == 1 and me["source"]["privacy"] == "public"


@pytest.mark.django_db
def test_a_status_has_mastodons_shape_and_anyone_may_read_it(alice, bob):
    parent = services.post_tweet(author=bob, text="first\n\nsecond line\nthird")
    reply = services.post_tweet(author=alice, text="re", reply_to_id=parent.id)

    body = APIClient().get(f"{BASE}/statuses/{parent.id}").json()
    assert body["id"] == str(parent.id) and body["visibility"] == "public"
    assert body["content"] == "<p>first</p><p>second line<br />third</p>"
    assert body["account"]["id"] == str(bob.id) and body["media_attachments"] == []
    assert body["url"] == f"http://testserver/api/v1/tweets/{parent.id}"
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 24  # milliseconds
    replied = APIClient().get(f"{BASE}/statuses/{reply.id}/").json()  # trailing slash too
    assert replied["in_reply_to_id"] == str(parent.id)
    assert replied["in_reply_to_account_id"] == str(bob.id)


def test_plain_text_becomes_escaped_paragraphs():
    assert content_html("a<b>\r\n\r\n\r\nc & d\ne") == "<p>a&lt;b&gt;</p><p>c &amp; d<br />e</p>"
    assert content_html('"quoted"') == "<p>&quot;quoted&quot;</p>"


@pytest.mark.django_db
def test_lookup_finds_local_accounts_by_acct(alice):
    client = APIClient()
    for acct in ("alice", "@alice", "ALICE", "alice@testserver"):
        response = client.get(f"{BASE}/accounts/lookup", {"acct": acct})
        assert response.status_code == 200 and response.json()["id"] == str(alice.id), acct
    for acct in ("alice@mastodon.social", "nobody", "a\x00b", "x" * 200):
        response = client.get(f"{BASE}/accounts/lookup", {"acct": acct})
        assert response.status_code == 404, acct
        assert response.json() == {"error": "Record not found"}
    missing = client.get(f"{BASE}/accounts/lookup")
    assert missing.status_code == 400
    assert missing.json() == {"error": "param is missing or the value is empty: acct"}


@pytest.mark.django_db
def test_the_instance_describes_this_server_to_anyone():
    UserFactory()
    v1 = APIClient().get(f"{BASE}/instance/")
    assert v1.status_code == 200
    assert v1.json()["version"].startswith("4.2.0 (compatible; sysdesign")
    assert v1.json()["stats"]["user_count"] == 1
    v2 = APIClient().get("/mastodon/api/v2/instance").json()
    assert v2["domain"] == "testserver"
    assert v2["configuration"]["statuses"]["characters_reserved_per_url"] == 23


@pytest.mark.django_db
def test_json_whatever_the_accept_header_says(alice):
    response = APIClient().get(f"{BASE}/accounts/{alice.id}", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_mastodon_is_a_reserved_path_the_load_balancer_sends_to_django():
    out = StringIO()
    call_command("routing_paths", stdout=out)  # the list HAProxy reads (EDGE_RESERVED)
    assert "/mastodon" in out.getvalue().splitlines()


# --- The home timeline ----------------------------------------------------------------------


@pytest.mark.django_db
def test_home_pages_by_link_header_with_max_id_and_min_id(alice, bob):
    services.follow(follower=alice, username="bob")
    posted = [str(services.post_tweet(author=bob, text=f"b{i}").id) for i in range(5)]
    run_outbox()
    client = bearer(alice)

    first = client.get(f"{BASE}/timelines/home", {"limit": 2})
    assert [s["id"] for s in first.json()] == posted[::-1][:2]
    links = first["Link"]
    assert f'max_id={posted[3]}>; rel="next"' in links and "limit=2" in links
    assert f'min_id={posted[4]}>; rel="prev"' in links
    assert links.startswith("<http://testserver/mastodon/api/v1/timelines/home?")

    last = client.get(f"{BASE}/timelines/home", {"limit": 2, "max_id": posted[1]})
    assert [s["id"] for s in last.json()] == [posted[0]]
    assert 'rel="next"' not in last["Link"]  # a short page is the end

    # min_id: the `limit` just above it, newest first; it wins over since_id, as in Mastodon.
    newer = client.get(f"{BASE}/timelines/home", {"limit": 2, "min_id": posted[0],
                                                  "since_id": posted[3]})  # fmt: skip
    assert [s["id"] for s in newer.json()] == [posted[2], posted[1]]
    since = client.get(f"{BASE}/timelines/home", {"limit": 2, "since_id": posted[0]})
    assert [s["id"] for s in since.json()] == [posted[4], posted[3]]
    empty = client.get(f"{BASE}/timelines/home", {"min_id": posted[4]})
    assert empty.json() == [] and "Link" not in empty


@pytest.mark.django_db
def test_a_home_page_costs_a_bounded_number_of_queries(alice, django_assert_max_num_queries):
    authors = [UserFactory() for _ in range(5)]
    for author in authors:
        services.follow(follower=alice, username=author.username)
        for i in range(4):
            services.post_tweet(author=author, text=f"{author.username} {i}")
    run_outbox()
    client = bearer(alice)
    client.get(f"{BASE}/timelines/home")  # the reader's activity is written once an hour

    with django_assert_max_num_queries(7):  # 6 today; per status would be 20+
        response = client.get(f"{BASE}/timelines/home")
    assert len(response.json()) == 20


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("max_id=abc", "max_id: "),
        ("since_id=-5", "since_id: "),
        ("min_id=99999999999999999999", "min_id: "),
        ("max_id=%00", "max_id: "),
        ("limit=0", "limit: "),
        ("limit=x", "limit: "),
    ],
)
def test_bad_home_bounds_are_a_400_saying_which(alice, query, says):
    response = bearer(alice).get(f"{BASE}/timelines/home?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(says)


@pytest.mark.django_db
def test_a_huge_limit_is_capped_at_mastodons_40(alice):
    for i in range(45):
        services.post_tweet(author=alice, text=f"t{i}")
    response = bearer(alice).get(f"{BASE}/timelines/home?limit=1000000000000000000000")
    assert response.status_code == 200 and len(response.json()) == 40
    assert "limit=40" in response["Link"]


# --- Errors in Mastodon's shape ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_bad_or_missing_token_is_a_401(alice):
    for client in (APIClient(), APIClient(HTTP_AUTHORIZATION="Bearer nope"),
                   APIClient(HTTP_AUTHORIZATION="Bearer"),
                   APIClient(HTTP_AUTHORIZATION="Bearer \u00e9t\u00e9")):  # fmt: skip
        response = client.get(f"{BASE}/accounts/verify_credentials")
        assert response.status_code == 401
        assert response.json() == {"error": "The access token is invalid"}
        assert response["WWW-Authenticate"].startswith("Bearer")
    alice.is_active = False
    alice.save()
    assert bearer(alice).get(f"{BASE}/timelines/home").status_code == 401
    assert bearer(alice).post(f"{BASE}/statuses", {"status": "x"}).status_code == 401


@pytest.mark.django_db
def test_unknown_ids_and_endpoints_are_mastodons_404(alice):
    client = bearer(alice)
    for method, path in [
        ("get", f"{BASE}/accounts/{alice.id + 1000}"),
        ("get", f"{BASE}/accounts/abc"),
        ("get", f"{BASE}/statuses/123"),
        ("get", f"{BASE}/statuses/-1"),
        ("get", f"{BASE}/statuses/{'9' * 30}"),
        ("delete", f"{BASE}/statuses/123"),
        ("post", f"{BASE}/accounts/123/follow"),
        ("post", f"{BASE}/accounts/123/unfollow"),
        ("get", f"{BASE}/timelines/public"),
        ("get", "/mastodon/api/v2/media"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "Record not found"}, path


@pytest.mark.django_db
def test_following_yourself_is_mastodons_403_and_unfollowing_yourself_a_no_op(alice):
    client = bearer(alice)
    response = client.post(f"{BASE}/accounts/{alice.id}/follow")
    assert response.status_code == 403
    assert response.json() == {"error": "Following your own account is not allowed"}
    response = client.post(f"{BASE}/accounts/{alice.id}/unfollow")
    assert response.status_code == 200 and response.json()["following"] is False
    assert not Follow.objects.exists()


@pytest.mark.django_db
def test_follow_and_unfollow_are_idempotent_and_answer_the_relationship(alice, bob):
    services.follow(follower=bob, username="alice")
    client = bearer(alice)
    for _ in range(2):
        body = client.post(f"{BASE}/accounts/{bob.id}/follow").json()
        assert body == {**body, "id": str(bob.id), "following": True, "followed_by": True}
    assert Profile.objects.get(user=bob).followers_count == 1
    for _ in range(2):
        body = client.post(f"{BASE}/accounts/{bob.id}/unfollow").json()
        assert (body["following"], body["followed_by"]) == (False, True)
    assert Profile.objects.get(user=bob).followers_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({}, "Validation failed: Write something"),
        ({"status": "   "}, "Validation failed: Write something"),
        ({"status": "x" * 281}, "Validation failed: At most 280 characters"),
        ({"status": "bell\x07"}, "Validation failed: Control characters"),
        ({"status": "hi", "visibility": "direct"}, "Validation failed: only public posts"),
        ({"status": "hi", "visibility": "private"}, "Validation failed: only public posts"),
        ({"status": "hi", "spoiler_text": "cw"}, "Validation failed: content warnings"),
        ({"status": "hi", "sensitive": "true"}, "Validation failed: sensitive"),
        ({"status": "hi", "scheduled_at": "2999-01-01T00:00:00Z"}, "Validation failed: sched"),
        ({"status": "hi", "poll[options][]": ["a", "b"]}, "Validation failed: polls"),
        ({"status": "hi", "media_ids[]": ["12345"]}, "Validation failed: No media 12345"),
        ({"status": "hi", "media_ids[]": ["abc"]}, "Validation failed: media_ids"),
    ],
)
def test_a_post_mastodon_would_not_save_is_a_422_and_writes_nothing(alice, fields, says):
    response = bearer(alice).post(f"{BASE}/statuses", fields)  # a form, as Mastodon.py sends
    assert response.status_code == 422
    assert response.json()["error"].startswith(says), response.json()
    assert not Tweet.objects.exists()


@pytest.mark.django_db
def test_a_json_post_is_read_too_and_a_bad_body_is_a_4xx(alice):
    client = bearer(alice)
    response = client.post(f"{BASE}/statuses", {"status": "json", "visibility": "unlisted",
                                                "language": "en"}, format="json")  # fmt: skip
    assert response.status_code == 200 and response.json()["content"] == "<p>json</p>"
    for body in ('["a list"]', '"text"', "{"):
        response = client.post(f"{BASE}/statuses", body, content_type="application/json")
        assert response.status_code in (400, 422), body
        assert isinstance(response.json()["error"], str)
    response = client.post(f"{BASE}/statuses", {"status": "x", "media_ids": "1"}, format="json")
    assert response.status_code == 422
    assert Tweet.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"{BASE}/accounts/%00", None),
        ("post", f"{BASE}/accounts/%00/follow", None),
        ("get", f"{BASE}/statuses/%00", None),
        ("get", f"{BASE}/statuses/\u0661\u0662", None),  # digits, not ASCII ones
        ("get", f"{BASE}/accounts/lookup?acct=%00", None),
        ("get", f"{BASE}/timelines/home?max_id=\u0661", None),
        ("post", f"{BASE}/statuses", {"status": {"nested": ["x"]}}),
        ("post", f"{BASE}/statuses", {"status": "x", "visibility": ["public"]}),
        ("post", f"{BASE}/statuses", {"status": "x", "sensitive": {"a": 1}}),
        ("post", f"{BASE}/statuses", {"status": "x", "media_ids": [{"id": "1"}]}),
        ("post", f"{BASE}/statuses", {"status": "x", "media_ids": ["1"] * 50}),
        ("post", f"{BASE}/statuses", {"status": "x", "in_reply_to_id": "\x00"}),
        ("post", f"{BASE}/statuses", {"status": "nul\x00"}),
        ("post", f"{BASE}/statuses", {"status": "x" * 20_000}),
    ],
)
def test_hostile_input_is_a_4xx_in_mastodons_shape_never_a_500(alice, method, path, body):
    client = bearer(alice)
    kwargs = {} if body is None else {"data": body, "format": "json"}
    response = getattr(client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500, response.content
    assert isinstance(response.json()["error"], str)
    assert not Tweet.objects.exists()


@pytest.mark.django_db
def test_a_reply_to_no_status_is_mastodons_404(alice):
    for target in ("123", "abc", "-1"):
        response = bearer(alice).post(
            f"{BASE}/statuses", {"status": "re", "in_reply_to_id": target}
        )
        assert response.status_code == 404
        assert response.json() == {
            "error": "The post you are trying to reply to does not appear to exist."
        }
    assert not Tweet.objects.exists()


@pytest.mark.django_db
def test_a_post_with_media_shows_its_attachments_with_absolute_urls(alice):
    media = Media.objects.create(
        id=next_id(), owner=alice, kind="image", status=MediaStatus.READY, sha256="0" * 64,
        content_type="image/png", size=10,
        files={"original": "media/ab/cd.png", "thumb": "media/ab/cd-thumb.png"},
    )  # fmt: skip
    response = bearer(alice).post(
        f"{BASE}/statuses", {"status": "look", "media_ids[]": [str(media.id)]}
    )
    assert response.status_code == 200
    (attachment,) = response.json()["media_attachments"]
    assert attachment["id"] == str(media.id) and attachment["type"] == "image"
    assert attachment["url"].startswith("http://testserver/")
    assert attachment["url"].endswith("cd.png")
    assert attachment["preview_url"].endswith("cd-thumb.png")


@pytest.mark.django_db
def test_only_the_author_deletes_and_gets_the_text_back(alice, bob):
    tweet = services.post_tweet(author=alice, text="mine")
    refused = bearer(bob).delete(f"{BASE}/statuses/{tweet.id}")
    assert refused.status_code == 404 and refused.json() == {"error": "Record not found"}
    assert APIClient().delete(f"{BASE}/statuses/{tweet.id}").status_code == 401
    assert Tweet.objects.filter(id=tweet.id).exists()

    response = bearer(alice).delete(f"{BASE}/statuses/{tweet.id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["text"]) == (str(tweet.id), "mine")
    assert body["account"]["statuses_count"] == 0
    assert bearer(alice).get(f"{BASE}/statuses/{tweet.id}").status_code == 404


TWO = {"algorithm": "token_bucket", "limit": 2, "window": 3600, "burst": 2, "key": "user",
       "methods": ["POST"]}  # fmt: skip


@pytest.mark.django_db
@override_settings(RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES, "tweet_create": TWO})
def test_posting_shares_the_rest_apis_rate_limit(alice):
    client = bearer(alice)
    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user=alice)}")
    assert rest.post("/api/v1/tweets", {"text": "rest"}, format="json").status_code == 201
    assert client.post(f"{BASE}/statuses", {"status": "1"}).status_code == 200
    refused = client.post(f"{BASE}/statuses", {"status": "2"})
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too many requests"} and int(refused["Retry-After"]) >= 1
    assert Tweet.objects.count() == 2


@pytest.mark.django_db
@override_settings(
    RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES,
                        "follow": {**TWO, "methods": ["POST", "DELETE"]}}
)  # fmt: skip
def test_following_shares_the_rest_apis_rate_limit(alice, bob):
    client = bearer(alice)
    codes = [client.post(f"{BASE}/accounts/{bob.id}/follow").status_code,
             client.post(f"{BASE}/accounts/{bob.id}/unfollow").status_code,
             client.post(f"{BASE}/accounts/{bob.id}/follow").status_code]  # fmt: skip
    assert codes == [200, 200, 429]


# --- Through the queue ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_status_reaches_a_followers_home_through_a_real_worker(
    live_server, celery_worker_process
):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    as_alice, as_bob = client_of(live_server, alice), client_of(live_server, bob)
    as_alice.account_follow(bob.id)
    as_alice.timeline_home()  # alice's feed exists: bob's post must arrive by fan-out

    posted = str(as_bob.status_post("through the queue").id)
    deadline = time.monotonic() + 30
    while posted not in ids_of(as_alice.timeline_home()):
        assert time.monotonic() < deadline, "the fan-out did not deliver within 30 s"
        time.sleep(0.2)
