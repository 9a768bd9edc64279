"""The timeline's Redis keys: every script touches one Redis Cluster slot (its keys share the
`{u<id>}` hash tag), and a user's keys are the user's alone."""

from redis.crc import key_slot

from timeline import feeds


def test_each_timelines_keys_share_one_slot_and_differ_between_users():
    for timeline in (feeds.home(42), feeds.posts(42), feeds.home(2**40 + 7)):
        slots = {key_slot(key.encode()) for key in timeline.keys}
        assert len(slots) == 1, timeline.keys
    assert feeds.home(1).key != feeds.home(11).key
    assert feeds.home(42).key == "tl:{u42}:home"
    assert feeds.home(42).meta_key == "tl:{u42}:home:meta"


def test_members_sort_as_their_ids_and_carry_the_author():
    small, big = feeds.member(9, 1), feeds.member(10, 2)
    assert small < big  # padded: string order is numeric order (ties of rounded scores)
    assert feeds.parse_member(feeds.member(2**62 + 1, 77)) == (2**62 + 1, 77)
    assert len(feeds.member(2**63 - 1, 1).split(":")[0]) == feeds.PAD
