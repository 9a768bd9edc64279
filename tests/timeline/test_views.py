"""The timeline's pages through Django's test client: home (anonymous and signed in), posting
from the form, profiles and follow buttons, a tweet and its replies, deleting, the fan-out page
and its JSON; hostile input is a 4xx page a person can read, never a 500. Real PostgreSQL and
Redis; the fan-out runs in-process (tests.timeline.helpers.run_outbox)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from accounts.models import User
from core.models import OutboxEvent
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import run_outbox
from timeline import services
from timeline.home import home_timeline
from timeline.models import AuthorMode, Follow, Profile, Tweet
from timeline.text import weighted_length

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dana() -> User:
    return UserFactory(username="dana")


@pytest.fixture
def erik() -> User:
    return UserFactory(username="erik")


@pytest.fixture
def signed_in(client, dana) -> Client:
    client.force_login(dana)
    return client


def tweet_ids(html: str) -> list[str]:
    return re.findall(r'data-tweet-id="(\d+)"', html)


def field_errors(html: str) -> list[str]:
    block = re.search(r'<ul class="field-errors" id="id_text_error">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1), re.S) if block else []


def post(client, text: str, **data):
    return client.post("/timeline/", {"text": text, **data})


# --- home, anonymous -----------------------------------------------------------------------------


def test_anonymous_visitors_get_an_explanation_and_links_to_sign_in_and_up(client, erik):
    services.post_tweet(author=erik, text="hello")

    response = client.get("/timeline/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 id="page-title">Timeline</h1>' in html
    assert "Sign in to post and follow" in html
    assert 'href="/accounts/signup/"' in html
    assert 'href="/accounts/login/?next=/timeline/"' in html
    assert 'name="text"' not in html  # no compose box
    assert 'href="/timeline/u/erik"' in html  # accounts to look at
    assert 'href="/timeline/fanout"' in html


def test_an_anonymous_post_is_sent_to_sign_in_and_writes_nothing(client):
    response = post(client, "hello")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/timeline/"
    assert not Tweet.objects.exists()


def test_the_timeline_is_no_longer_marked_coming_in_the_navigation(client):
    html = client.get("/timeline/").content.decode()
    nav = html.split('data-testid="nav-systems"', 1)[1].split("</ul>", 1)[0]

    assert '<a href="/timeline/" aria-current="page">Timeline</a></li>' in nav


# --- home, signed in -----------------------------------------------------------------------------


def test_the_home_page_has_a_compose_box_with_csrf_and_a_counter(signed_in):
    response = signed_in.get("/timeline/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<form method="post" action="/timeline/" class="compose"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="text"' in html
    assert 'data-max-length="280"' in html
    assert "data-compose-count" in html
    assert 'data-media-url="/api/v1/media"' in html  # the image picker uploads there
    assert "data-media-picker hidden" in html  # shown by the script, which does the uploads
    assert 'data-poll-url="/api/v1/timeline/home"' in html
    assert "Nothing here yet." in html


def test_posting_from_the_form_redirects_home_and_the_tweet_is_on_top(signed_in, dana):
    response = post(signed_in, "My first tweet")

    assert response.status_code == 302
    assert response["Location"] == "/timeline/"
    tweet = Tweet.objects.get()
    assert (tweet.author, tweet.text) == (dana, "My first tweet")
    assert OutboxEvent.objects.filter(topic=services.FAN_OUT).count() == 1  # fan-out is queued
    html = signed_in.get("/timeline/").content.decode()
    assert tweet_ids(html) == [str(tweet.id)]
    assert "Your tweet is posted." in html
    assert f'data-newest-id="{tweet.id}"' in html


def test_a_followers_home_shows_the_tweet_once_the_fan_out_ran_and_not_after_unfollow(
    client, dana, erik
):
    services.follow(follower=dana, username="erik")
    tweet = services.post_tweet(author=erik, text="From erik")
    run_outbox()
    client.force_login(dana)

    html = client.get("/timeline/").content.decode()
    assert tweet_ids(html) == [str(tweet.id)]
    assert 'data-source="feed"' in html

    services.unfollow(follower=dana, username="erik")
    run_outbox()

    assert tweet_ids(client.get("/timeline/").content.decode()) == []


def test_the_textareas_crlf_line_breaks_are_stored_as_newlines(signed_in):
    assert post(signed_in, "line one\r\nline two\rthree").status_code == 302

    assert Tweet.objects.get().text == "line one\nline two\nthree"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Write something: a tweet cannot be empty or only whitespace."),
        ("   \r\n  ", "Write something: a tweet cannot be empty or only whitespace."),
        ("x" * 281, "At most 280 characters as Twitter counts them"),
        ("日" * 141, "this is 282"),  # CJK counts 2
        ("a" * 10_000, "At most 4000 characters, links included."),
        ("a" * 10_001, "Ensure this value has at most 10000 characters (it has 10001)."),
        ("nul \x00 byte", "Null characters are not allowed."),
        ("bell \x07", "Control characters are not allowed in a tweet."),
    ],
)  # fmt: skip
def test_a_refused_text_is_a_400_page_with_the_reason_on_the_field(signed_in, text, reason):
    response = post(signed_in, text)

    html = response.content.decode()
    assert response.status_code == 400
    assert any(reason in error for error in field_errors(html)), field_errors(html)
    assert 'aria-invalid="true"' in html
    assert not Tweet.objects.exists()


def test_280_weighted_characters_are_accepted_even_as_140_cjk(signed_in):
    assert post(signed_in, "日" * 140).status_code == 302
    assert post(signed_in, "y" * 280).status_code == 302
    assert post(signed_in, "https://example.com/" + "p" * 500 + " " + "z" * 256).status_code == 302

    assert Tweet.objects.count() == 3


@pytest.mark.parametrize(
    "media_ids", [["abc"], ["1", "2", "3", "4", "5"], ["99999999999999999999"], ["123"]]
)
def test_bad_media_ids_are_a_400_page_not_a_500(signed_in, media_ids):
    response = signed_in.post("/timeline/", {"text": "with images", "media_ids": media_ids})

    assert response.status_code == 400
    assert '<div class="alert alert-error" role="alert">' in response.content.decode()
    assert not Tweet.objects.exists()


def test_a_form_post_without_the_csrf_token_is_refused(dana):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dana)

    response = post(client, "forged")

    assert response.status_code == 403
    assert not Tweet.objects.exists()


def test_a_form_post_with_the_csrf_token_is_accepted(dana):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dana)
    html = client.get("/timeline/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    response = client.post("/timeline/", {"text": "real", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Tweet.objects.get().text == "real"


def test_load_more_pages_by_max_id_to_the_end(signed_in, dana):
    posted = [services.post_tweet(author=dana, text=f"tweet {i}").id for i in range(25)]
    newest_first = [str(i) for i in reversed(posted)]

    first = signed_in.get("/timeline/").content.decode()
    assert tweet_ids(first) == newest_first[:20]
    older = re.search(r'href="(\?max_id=\d+)" data-load-more', first).group(1)
    assert older == f"?max_id={newest_first[19]}"

    second = signed_in.get("/timeline/" + older).content.decode()
    assert tweet_ids(second) == newest_first[20:]
    assert "data-load-more" not in second
    assert "That is all of it" in second
    assert "data-no-poll" in second  # an older page does not poll for new tweets
    assert 'name="text"' not in second


@pytest.mark.parametrize(
    "max_id", ["abc", "-1", "1.5", "99999999999999999999", "9223372036854775808", "%00", "١٢"]
)
def test_a_bad_max_id_is_a_400_page_a_person_understands(signed_in, max_id):
    response = signed_in.get(f"/timeline/?max_id={max_id}")

    html = response.content.decode()
    assert response.status_code == 400
    assert "That could not be used" in html
    assert "This page link is broken" in html


def test_the_home_page_queries_are_bounded(signed_in, dana, erik, django_assert_max_num_queries):
    services.follow(follower=dana, username="erik")
    for i in range(30):
        services.post_tweet(author=erik if i % 2 else dana, text=f"t{i}")
    run_outbox()
    signed_in.get("/timeline/")  # the feed rebuilt once

    with django_assert_max_num_queries(10):  # session, user, the read (6), profile, suggestions
        assert signed_in.get("/timeline/").status_code == 200
    with django_assert_max_num_queries(16):  # + the outbox's five topics, the celebrities
        assert signed_in.get("/timeline/fanout.json").status_code == 200


THREE = {"algorithm": "token_bucket", "limit": 3, "window": 3600, "burst": 3, "key": "user",
         "methods": ["POST"]}  # fmt: skip


@override_settings(RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES, "tweet_create": THREE})
def test_posting_from_the_form_draws_from_the_apis_tweet_create_budget(signed_in, dana):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(dana)
    assert api.post("/api/v1/tweets", {"text": "api"}, format="json").status_code == 201
    assert post(signed_in, "form 1").status_code == 302
    assert post(signed_in, "form 2").status_code == 302

    refused = post(signed_in, "form 3")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "Too many tweets. Try again in " in refused.content.decode()
    assert Tweet.objects.count() == 3


# --- profiles and following ----------------------------------------------------------------------


def test_a_profile_shows_counts_tweets_and_a_follow_button(signed_in, erik):
    services.post_tweet(author=erik, text="erik's tweet")

    html = signed_in.get("/timeline/u/erik").content.decode()

    assert '<h1 id="page-title">@erik</h1>' in html
    assert '<dd data-count="tweets">1</dd>' in html
    assert '<dd data-count="followers">0</dd>' in html
    assert 'action="/timeline/u/erik/follow"' in html
    assert '<input type="hidden" name="action" value="follow">' in html
    assert "erik&#x27;s tweet" in html


def test_follow_and_unfollow_from_the_profile_update_the_counts(signed_in, dana, erik):
    follow = signed_in.post(
        "/timeline/u/erik/follow", {"action": "follow", "next": "/timeline/u/erik"}
    )

    assert follow.status_code == 302
    assert follow["Location"] == "/timeline/u/erik"
    assert Follow.objects.filter(follower=dana, followee=erik).exists()
    html = signed_in.get("/timeline/u/erik").content.decode()
    assert '<dd data-count="followers">1</dd>' in html
    assert '<input type="hidden" name="action" value="unfollow">' in html
    assert "You follow @erik." in html
    assert '<dd data-count="following">1</dd>' in signed_in.get("/timeline/u/dana").content.decode()

    signed_in.post("/timeline/u/erik/follow", {"action": "unfollow"})

    assert not Follow.objects.exists()
    assert Profile.objects.get(user=erik).followers_count == 0


def test_following_twice_is_idempotent_and_a_foreign_next_is_ignored(signed_in, erik):
    for _ in range(2):
        response = signed_in.post(
            "/timeline/u/erik/follow", {"action": "follow", "next": "https://evil.example/"}
        )
        assert response["Location"] == "/timeline/u/erik"

    assert Profile.objects.get(user=erik).followers_count == 1


def test_following_yourself_or_nobody_is_a_page_not_a_500(signed_in):
    yourself = signed_in.post("/timeline/u/dana/follow", {"action": "follow"})
    nobody = signed_in.post("/timeline/u/nobody/follow", {"action": "follow"})
    nonsense = signed_in.post("/timeline/u/dana/follow", {"action": "<script>"})

    assert yourself.status_code == 400
    assert "You cannot follow yourself." in yourself.content.decode()
    assert nobody.status_code == 404
    assert "No user called &#x27;nobody&#x27;." in nobody.content.decode()
    assert nonsense.status_code == 400
    assert "<script>" not in nonsense.content.decode()


def test_an_anonymous_follow_goes_to_sign_in_and_get_is_not_allowed(client, erik):
    response = client.post("/timeline/u/erik/follow", {"action": "follow"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/timeline/u/erik"
    assert client.get("/timeline/u/erik/follow").status_code == 405
    assert not Follow.objects.exists()


def test_a_follow_without_the_csrf_token_is_refused(dana, erik):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dana)

    assert client.post("/timeline/u/erik/follow", {"action": "follow"}).status_code == 403
    assert not Follow.objects.exists()


@pytest.mark.parametrize("username", ["nobody", "a%00b", "x" * 200, "%F0%9F%98%80", "a%20b"])
def test_an_unknown_or_impossible_username_is_a_404_page(client, username):
    response = client.get(f"/timeline/u/{username}")

    assert response.status_code == 404
    assert "There is no user called" in response.content.decode()


def test_a_path_like_username_is_a_404_too(client):
    assert client.get("/timeline/u/..%2F").status_code == 404
    assert client.get("/timeline/u/a%2Fb/follow").status_code == 404


def test_a_profiles_tweets_page_by_max_id_and_a_bad_one_is_a_400(client, erik):
    posted = [services.post_tweet(author=erik, text=f"t{i}").id for i in range(21)]

    first = client.get("/timeline/u/erik").content.decode()
    older = re.search(r'href="(\?max_id=\d+)" data-load-more', first).group(1)

    assert tweet_ids(client.get("/timeline/u/erik" + older).content.decode()) == [str(posted[0])]
    assert client.get("/timeline/u/erik?max_id=x").status_code == 400


def test_followers_and_following_lists(client, dana, erik):
    services.follow(follower=dana, username="erik")

    followers = client.get("/timeline/u/erik/followers").content.decode()
    following = client.get("/timeline/u/dana/following").content.decode()

    assert 'href="/timeline/u/dana">@dana</a>' in followers
    assert 'href="/timeline/u/erik">@erik</a>' in following
    assert client.get("/timeline/u/erik/followers?max_id=nope").status_code == 400


def test_a_celebrity_profile_says_its_tweets_are_pulled(client, dana, erik, settings):
    settings.TIMELINE_CELEBRITY_FOLLOWERS = 0
    services.follow(follower=dana, username="erik")

    html = client.get("/timeline/u/erik").content.decode()

    assert Profile.objects.get(user=erik).mode == AuthorMode.PULL
    assert "<strong>Celebrity</strong>: more than 0 followers" in html


# --- a tweet, replies, images, deleting ----------------------------------------------------------


def test_a_tweet_page_shows_its_replies_and_a_reply_box(signed_in, dana, erik):
    parent = services.post_tweet(author=erik, text="parent")
    reply = services.post_tweet(author=dana, text="a reply", reply_to_id=parent.id)

    html = signed_in.get(f"/timeline/t/{parent.id}").content.decode()

    assert '<h1 id="page-title">Tweet by @erik</h1>' in html
    assert tweet_ids(html) == [str(parent.id), str(reply.id)]
    assert f'action="/timeline/t/{parent.id}"' in html
    assert "Your reply to @erik" in html


def test_replying_from_the_tweet_page_posts_a_reply_and_goes_to_it(signed_in, erik):
    parent = services.post_tweet(author=erik, text="parent")

    response = signed_in.post(f"/timeline/t/{parent.id}", {"text": "my reply"})

    reply = Tweet.objects.get(reply_to_id=parent.id)
    assert response.status_code == 302
    assert response["Location"] == f"/timeline/t/{parent.id}#tweet-{reply.id}"
    html = signed_in.get(f"/timeline/t/{reply.id}").content.decode()
    assert tweet_ids(html) == [str(parent.id), str(reply.id)]  # the parent above it


def test_a_refused_reply_is_a_400_page_and_anonymous_replies_go_to_sign_in(client, dana, erik):
    parent = services.post_tweet(author=erik, text="parent")

    anonymous = client.post(f"/timeline/t/{parent.id}", {"text": "hi"})
    client.force_login(dana)
    too_long = client.post(f"/timeline/t/{parent.id}", {"text": "z" * 300})

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=")
    assert too_long.status_code == 400
    assert "At most 280 characters" in too_long.content.decode()
    assert not Tweet.objects.filter(reply_to_id=parent.id).exists()


def test_a_reply_to_a_deleted_tweet_says_so(client, erik):
    parent = services.post_tweet(author=erik, text="parent")
    reply = services.post_tweet(author=erik, text="reply", reply_to_id=parent.id)
    services.delete_tweet(user=erik, tweet_id=parent.id)

    html = client.get(f"/timeline/t/{reply.id}").content.decode()

    assert "In reply to a tweet that has been deleted." in html


@pytest.mark.parametrize("tweet_id", ["abc", "1", "99999999999999999999", "-5", "%00"])
def test_a_missing_or_impossible_tweet_is_a_404_page(client, tweet_id):
    response = client.get(f"/timeline/t/{tweet_id}")

    assert response.status_code == 404
    assert "There is no tweet at this address" in response.content.decode()


def test_a_bad_replies_cursor_is_a_400(client, erik):
    parent = services.post_tweet(author=erik, text="parent")

    assert client.get(f"/timeline/t/{parent.id}?after=zz").status_code == 400


def test_images_are_shown_as_thumbnails_linking_to_the_full_image(client, erik):
    tweet = services.post_tweet(author=erik, text="with a picture")
    Tweet.objects.filter(id=tweet.id).update(
        media=[
            {
                "id": "7",
                "type": "image",
                "url": "/media/ab/original.png",
                "preview_url": "/media/ab/thumb.webp",
            }
        ]
    )

    html = client.get(f"/timeline/t/{tweet.id}").content.decode()

    assert '<a href="/media/ab/original.png" target="_blank" rel="noopener">' in html
    assert '<img src="/media/ab/thumb.webp" alt="Image 1 of the tweet by @erik"' in html


def test_tweet_text_is_escaped_and_links_are_links(client, erik):
    tweet = services.post_tweet(
        author=erik, text="<script>alert(1)</script> see https://example.com/x"
    )

    html = client.get(f"/timeline/t/{tweet.id}").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.com/x" rel="nofollow">https://example.com/x</a>' in html


def test_only_the_author_can_delete_and_the_author_does_through_a_confirmation(client, dana, erik):
    tweet = services.post_tweet(author=erik, text="mine")
    client.force_login(dana)
    assert client.get(f"/timeline/t/{tweet.id}/delete").status_code == 403
    assert client.post(f"/timeline/t/{tweet.id}/delete").status_code == 403

    client.force_login(erik)
    confirm = client.get(f"/timeline/t/{tweet.id}/delete")
    assert confirm.status_code == 200
    assert "Delete this tweet?" in confirm.content.decode()
    page = client.get(f"/timeline/t/{tweet.id}").content.decode()
    assert f'href="/timeline/t/{tweet.id}/delete"' in page
    deleted = client.post(f"/timeline/t/{tweet.id}/delete")

    assert deleted.status_code == 302
    assert not Tweet.objects.exists()
    assert client.get(f"/timeline/t/{tweet.id}").status_code == 404


# --- the fan-out page ----------------------------------------------------------------------------


def test_the_fan_out_page_renders_its_charts_and_tables(client, dana, erik):
    services.follow(follower=dana, username="erik")
    services.post_tweet(author=erik, text="fan me out")
    run_outbox()

    response = client.get("/timeline/fanout")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<h1 id="page-title">Fan-out, live</h1>' in html
    assert 'id="deliveries-chart"' in html and 'id="lag-chart"' in html
    assert 'class="chart-bar"' in html  # a delivery and a lag were drawn
    assert "@erik" in html
    assert 'data-url="/timeline/fanout.json"' in html
    assert "Sign in</a> to see what your own home read merges" in html


def test_the_fan_out_json_is_true_to_what_ran(client, dana, erik, settings):
    settings.TIMELINE_CELEBRITY_FOLLOWERS = 1
    carol = UserFactory(username="carol")
    services.follow(follower=dana, username="erik")
    services.follow(follower=carol, username="erik")  # 2 > 1: erik is a celebrity now
    services.follow(follower=dana, username="carol")
    run_outbox()  # the follows' backfills
    home_timeline(reader=dana)  # dana's feed exists in Redis: deliveries reach it
    pushed = services.post_tweet(author=carol, text="pushed to dana")
    services.post_tweet(author=erik, text="pulled by dana's read")
    waiting = OutboxEvent.objects.count()

    before = client.get("/timeline/fanout.json").json()
    assert before["outbox"]["waiting"] == waiting
    assert sum(t["waiting"] for t in before["outbox"]["topics"]) == waiting
    run_outbox()
    client.force_login(dana)
    data = client.get("/timeline/fanout.json").json()

    assert data["redis"] is True
    assert data["outbox"]["waiting"] == 0
    assert data["threshold"] == {"followers": 1, "followers_text": "1", "default": 10_000,
                                 "default_text": "10,000", "lowered": True}  # fmt: skip
    assert data["celebrities"] == [
        {
            "username": "erik",
            "followers_count": 2,
            "mode": "pull",
            "pulled_since": data["celebrities"][0]["pulled_since"],
        }
    ]
    assert data["celebrity_count"] == 1
    assert data["deliveries"]["total"] >= 1  # carol's tweet into dana's feed
    assert len(data["deliveries"]["per_second"]) == 60
    lags = {lag["tweet_id"]: lag for lag in data["lags"]}
    assert lags[str(pushed.id)]["author"] == "carol"
    assert lags[str(pushed.id)]["followers"] == 1
    assert lags[str(pushed.id)]["lag_ms"] >= 0
    assert data["reader"]["merges"] == [{"username": "erik", "followers_count": 2, "mode": "pull"}]
    assert data["reader"]["read"]["merged"] == 1
    assert data["reader"]["read"]["items"] == 2
    assert data["reader"]["read"]["source"] in {"feed", "feed+sql"}


def test_the_fan_out_page_says_what_a_signed_in_readers_read_merges(
    signed_in, dana, erik, settings
):
    settings.TIMELINE_CELEBRITY_FOLLOWERS = 0
    services.follow(follower=dana, username="erik")

    html = signed_in.get("/timeline/fanout").content.decode()

    assert 'data-field="merges"><a href="/timeline/u/erik">@erik</a></span>' in html
    assert '<strong data-field="source">' in html


def test_the_fan_out_json_with_redis_down_says_so_instead_of_failing(client, monkeypatch):
    from core.scripts import RedisUnavailable
    from timeline import feeds

    def down(**kwargs):
        raise RedisUnavailable("down")

    monkeypatch.setattr(feeds, "fan_out_stats", down)

    data = client.get("/timeline/fanout.json").json()
    page = client.get("/timeline/fanout")

    assert data["redis"] is False
    assert data["deliveries"] is None
    assert page.status_code == 200
    assert "Redis is not answering" in page.content.decode()


# --- the counter (static/js/tweet-length.js) against the server's count --------------------------

COUNTER_CASES = [
    "hello", "日本語", "한국어", "Ελληνικά", "नमस्ते", "e\u0301", "👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "1️⃣",
    "❤️", "©", "…", "€", "https://example.com/a/very/long/path?q=1", "see example.com.",
    "www.example.org/x", "x.co", "me@example.com", "a\r\nb", "中文 and english 😷 https://t.co/x",
    "🏳️‍🌈 pride", "tabs\tand spaces", "“quoted” — dash",
]  # fmt: skip


@pytest.mark.skipif(
    shutil.which("node") is None, reason="needs Node.js (scripts/setup.sh browser installs it)"
)
def test_the_live_counter_counts_as_the_server_does():
    script = (
        "const t = require(process.argv[1]);"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map(t.weightedLength)));"
    )
    result = subprocess.run(
        ["node", "-e", script, str(ROOT / "static/js/tweet-length.js")],
        input=json.dumps(COUNTER_CASES),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    counted = dict(zip(COUNTER_CASES, json.loads(result.stdout), strict=True))
    assert counted == {text: weighted_length(text) for text in COUNTER_CASES}
