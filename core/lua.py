"""Two Lua scripts in one round trip: `chain(first, then)` builds a script that runs `first`, and
`then` unless `first` refused.

Each script of ours is written to run alone (its own KEYS and ARGV, one EVALSHA). On a hot path a
second round trip costs more than the work it carries: a sync worker sleeps and wakes again per
Redis reply (docs/benchmarks.md, "Where the time goes"). So the redirect runs the rate limiter's
script and the shortener's visit.lua as one script, built here from their unchanged sources: each
becomes a local function of the chained script, called with its own slice of KEYS and ARGV.

    EVALSHA <chained> <k1 + k2> <first's keys> <then's keys>
            <first's args> <then's args> <k1> <a1> <mode>

`first` gets the script's own KEYS and ARGV, unsliced: its keys and arguments come first, so it
must only read its own (fixed indexes, no `#KEYS`/`#ARGV`; every rate-limit script is so). That
spares copying on the hot path; only `then` gets tables of its own slice. `first` must answer a
table whose first element is 1 (admitted) or 0 (refused), as every rate-limit script does. The
chained script answers `{first's reply, then's reply}`, or `{first's reply}` alone when `first`
refused and `mode` is "enforce" (`then` did not run: a refused redirect counts no click). With
mode "shadow", `then` runs whatever `first` said.

Both run atomically, in one script. Redis Cluster refuses a script whose keys lie in different
slots (CROSSSLOT): a chain is for keys on one node (one Redis, or keys sharing a hash tag).
"""

from __future__ import annotations

from collections.abc import Sequence

_TEMPLATE = """\
-- Chained by core/lua.py: {first_name}, then {then_name} unless it refused (enforce mode).
local function first(KEYS, ARGV)
{first}
end

local function then_(KEYS, ARGV)
{then}
end

local n = #ARGV
local nk, na, mode = tonumber(ARGV[n - 2]), tonumber(ARGV[n - 1]), ARGV[n]
local verdict = first(KEYS, ARGV)
if verdict[1] == 0 and mode == 'enforce' then
  return {{verdict}}
end
-- unpack copies a slice in C: ~2 us less per call than a Lua loop (docs/benchmarks.md).
return {{verdict, then_({{unpack(KEYS, nk + 1)}}, {{unpack(ARGV, na + 1, n - 3)}})}}
"""


def chain(*, first: str, then: str, first_name: str = "first", then_name: str = "then") -> str:
    """The source of a script running `first`, then `then` (both Lua sources, unchanged)."""
    return _TEMPLATE.format(
        first=first.rstrip(), then=then.rstrip(), first_name=first_name, then_name=then_name
    )


def chain_args(
    *,
    first_keys: Sequence[str],
    first_args: Sequence,
    then_keys: Sequence[str],
    then_args: Sequence,
    mode: str,
) -> tuple[list[str], list]:
    """(KEYS, ARGV) of a chained script, in the layout above."""
    if mode not in ("enforce", "shadow"):
        raise ValueError(f"mode must be 'enforce' or 'shadow', not {mode!r}")
    keys = [*first_keys, *then_keys]
    args = [*first_args, *then_args, len(first_keys), len(first_args), mode]
    return keys, args
