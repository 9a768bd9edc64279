"""core.lua.chain: two scripts in one EVALSHA, the second skipped when the first refuses
(enforce), run anyway in shadow mode; each sees only its own KEYS and ARGV. Real Redis."""

from __future__ import annotations

import pytest

from core import lua
from core.redis import get_redis

# Admits while ARGV[1] ("budget") is above the counter in KEYS[1], counting each admission.
FIRST = """
local used = redis.call('INCR', KEYS[1])
if used > tonumber(ARGV[1]) then
  return {0, KEYS[1], ARGV[1]}
end
return {1, KEYS[1], ARGV[1]}
"""
# Echoes what it was given, and counts its own runs in KEYS[2].
THEN = """
redis.call('INCR', KEYS[2])
return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}
"""


def run(mode: str, budget: int) -> list:
    keys, args = lua.chain_args(
        first_keys=["t:used"],
        first_args=[budget],
        then_keys=["t:a", "t:runs"],
        then_args=["x", "y"],
        mode=mode,
    )
    script = get_redis().register_script(lua.chain(first=FIRST, then=THEN))
    return script(keys=keys, args=args)


def test_then_runs_with_its_own_keys_and_args_when_first_admits():
    assert run("enforce", budget=1) == [[1, "t:used", "1"], ["t:a", "t:runs", "x", "y", 2, 2]]


def test_a_refusal_skips_then_in_enforce_mode_only():
    run("enforce", budget=1)
    assert run("enforce", budget=1) == [[0, "t:used", "1"]]
    assert get_redis().get("t:runs") == "1"  # the refused call did not reach `then`
    refused, ran = run("shadow", budget=1)
    assert refused == [0, "t:used", "1"] and ran == ["t:a", "t:runs", "x", "y", 2, 2]
    assert get_redis().get("t:runs") == "2"


def test_an_unknown_mode_is_refused_before_redis():
    with pytest.raises(ValueError, match="enforce"):
        lua.chain_args(first_keys=[], first_args=[], then_keys=[], then_args=[], mode="maybe")


def test_then_with_no_args_gets_empty_tables():
    # The slices are cut with unpack: an empty slice must be an empty table, not the rest.
    keys, args = lua.chain_args(
        first_keys=["t:used"], first_args=[5], then_keys=[], then_args=[], mode="enforce"
    )
    script = get_redis().register_script(lua.chain(first=FIRST, then="return {#KEYS, #ARGV}"))
    assert script(keys=keys, args=args) == [[1, "t:used", "5"], [0, 0]]
