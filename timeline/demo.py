"""Demo data for `manage.py seed_demo`: a follow graph with one celebrity, so a newcomer sees
fan-out on write and pull at read time at once (docs/timeline.md, "The demo").

- alice, bob and carol (accounts' seed: they can sign in) follow each other; their tweets are
  pushed into each other's feeds by the fan-out workers.
- @newsroom is followed by all of them and by four accounts nobody signs in as (dave, erin,
  frank, grace: random passwords): seven followers. Over the celebrity threshold its tweets are
  not fanned out; each follower's read merges them in. Signed in as alice, the home page shows
  both at once, and /timeline/fanout says which account is pulled and what her read merges.

The threshold is the setting TIMELINE_CELEBRITY_FOLLOWERS (default 10,000); `make run` exports
TIMELINE_CELEBRITY_FOLLOWERS=5 (Makefile; DEMO_CELEBRITY_FOLLOWERS here), so seven followers
make a celebrity, honestly: by the same rule a real account crosses it. Under the default the
same graph is all push, and the fan-out page says so.

Everything goes through timeline.services: follows count and cross the threshold as any follow
does, tweets commit with their outbox events and fan out on the workers (which `make run` starts
after the seed). Idempotent: an existing follow is a no-op, and an author who has tweeted gets no
demo tweets. If the threshold changed since the last seed and @newsroom's mode no longer agrees,
one follower unfollows and follows again: the services then decide anew, as for anyone.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db.models import Q

from accounts.models import User
from accounts.services import register_user
from core.errors import ConflictError
from timeline import home, services
from timeline.models import AuthorMode, Profile, Tweet

DEMO_CELEBRITY = "newsroom"
DEMO_FOLLOWER_ONLY = ("dave", "erin", "frank", "grace")  # nobody signs in as them
DEMO_CELEBRITY_FOLLOWERS = 5  # what `make run` exports as TIMELINE_CELEBRITY_FOLLOWERS
FOLLOWS = {
    "alice": ("bob", "carol", DEMO_CELEBRITY),
    "bob": ("alice", "carol", DEMO_CELEBRITY),
    "carol": ("alice", DEMO_CELEBRITY),
    "dave": ("bob", DEMO_CELEBRITY),
    "erin": (DEMO_CELEBRITY,),
    "frank": (DEMO_CELEBRITY,),
    "grace": (DEMO_CELEBRITY,),
}
TWEETS = {
    "alice": (
        "Hello, timeline! This tweet went into my followers' home feeds through the outbox and "
        "a fan-out worker: one Redis sorted set per follower, trimmed to 800 entries.",
    ),
    "bob": (
        "Fan-out on write: posting costs one delivery per follower, so reading costs one range "
        "of one sorted set. Most accounts are pushed like this one.",
        "Try it: sign in as alice or carol, post something, and watch /timeline/fanout count "
        "the deliveries and the lag.",
    ),
    DEMO_CELEBRITY: (
        "I am the demo's celebrity: with more followers than the threshold, my tweets are not "
        "pushed to each follower. Their home reads merge my own list in instead.",
        "Why? A tweet of an account with 100 million followers would be 100 million writes. "
        "Pulling it at read time costs each reader one more range in the same round trip.",
    ),
    "carol": (
        "A link counts 23 characters however long it is: "
        "https://en.wikipedia.org/wiki/Fan-out_(software)",
    ),
}
REPLY = ("carol", "alice", "Welcome! Replies are tweets with a reply_to_id: this one shows under "
                           "alice's tweet on its page.")  # fmt: skip


def seed(*, stdout: Any) -> None:
    users = {name: _user(name) for name in ("alice", "bob", "carol")}
    if None in users.values():
        return  # accounts' seed runs first; without its users there is no demo graph
    for name in (DEMO_CELEBRITY, *DEMO_FOLLOWER_ONLY):
        users[name] = _user(name) or _create_user(name, stdout=stdout)
    created = 0
    for follower, followees in FOLLOWS.items():
        for followee in followees:
            created += services.follow(follower=users[follower], username=followee).changed
    if created:
        stdout.write(f"timeline: {created} demo follows made (a graph of {len(users)} accounts)")
    _agree_with_threshold(users, stdout=stdout)
    to_post = [a for a in TWEETS if not Tweet.objects.filter(author=users[a]).exists()]
    if to_post:
        # Each reader's feed exists in Redis once they have read it (a delivery never creates
        # one): read them once, so the demo tweets are delivered, not left to the rebuilds.
        for name in FOLLOWS:
            home.home_timeline(reader=users[name])
    for author, texts in TWEETS.items():
        if author in to_post:
            for text in texts:
                services.post_tweet(author=users[author], text=text)
            stdout.write(f"timeline: @{author} posted {len(texts)} demo tweet"
                         f"{'s' if len(texts) > 1 else ''} (through the outbox)")  # fmt: skip
    replier, parent_author, text = REPLY
    parent = Tweet.objects.filter(author=users[parent_author]).order_by("id").first()
    replied = Tweet.objects.filter(author=users[replier], reply_to_id__isnull=False).exists()
    if parent is not None and not replied:
        services.post_tweet(author=users[replier], text=text, reply_to_id=parent.id)
    _report(stdout=stdout)


def _agree_with_threshold(users: dict[str, User], *, stdout: Any) -> None:
    profile = Profile.objects.get(user=users[DEMO_CELEBRITY])
    celebrity = profile.followers_count > settings.TIMELINE_CELEBRITY_FOLLOWERS
    if celebrity == (profile.mode == AuthorMode.PULL):
        return  # pulled over the threshold; pushed (or draining back to push) under it
    # Seeded under another threshold: one unfollow and follow again, and the services decide.
    last = users[DEMO_FOLLOWER_ONLY[-1]]
    services.unfollow(follower=last, username=DEMO_CELEBRITY)
    services.follow(follower=last, username=DEMO_CELEBRITY)
    stdout.write(f"timeline: @{DEMO_CELEBRITY} re-followed to apply the threshold of "
                 f"{settings.TIMELINE_CELEBRITY_FOLLOWERS} followers")  # fmt: skip


def _report(*, stdout: Any) -> None:
    threshold = settings.TIMELINE_CELEBRITY_FOLLOWERS
    profile = Profile.objects.filter(user__username=DEMO_CELEBRITY).first()
    followers = profile.followers_count if profile else 0
    pulled = Profile.objects.filter(~Q(mode=AuthorMode.PUSH), user__username=DEMO_CELEBRITY)
    if pulled.exists():
        stdout.write(
            f"timeline: @{DEMO_CELEBRITY} has {followers} followers, over the threshold of "
            f"{threshold}: a celebrity, merged at read time. Sign in as alice to see both paths "
            "on /timeline/, and /timeline/fanout for the figures."
        )
    else:
        stdout.write(
            f"timeline: @{DEMO_CELEBRITY} has {followers} followers, not over the threshold of "
            f"{threshold} (TIMELINE_CELEBRITY_FOLLOWERS): every account is pushed. `make run` "
            f"sets it to {DEMO_CELEBRITY_FOLLOWERS} for the demo."
        )


def _user(username: str) -> User | None:
    try:
        return User.objects.get_by_natural_key(username)  # ignores case, like the constraint
    except User.DoesNotExist:
        return None


def _create_user(username: str, *, stdout: Any) -> User:
    try:
        # A password nobody knows: these accounts only follow and are followed.
        user = register_user(username=username, password=secrets.token_urlsafe(24))
    except ConflictError:
        found = _user(username)  # a concurrent seed created it
        assert found is not None
        return found
    role = "the demo's celebrity" if username == DEMO_CELEBRITY else "a follower only"
    stdout.write(f"timeline: created @{username} ({role}; nobody signs in as it)")
    return user
