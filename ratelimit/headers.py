"""IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-09/10).

Both fields are Structured Field Lists of items, one per policy, named by a quoted string:

    RateLimit-Policy: "user";q=100;w=60, "link_create";q=60;w=3600
    RateLimit: "user";r=42;t=18, "link_create";r=59;t=60

`q` quota (what a client may send at once: the limit, or the burst of a token bucket/GCRA),
`w` window in seconds, `r` remaining quota units, `t` seconds until the quota resets (here: until
it is fully replenished / the window ends; a refusal says when to retry in Retry-After, which the
draft leaves to RFC 9110). Earlier drafts' RateLimit-Limit/-Remaining/-Reset are not sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from ratelimit.algorithms import Decision, whole_seconds
from ratelimit.policies import Policy


def _name(policy: Policy) -> str:
    # sf-string: scope names are [a-z_] by convention; escape anyway (a quote would end it).
    return '"' + policy.scope.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_item(policy: Policy) -> str:
    window = int(policy.window) if float(policy.window).is_integer() else policy.window
    return f"{_name(policy)};q={policy.quota};w={whole_seconds(window)}"


def ratelimit_item(policy: Policy, decision: Decision) -> str:
    return f"{_name(policy)};r={decision.remaining};t={whole_seconds(decision.reset_after)}"


def header_pairs(checks: Iterable[tuple[Policy, Decision]]) -> list[tuple[str, str]]:
    """RateLimit-Policy and RateLimit for the policies a request was counted against. Checks
    answered without Redis (degraded) are left out: their counts are unknown."""
    known = [(policy, decision) for policy, decision in checks if not decision.degraded]
    if not known:
        return []
    return [
        ("RateLimit-Policy", ", ".join(policy_item(policy) for policy, _ in known)),
        ("RateLimit", ", ".join(ratelimit_item(policy, decision) for policy, decision in known)),
    ]


def refusal_headers(*, policy: Policy, decision: Decision) -> list[tuple[str, str]]:
    """The headers of a 429: Retry-After (whole seconds, rounded up) and the RateLimit fields."""
    return [
        ("Retry-After", str(max(1, whole_seconds(decision.retry_after)))),
        *header_pairs([(policy, decision)]),
    ]
