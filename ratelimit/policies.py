"""Policies: what settings.RATELIMIT_POLICIES says, parsed and checked once per dict.

    RATELIMIT_POLICIES = {
        "user": {"algorithm": "token_bucket", "limit": 100, "window": 60, "key": "user"},
        ...
    }

Fields: `algorithm` (one of algorithms.ALGORITHMS), `limit` (requests per `window` seconds),
`burst` (token bucket and GCRA: capacity, default = limit), `key` (what is limited: "user",
"token", "ip", "ip_path", "user_or_ip" (the user when signed in, else the client IP) or
"username" (the name a sign-in was tried for, case-folded, as a keyed digest)), `mode`
("enforce" or "shadow": count and report, never refuse), `on_redis_down` ("fail_open", the
default, or "fail_closed": 503), `methods` (only these HTTP methods are counted; default all),
`headers_on_success` (send RateLimit headers on admitted responses too; default True; the
redirect path sends them only on refusals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ratelimit.algorithms import ALGORITHMS, BURSTABLE

KEY_KINDS = ("user", "token", "ip", "ip_path", "user_or_ip", "username")
MODES = ("enforce", "shadow")
ON_REDIS_DOWN = ("fail_open", "fail_closed")


@dataclass(frozen=True)
class Policy:
    scope: str
    algorithm: str
    limit: int
    window: float
    burst: int | None = None
    key: str = "user"
    mode: str = "enforce"
    on_redis_down: str = "fail_open"
    methods: frozenset[str] | None = None
    headers_on_success: bool = True

    @property
    def quota(self) -> int:
        """What a client can send at once: the burst where it applies, else the limit."""
        if self.algorithm in BURSTABLE and self.burst is not None:
            return self.burst
        return self.limit

    def applies_to(self, method: str | None) -> bool:
        return self.methods is None or (method or "GET").upper() in self.methods


def parse_policy(scope: str, raw: dict[str, Any]) -> Policy:
    """A Policy from its settings dict. Raises ImproperlyConfigured naming the wrong field."""
    unknown = set(raw) - {
        "algorithm", "limit", "window", "burst", "key", "mode", "on_redis_down", "methods",
        "headers_on_success",
    }  # fmt: skip
    if unknown:
        raise ImproperlyConfigured(f"RATELIMIT_POLICIES[{scope!r}]: unknown {sorted(unknown)}")
    try:
        methods = raw.get("methods")
        policy = Policy(
            scope=scope,
            algorithm=raw["algorithm"],
            limit=int(raw["limit"]),
            window=float(raw["window"]),
            burst=None if raw.get("burst") is None else int(raw["burst"]),
            key=raw.get("key", "user"),
            mode=raw.get("mode", "enforce"),
            on_redis_down=raw.get("on_redis_down", "fail_open"),
            methods=None if methods is None else frozenset(m.upper() for m in methods),
            headers_on_success=bool(raw.get("headers_on_success", True)),
        )
    except KeyError as exc:
        raise ImproperlyConfigured(
            f"RATELIMIT_POLICIES[{scope!r}]: no {exc.args[0]!r}. A new scope needs algorithm,"
            " limit and window; an override (RATELIMIT_POLICY_OVERRIDES) of an existing scope"
            " only what it changes: is the scope's name right?"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"RATELIMIT_POLICIES[{scope!r}]: {exc!r}") from exc
    for field, value, allowed in (
        ("algorithm", policy.algorithm, ALGORITHMS),
        ("key", policy.key, KEY_KINDS),
        ("mode", policy.mode, MODES),
        ("on_redis_down", policy.on_redis_down, ON_REDIS_DOWN),
    ):
        if value not in allowed:
            raise ImproperlyConfigured(
                f"RATELIMIT_POLICIES[{scope!r}][{field!r}] = {value!r}; one of {allowed}"
            )
    if policy.limit < 1 or policy.window <= 0 or (policy.burst is not None and policy.burst < 1):
        raise ImproperlyConfigured(f"RATELIMIT_POLICIES[{scope!r}]: limit/window/burst must be > 0")
    return policy


# id(settings dict) -> (the dict, its policies). The dict is kept so its id cannot be reused;
# override_settings in tests swaps in a new dict, which is parsed on first use.
_parsed: dict[int, tuple[dict, dict[str, Policy]]] = {}


def all_policies() -> dict[str, Policy]:
    """Every policy in settings.RATELIMIT_POLICIES, by scope (parsed once per dict)."""
    raw = settings.RATELIMIT_POLICIES
    found = _parsed.get(id(raw))
    if found is None or found[0] is not raw:
        policies = {scope: parse_policy(scope, spec) for scope, spec in raw.items()}
        if len(_parsed) > 32:
            _parsed.clear()
        found = _parsed[id(raw)] = (raw, policies)
    return found[1]


def policy_for(scope: str) -> Policy:
    """The policy of `scope`. Raises ImproperlyConfigured if there is none (a typo in a view's
    throttle_scope must fail loudly, not leave the endpoint unlimited)."""
    try:
        return all_policies()[scope]
    except KeyError:
        raise ImproperlyConfigured(
            f"No rate-limit policy {scope!r} in RATELIMIT_POLICIES"
        ) from None
