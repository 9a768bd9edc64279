"""Counting a tweet's characters (timeline/text.py): Twitter's count, and a linear lower bound
that refuses texts the parser would spend seconds on (it is superlinear in dotted runs)."""

import random

import pytest

from core.errors import InvalidInputError
from timeline import text

ATTACKS = ["a." * 1999, "1." * 1999, "www." * 999, "a.b-" * 999, "https://" + "a." * 500,
           " ".join(["a." * 8] * 200)]  # fmt: skip


@pytest.mark.parametrize("attack", ATTACKS)
def test_dotted_runs_are_refused_by_the_bound_without_the_parser(attack, monkeypatch):
    def parser_reached(_text):
        raise AssertionError("the 42-second parser was reached")

    monkeypatch.setattr(text, "weighted_length", parser_reached)
    with pytest.raises(InvalidInputError, match="At most 280"):
        text.clean_text(attack)


def test_the_bound_never_exceeds_twitters_count():
    rng = random.Random(7)
    pieces = ["a", ".", "/", "é", "日", "😀", "👨\u200d👩\u200d👧", "1\ufe0f\u20e3", "http://",
              "example.com", "#tag", "@x", "https://a.example/x.html?v=1.2", "a." * 5]  # fmt: skip
    # Not "a." * 20 glued to a domain: a host of over 16 dots is the documented deviation.
    for _ in range(1500):
        words = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
                 for _ in range(rng.randint(1, 30))]  # fmt: skip
        sample = " ".join(words)
        assert text._lower_bound(sample) <= text.weighted_length(sample), sample


def test_long_links_and_a_full_tweet_still_pass():
    assert text.clean_text("see https://example.com/" + "x" * 2000).startswith("see")
    assert text.clean_text("a." * 140) == "a." * 140
