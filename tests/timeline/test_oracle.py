"""The oracle test (issue #13, "Proof"): a random follow graph with celebrities, inactive users,
threshold crossings both ways, follows, unfollows, deletes and replies, interleaved with reads,
Redis flushes and holes punched into feeds, with a window of 8 entries so that trimming and
floors matter. Every read that can be exact is compared with the pull model computed from
PostgreSQL (tests/timeline/helpers.py: oracle_ids), page by page (max_id, since_id, min_id).

Two variants: the outbox run in-process, events in random order and some left pending while
reads go on (fast, and the interleavings are the seed's); and a real `fanout` worker process,
reads racing its deliveries. That worker is the test's own (helpers.FanoutWorker), started with
the test's settings: override_settings does not reach the session's worker (tests/conftest.py),
which would trim feeds to 800 entries while this process assumes 8.

Reads while events are pending: deletes, unfollows and drains pending never make a read wrong
(reads filter stale entries and merge the posts of celebrities, draining ones too), nor does a
pending fan-out or backfill of a celebrity (merged). A pending fan-out of a pushed author's tweet,
or a pending backfill of a pushed followee, does: the feed does not have those tweets yet. A
read is compared with the oracle whenever none of those is pending for its reader.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from core.redis import get_redis
from tests.accounts.factories import UserFactory
from tests.timeline.helpers import (
    FanoutWorker,
    fanout_only_to,
    ids,
    oracle_ids,
    run_outbox,
    wait_for_outbox,
)
from timeline import home, services
from timeline.models import AuthorMode, Follow, Profile, Tweet

SIZE = 8  # entries per feed: a handful of tweets already overflows the window
THRESHOLD = 3  # more followers than this: a celebrity
USERS = 12
STARS = 2  # accounts many follows go to: they cross the threshold both ways


def read(user, **bounds) -> home.HomePage:
    return home.home_timeline(reader=user, **bounds)


class World:
    """The scenario's driver: the users, their live tweets, and counters of what happened (the
    test asserts that the scenario covered each case, so that it cannot pass by doing little)."""

    def __init__(
        self, rng: random.Random, *, commit: Callable, run_some: Callable, run_these: Callable
    ) -> None:
        self.rng = rng
        self.commit = commit  # runs a service call and what follows its commit
        self.run_some = run_some  # runs part of the pending outbox (or nothing)
        self.run_these = run_these  # until these events (ids) are done: run or wait for them
        self.users = [UserFactory() for _ in range(USERS)]
        self.stars = self.users[:STARS]
        self.tweets: list[Tweet] = []
        self.seen = Counter()
        self.modes: dict[int, str] = {}

    # --- the operations ------------------------------------------------------------------------

    def post(self, author=None) -> None:
        author = author or self.rng.choice(self.users)
        reply_to = (
            self.rng.choice(self.tweets).id if self.tweets and self.rng.random() < 0.3 else None
        )
        tweet = self.commit(lambda: services.post_tweet(
            author=author, text=f"t{len(self.tweets)}", reply_to_id=reply_to))  # fmt: skip
        self.tweets.append(tweet)
        self.seen["reply" if reply_to else "post"] += 1

    def delete(self) -> None:
        if self.tweets:
            tweet = self.tweets.pop(self.rng.randrange(len(self.tweets)))
            self.commit(lambda: services.delete_tweet(user=tweet.author, tweet_id=tweet.id))
            self.seen["delete"] += 1
            followers = set(
                Follow.objects.filter(followee=tweet.author).values_list("follower_id", flat=True)
            )
            readers = [u for u in self.users if u.id in followers]
            if readers:  # gone at once, before its removal from feeds ran
                self.read_some(self.rng.choice(readers), exact=True)

    def follow(self, followee=None) -> None:
        follower = self.rng.choice(self.users)
        followee = followee or self.rng.choice(self.users)
        if (
            follower != followee
            and self.commit(
                lambda: services.follow(follower=follower, username=followee.username)
            ).changed
        ):
            self.seen["follow"] += 1

    def unfollow(self, followee=None) -> None:
        edges = Follow.objects.filter(**({"followee": followee} if followee else {}))
        edges = list(edges.order_by("id").select_related("follower", "followee"))
        if edges:
            edge = self.rng.choice(edges)
            self.commit(lambda: services.unfollow(follower=edge.follower,
                                                  username=edge.followee.username))  # fmt: skip
            self.seen["unfollow"] += 1
            if self.rng.random() < 0.7:  # the author's tweets gone at once, before the clean-up
                self.read_some(edge.follower, exact=True)

    def go_inactive(self) -> None:
        """A user away for 40 days: the fan-out skips them. Those they follow post meanwhile; the
        user returns (a read, exact)."""
        user = self.rng.choice(self.users[STARS:])
        Profile.objects.filter(user=user).update(last_active_at=timezone.now() - timedelta(days=40))
        self.seen["inactive"] += 1
        followed = set(Follow.objects.filter(follower=user).values_list("followee", flat=True))
        if followed:
            for _ in range(2):
                self.post(self.rng.choice([u for u in self.users if u.id in followed]))
            self.run_these(self.unsafe_events(user))  # fanned out while the user is away
            self.read_some(user, exact=True)
            self.seen["returned"] += 1

    def flush(self) -> None:
        get_redis().flushdb()
        self.seen["flush"] += 1

    def punch_hole(self) -> None:
        client = get_redis()
        keys = client.keys("tl:*:home") + client.keys("tl:*:posts")
        if not keys:
            return
        key = self.rng.choice(sorted(keys))
        owner = int(key.split("{u", 1)[1].split("}", 1)[0])
        how = self.rng.random()
        if how < 0.7:
            members = client.zrange(key, 0, -1)
            if members:
                client.zrem(key, self.rng.choice(members))  # lost behind the scripts' back
        elif how < 0.85:
            client.delete(key)  # the set lost, its meta kept
        else:
            client.delete(f"{key}:meta")  # the meta lost, the set kept
        self.seen["hole"] += 1
        if key.endswith(":home"):
            readers = [u for u in self.users if u.id == owner]
        else:
            fans = set(Follow.objects.filter(followee_id=owner).values_list("follower", flat=True))
            readers = [u for u in self.users if u.id in fans]
        if readers:  # the damage is noticed, not paged over
            self.read_some(self.rng.choice(readers), exact=True, shape="window")

    def note_modes(self) -> None:
        """Count the authors' changes of mode since the last look ("push->pull", ...)."""
        modes = dict(Profile.objects.values_list("user_id", "mode"))
        for user_id, mode in modes.items():
            before = self.modes.get(user_id, AuthorMode.PUSH)
            if mode != before:
                self.seen[f"{before}->{mode}"] += 1
        self.modes = modes

    # --- reads ---------------------------------------------------------------------------------

    def exact_for(self, user) -> bool:
        """Whether a read of `user` must be exact now (the module's docstring)."""
        return not self.unsafe_events(user)

    def unsafe_events(self, user) -> list[int]:
        """The pending events that a read of `user` cannot be exact without."""
        followed = set(Follow.objects.filter(follower=user).values_list("followee_id", flat=True))
        pushed = set(
            Profile.objects.filter(user_id__in=followed, mode=AuthorMode.PUSH).values_list(
                "user_id", flat=True
            )
        )
        unsafe = []
        for event_id, topic, payload in OutboxEvent.objects.values_list("id", "topic", "payload"):
            if (
                topic == services.FAN_OUT
                and payload["author_id"] in pushed
                and Tweet.objects.filter(id=payload["tweet_id"]).exists()
            ) or (
                topic == services.FOLLOW
                and payload["follower_id"] == user.id
                and payload["followee_id"] in pushed
            ):
                unsafe.append(event_id)
        return unsafe

    def read_some(self, user=None, *, exact: bool = False, shape: str | None = None) -> None:
        """One read of `user` (default: a random user, often a follower of a star), of a random
        shape; compared with the oracle if it must be exact now (either way it has its effects:
        a rebuild, a return from inactivity). `exact`: run (or wait for) the events it cannot be
        exact without first, and compare."""
        if user is None:
            fans = set(
                Follow.objects.filter(followee__in=self.stars).values_list("follower_id", flat=True)
            )
            if fans and self.rng.random() < 0.5:
                user = self.rng.choice([u for u in self.users if u.id in fans])
            else:
                user = self.rng.choice(self.users)
        if exact:
            self.run_these(self.unsafe_events(user))
        exact = self.exact_for(user)
        expected = oracle_ids(user.id)
        pivot = int(self.rng.choice(expected)) if expected else 1
        shape = shape or self.rng.choice(["first", "max_id", "since_id", "min_id"])
        if shape == "first":
            limit = self.rng.randint(3, SIZE + 2)
            page, want = read(user, limit=limit), expected[:limit]
        elif shape == "window":
            page, want = read(user, limit=SIZE + 2), expected[: SIZE + 2]
        elif shape == "max_id":
            page, want = (
                read(user, max_id=pivot, limit=4),
                oracle_ids(user.id, max_id=pivot, limit=4),
            )
        elif shape == "since_id":
            page = read(user, since_id=pivot, limit=3)
            want = oracle_ids(user.id, since_id=pivot, limit=3)
        else:
            page = read(user, min_id=pivot, limit=3)
            want = oracle_ids(user.id, since_id=pivot, limit=3, ascending=True)[::-1]
        self._count(page)
        if exact:
            assert ids(page) == want, (user.id, shape, pivot)
            self.seen["read_checked"] += 1
            self.seen["read_checked_pending"] += OutboxEvent.objects.exists()
        else:
            self.seen["read_unchecked"] += 1

    def check_everyone(self, *, only_exact: bool = False) -> None:
        """Every user's home timeline, paged with a small limit by max_id and once by since_id,
        equals the oracle; so does paging by min_id, for a quarter of them (those pages are mostly
        answered from PostgreSQL: a window's floor is above where they start)."""
        for n, user in enumerate(self.users):
            if only_exact and not self.exact_for(user):
                continue
            expected = oracle_ids(user.id)
            down, max_id = [], None
            while True:
                page = read(user, max_id=max_id, limit=4)
                self._count(page)
                if not page.items:
                    break
                down += ids(page)
                max_id = int(page.items[-1]["id"])
            assert down == expected, f"paging down by max_id, user {user.id}"
            if n % 4 == 0:
                up, min_id = [], 0
                while True:
                    got = ids(read(user, min_id=min_id, limit=4))
                    if not got:
                        break
                    up += reversed(got)
                    min_id = int(got[0])
                assert up == expected[::-1], f"paging up by min_id, user {user.id}"
            pivot = int(self.rng.choice(expected)) if expected else 1
            got = ids(read(user, since_id=pivot, limit=3))
            assert got == oracle_ids(user.id, since_id=pivot, limit=3), f"since_id, user {user.id}"
            self.seen["timeline_checked"] += 1

    def _count(self, page: home.HomePage) -> None:
        self.seen[f"source:{page.source}"] += 1
        self.seen["rebuilt"] += page.rebuilt
        self.seen["merged"] += page.merged > 0

    # --- the scenario --------------------------------------------------------------------------

    def build_graph(self) -> None:
        for user in self.users:
            self.commit(lambda u=user: services.ensure_profiles(u.id))
            for followee in self.rng.sample(self.users, 2):
                if followee != user:
                    self.commit(
                        lambda u=user, f=followee: services.follow(follower=u, username=f.username)
                    )

    def step(self) -> None:
        ops = [
            (22, self.post),
            (8, lambda: self.post(self.rng.choice(self.stars))),
            (7, self.delete),
            (10, self.follow),
            (13, lambda: self.follow(self.rng.choice(self.stars))),
            (6, self.unfollow),
            (8, lambda: self.unfollow(self.rng.choice(self.stars))),
            (4, self.go_inactive),
            (10, self.read_some),
            (1, self.flush),
            (6, self.punch_hole),
            (8, self.run_some),
        ]
        weights = [w for w, _ in ops]
        self.rng.choices([op for _, op in ops], weights=weights)[0]()
        self.note_modes()

    def assert_covered(self) -> None:
        """The scenario did what it claims: otherwise this test could pass by doing nothing."""
        seen = self.seen
        # A worker may drain an author between two looks: pull->push is both.
        seen["back under"] = seen["pull->draining"] + seen["pull->push"]
        seen["pushed again"] = seen["draining->push"] + seen["pull->push"]
        wanted = ["post", "reply", "delete", "follow", "unfollow", "inactive", "returned",
                  "flush", "hole", "push->pull", "back under", "pushed again", "read_checked",
                  "read_checked_pending", "rebuilt", "merged", "source:feed", "source:feed+sql",
                  "timeline_checked"]  # fmt: skip
        missing = [name for name in wanted if not seen[name]]
        assert not missing, f"the scenario never did {missing}: {dict(seen)}"


def _mode(user) -> str:
    return Profile.objects.filter(user=user).values_list("mode", flat=True).first() or "push"


def _scenario(world: World, *, steps: int, checkpoints: int, settle: Callable) -> None:
    world.build_graph()
    settle()
    for user in world.users:  # every feed exists (the rest of the test loses some again)
        read(user)
    for checkpoint in range(checkpoints):
        flush_at = world.rng.randrange(steps) if checkpoint == 0 else -1  # once, at least
        for step in range(steps):
            world.step()
            if step == flush_at:
                world.flush()
        if checkpoint % 2 == 0:
            world.check_everyone(only_exact=True)  # while events are pending
        settle()
        world.note_modes()
        world.check_everyone()
    world.assert_covered()


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [13, 14, 15])
@override_settings(TIMELINE_FEED_SIZE=SIZE, TIMELINE_CELEBRITY_FOLLOWERS=THRESHOLD)
def test_every_timeline_equals_the_pull_model_with_the_outbox_run_in_process(
    seed, django_capture_on_commit_callbacks, monkeypatch
):
    rng = random.Random(seed)
    # This variant runs the events itself; the queue is the other variant's.
    monkeypatch.setattr(outbox, "kick", lambda event_id, topic: None)

    def commit(call):
        # The test's transaction never commits: run what follows a commit (the write-through)
        # when the service returns.
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    def run_some():
        # Part of the backlog, in random order (workers run events in any order).
        pending = list(OutboxEvent.objects.values_list("id", flat=True))
        for event_id in rng.sample(pending, k=rng.randint(0, len(pending))):
            while outbox.relay(event_id) == "more":
                pass

    def run_these(event_ids):
        for event_id in event_ids:
            while outbox.relay(event_id) == "more":
                pass

    world = World(rng, commit=commit, run_some=run_some, run_these=run_these)
    _scenario(world, steps=30, checkpoints=4, settle=run_outbox)


@pytest.mark.django_db(transaction=True)
@override_settings(TIMELINE_FEED_SIZE=SIZE, TIMELINE_CELEBRITY_FOLLOWERS=THRESHOLD)
def test_every_timeline_equals_the_pull_model_with_real_fanout_workers():
    rng = random.Random(31)
    worker = FanoutWorker(TIMELINE_FEED_SIZE=SIZE, TIMELINE_CELEBRITY_FOLLOWERS=THRESHOLD)
    with fanout_only_to():
        worker.start()
        try:
            world = World(
                rng,
                commit=lambda call: call(),
                run_some=lambda: None,
                run_these=lambda event_ids: wait_for_outbox(worker, events=event_ids),
            )
            _scenario(world, steps=60, checkpoints=2, settle=lambda: wait_for_outbox(worker))
        finally:
            worker.stop()


@pytest.mark.django_db
@override_settings(TIMELINE_CELEBRITY_FOLLOWERS=2)
def test_a_fan_out_that_waited_while_its_author_crossed_the_threshold_still_delivers():
    """What the oracle found (a missing tweet, seed 14 of an earlier, longer scenario), pinned: a
    tweet posted just before its author became a celebrity, its fan-out run after (so while the
    author was pulled), then the author back under the threshold. No drain covers the tweet
    (drains start at the pull period's first id), so its fan-out must push it whenever it runs."""
    star, fans = UserFactory(), [UserFactory() for _ in range(3)]
    for fan in fans[:2]:
        services.follow(follower=fan, username=star.username)
    run_outbox()
    for fan in fans:
        read(fan)
    tweet = services.post_tweet(author=star, text="posted while pushed")
    services.follow(follower=fans[2], username=star.username)  # 3 > 2: pulled from now on
    assert _mode(star) == AuthorMode.PULL
    run_outbox()  # the fan-out runs now
    services.unfollow(follower=fans[2], username=star.username)  # back under: drained, pushed
    run_outbox()
    assert _mode(star) == AuthorMode.PUSH

    for fan in fans[:2]:
        assert ids(read(fan)) == oracle_ids(fan.id) == [str(tweet.id)]
