"""The limiter's public API: check a rate (one EVALSHA), check a policy, measure a key.

    check_rate(algorithm=, key=, limit=, window_seconds=, burst=, cost=) -> Decision
    check_policy(scope=, key=) -> Decision          (mode, on_redis_down, metrics)
    key_memory_bytes(algorithm=, key=) -> int
    check_environ(scope=, environ=, ...) -> Refusal | None   (the redirect paths)
    prepare_check / run_check / settle_check / check_failed  (check_environ in steps)
    run_check_then(check, then=<another app's script>, ...)  (the check and that script in one
        round trip: the redirect's limit and visit)

Redis down. check_rate raises RateLimitBackendError; check_policy decides per policy: fail_open
(default) admits and counts `redis_down_open`; fail_closed raises RateLimiterUnavailableError
(503 + Retry-After) and counts `redis_down_closed`. The circuit breaker of core.redis (one per
Redis URL, shared with the shortener) skips Redis for BREAKER_SECONDS after a failure, so an
outage costs one timeout (0.5 s, one retry) per process per BREAKER_SECONDS, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.crypto import salted_hmac
from redis.exceptions import RedisError

from core import lua, scripts
from core import redis as core_redis
from core.redis import get_redis
from core.scripts import LuaScript, RedisUnavailable
from ratelimit import metrics
from ratelimit.algorithms import (
    ALGORITHMS,
    SCRIPTS,
    Decision,
    decision_from_reply,
    key_suffix,
    redis_key,
    script_args,
    tag_safe,
    whole_seconds,
)
from ratelimit.clientip import client_ip
from ratelimit.errors import RateLimitBackendError, RateLimiterUnavailableError
from ratelimit.headers import refusal_headers
from ratelimit.policies import Policy, policy_for

logger = logging.getLogger(__name__)

BREAKER_SECONDS = core_redis.BREAKER_SECONDS  # one breaker per Redis, shared (core.redis)
ENVIRON_CHECKED = "ratelimit.checked"  # environ/META: scopes already checked for this request


def _url() -> str:
    return settings.RATELIMIT_REDIS_URL or settings.REDIS_URL


def reset_breaker() -> None:
    """Close every breaker (tests; an operator who fixed Redis need not wait)."""
    core_redis.reset_breakers()


def check_rate(
    *,
    algorithm: str,
    key: str,
    limit: int,
    window_seconds: float,
    burst: int | None = None,
    cost: int = 1,
) -> Decision:
    """Count `cost` requests of `key` against `limit` per `window_seconds` with `algorithm`, in one
    EVALSHA, atomically across every process, on Redis's clock. A refused request consumes
    nothing. `burst`: capacity of token_bucket/gcra (default `limit`); ignored by the others.

    Raises ValueError for an unknown algorithm or a cost that could never pass, and
    RateLimitBackendError when Redis fails or its breaker is open (the caller decides)."""
    args = script_args(
        algorithm=algorithm, limit=limit, window_seconds=window_seconds, burst=burst, cost=cost
    )
    name = redis_key(algorithm=algorithm, key=key)
    try:
        reply = scripts.run(SCRIPTS[algorithm], (name,), args, url=_url())
    except RedisUnavailable as exc:
        raise RateLimitBackendError(str(exc)) from exc
    return decision_from_reply(reply, limit=limit)


def check_policy(*, scope: str, key: str) -> Decision:
    """Count one request of `key` (an identity: user id, IP...) under the policy of `scope`.

    Enforce mode: the Decision as is. Shadow mode: always allowed; a request that would have been
    refused comes back with `shadow=True` (and its real remaining/retry_after). Redis down:
    fail_open returns an allowed Decision with `degraded=True`; fail_closed raises
    RateLimiterUnavailableError (503). Every outcome is counted in ratelimit.metrics.
    Raises ImproperlyConfigured for an unknown scope."""
    policy = policy_for(scope)
    try:
        decision = check_rate(
            algorithm=policy.algorithm,
            key=f"{scope}:{key}",
            limit=policy.limit,
            window_seconds=policy.window,
            burst=policy.burst,
        )
    except RateLimitBackendError as exc:
        return _redis_down(policy, exc)
    return _verdict(policy, key, decision)


def _verdict(policy: Policy, key: str, decision: Decision) -> Decision:
    """What the policy makes of the script's decision: counted, and softened in shadow mode."""
    scope = policy.scope
    if decision.allowed:
        metrics.incr(scope=scope, outcome="allowed")
        return decision
    if policy.mode == "shadow":
        metrics.incr(scope=scope, outcome="shadow_limited")
        logger.info("ratelimit: %s would limit %s (shadow mode)", scope, key)
        return Decision(
            allowed=True,
            limit=decision.limit,
            remaining=0,
            reset_after=decision.reset_after,
            retry_after=decision.retry_after,
            shadow=True,
        )
    metrics.incr(scope=scope, outcome="limited")
    return decision


def _redis_down(policy: Policy, exc: Exception | None = None) -> Decision:
    """Redis failed (or its breaker is open): admit (fail_open, degraded) or raise (fail_closed)."""
    if policy.on_redis_down == "fail_closed":
        metrics.incr(scope=policy.scope, outcome="redis_down_closed")
        raise RateLimiterUnavailableError(
            "The rate limiter is unavailable; try again shortly.",
            retry_after=whole_seconds(BREAKER_SECONDS),
        ) from exc
    metrics.incr(scope=policy.scope, outcome="redis_down_open")
    return Decision(
        allowed=True,
        limit=policy.limit,
        remaining=policy.quota,
        reset_after=0.0,
        retry_after=0.0,
        degraded=True,
    )


def key_memory_bytes(*, algorithm: str, key: str) -> int:
    """MEMORY USAGE (exact: SAMPLES 0) of the key holding `key`'s state under `algorithm`; 0 if
    it is absent (never used, or expired). Raises RateLimitBackendError if Redis fails."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown algorithm {algorithm!r}; one of {ALGORITHMS}.")
    try:
        used = get_redis(_url()).memory_usage(redis_key(algorithm=algorithm, key=key), samples=0)
    except RedisError as exc:
        raise RateLimitBackendError(str(exc)) from exc
    return int(used or 0)


# --- Identities: what a policy's `key` means for a request --------------------------------------


def identity(
    *,
    policy: Policy,
    meta: Mapping[str, Any],
    user_id: int | None = None,
    token: str | None = None,
    path: str = "",
    username: str | None = None,
) -> str | None:
    """The identity `policy.key` names, or None if this request has none (a user-keyed policy
    for an anonymous caller: another policy covers it; a username-keyed one without a name)."""
    if policy.key == "user" or (policy.key == "user_or_ip" and user_id is not None):
        return None if user_id is None else f"u{user_id}"
    if policy.key == "username":
        if not username:
            return None
        # Case-folded (sign-in ignores case: "Alice" guesses at alice's password too), and a keyed
        # digest, not the name: a plain hash of a username is undone by hashing a list of names.
        folded = unicodedata.normalize("NFKC", username).casefold()
        return "n" + salted_hmac("ratelimit.username", folded, algorithm="sha256").hexdigest()[:24]
    if policy.key == "token":
        if not token:
            return None
        # Never the token itself in Redis (MONITOR, a dump): a digest identifies it as well.
        return "t" + hashlib.blake2b(token.encode(), digest_size=12).hexdigest()
    ip = client_ip(meta)
    if policy.key in ("ip", "user_or_ip"):
        return ip
    if len(path) > 64:  # ip_path: bound the key's size whatever the client sends
        path = hashlib.blake2b(path.encode(), digest_size=12).hexdigest()
    return f"{ip}|{path}"


# --- The redirect paths (no DRF): a refusal as status + headers ---------------------------------


@dataclass(frozen=True)
class Refusal:
    """A request refused by a policy: 429 (limited) or 503 (Redis down, fail_closed)."""

    status: int
    headers: list[tuple[str, str]]
    message: str


class _ScopePlan(NamedTuple):
    """What every check of one scope shares, worked out once (the redirect asks per request)."""

    policy: Policy
    args: tuple[int, ...]  # ARGV for one request
    script: LuaScript
    key_prefix: str  # "rl:{<scope>:"; + identity + key_suffix = redis_key(key="<scope>:<id>")
    key_suffix: str  # "}:<algorithm's suffix>"
    redis_url: str  # the Redis holding the limiter's keys (RATELIMIT_REDIS_URL or REDIS_URL)


_plans: dict[str, _ScopePlan] = {}


def _plan(scope: str) -> _ScopePlan:
    plan = _plans.get(scope)
    if plan is None:
        policy = policy_for(scope)
        plan = _plans[scope] = _ScopePlan(
            policy=policy,
            args=tuple(
                script_args(
                    algorithm=policy.algorithm,
                    limit=policy.limit,
                    window_seconds=policy.window,
                    burst=policy.burst,
                    cost=1,
                )
            ),
            script=SCRIPTS[policy.algorithm],
            # algorithms.redis_key owns the layout: its key for "<scope>:" less the suffix.
            key_prefix=redis_key(algorithm=policy.algorithm, key=f"{scope}:").removesuffix(
                key_suffix(policy.algorithm)
            ),
            key_suffix=key_suffix(policy.algorithm),
            redis_url=_url(),
        )
    return plan


@receiver(setting_changed)
def _forget_plans(*, setting: str, **_: Any) -> None:
    if setting in ("RATELIMIT_POLICIES", "RATELIMIT_REDIS_URL", "REDIS_URL"):
        _plans.clear()


class EnvironCheck(NamedTuple):
    """One policy check of one request, ready to run: alone (`run_check`), or inside another
    script in the same round trip (the redirect fast path chains it with the visit: core.lua).
    Then `settle_check` turns the script's reply into the answer, or `check_failed` if Redis
    failed. (A NamedTuple, not a dataclass: one is built per redirect.)"""

    identity: str
    redis_key: str
    plan: _ScopePlan

    @property
    def policy(self) -> Policy:
        return self.plan.policy

    @property
    def args(self) -> tuple[int, ...]:
        return self.plan.args

    @property
    def script(self) -> LuaScript:
        return self.plan.script

    @property
    def redis_url(self) -> str:
        return self.plan.redis_url


def prepare_check(
    *, scope: str, environ: dict[str, Any], path: str = "", force: bool = False
) -> EnvironCheck | None:
    """The check of `scope`'s policy (ip or ip_path keyed) for a WSGI environ / request.META, or
    None if there is nothing to check: the scope was already checked for this request (the fast
    path and Django's view share the environ, so a request that falls through is not counted
    twice; `force` counts again, for a check that must run per attempt), the policy skips this
    method, or the request has no identity for it. Marks the scope as checked."""
    checked = environ.setdefault(ENVIRON_CHECKED, set())
    if scope in checked and not force:
        return None
    checked.add(scope)
    plan = _plan(scope)
    if not plan.policy.applies_to(environ.get("REQUEST_METHOD")):
        return None
    key = identity(policy=plan.policy, meta=environ, path=path)
    if key is None:
        return None
    return EnvironCheck(key, plan.key_prefix + tag_safe(key) + plan.key_suffix, plan)


def settle_check(check: EnvironCheck, reply: list[int]) -> Refusal | None:
    """None to admit, or the Refusal (429) to answer, from the reply of `check.script`."""
    policy = check.policy
    if reply[0] == 1:  # admitted: the common case needs no Decision
        metrics.incr(scope=policy.scope, outcome="allowed")
        return None
    decision = _verdict(policy, check.identity, decision_from_reply(reply, limit=policy.limit))
    if decision.allowed:
        return None
    return Refusal(
        429,
        refusal_headers(policy=policy, decision=decision),
        f"Too many requests; retry in {whole_seconds(decision.retry_after)} s.",
    )


def check_failed(check: EnvironCheck) -> Refusal | None:
    """Redis failed while running `check`: None to admit (fail_open), or a 503 (fail_closed)."""
    try:
        _redis_down(check.policy)
    except RateLimiterUnavailableError as exc:
        return Refusal(503, [("Retry-After", str(exc.retry_after))], exc.message)
    return None


def run_check(check: EnvironCheck) -> Refusal | None:
    """Run `check` alone (one EVALSHA). Never raises for Redis."""
    try:
        reply = scripts.run(check.script, (check.redis_key,), check.args, url=check.redis_url)
    except RedisUnavailable:
        return check_failed(check)
    return settle_check(check, reply)


class CheckedReply(NamedTuple):
    """`run_check_then`'s answer: the check's Refusal (None: admitted), and the reply of the
    script that ran after it (None when the check refused it: it did not run)."""

    refusal: Refusal | None
    reply: Any


def run_check_then(
    check: EnvironCheck, *, then: LuaScript, keys: Sequence[str], args: Sequence
) -> CheckedReply:
    """`check`, then another app's script `then` unless the check refused (enforce mode; in
    shadow mode it always runs), as one script in one round trip (core.scripts.chain) on the
    limiter's Redis, which must hold `keys` too (check.redis_url). The check is settled here.
    Raises RedisUnavailable: `check_failed(check)` then says whether to refuse.

    The redirect runs its visit so: a refused request reaches no link and counts no click, and
    an admitted one costs one round trip for both."""
    script, script_keys, script_args = _chained(check, then, keys, args)
    reply = scripts.run(script, script_keys, script_args, url=check.plan.redis_url)
    return _settle_chained(check, reply)


async def run_check_then_async(
    check: EnvironCheck, *, then: LuaScript, keys: Sequence[str], args: Sequence
) -> CheckedReply:
    """`run_check_then` for asyncio code (core.scripts.run_async)."""
    script, script_keys, script_args = _chained(check, then, keys, args)
    reply = await scripts.run_async(script, script_keys, script_args, url=check.plan.redis_url)
    return _settle_chained(check, reply)


def _chained(
    check: EnvironCheck, then: LuaScript, keys: Sequence[str], args: Sequence
) -> tuple[LuaScript, list[str], list]:
    script_keys, script_args = lua.chain_args(
        first_keys=(check.redis_key,),
        first_args=check.args,
        then_keys=keys,
        then_args=args,
        mode="shadow" if check.plan.policy.mode == "shadow" else "enforce",
    )
    return scripts.chain(check.plan.script, then), script_keys, script_args


def _settle_chained(check: EnvironCheck, reply: list) -> CheckedReply:
    return CheckedReply(settle_check(check, reply[0]), reply[1] if len(reply) > 1 else None)


def check_environ(
    *, scope: str, environ: dict[str, Any], path: str = "", force: bool = False
) -> Refusal | None:
    """Apply `scope`'s policy (ip or ip_path keyed) to a WSGI environ / request.META: None to
    admit, or the Refusal to answer (see prepare_check for when nothing is counted). Never
    raises for Redis."""
    check = prepare_check(scope=scope, environ=environ, path=path, force=force)
    return None if check is None else run_check(check)


# --- Measuring: what a full key costs (the lab's memory table) -----------------------------------


def full_window_memory_bytes(
    *,
    key: str,
    limit: int,
    window_seconds: float,
    burst: int | None = None,
    algorithms: Sequence[str] = ALGORITHMS,
) -> dict[str, int]:
    """MEMORY USAGE (exact: SAMPLES 0) of `key`'s state under each of `algorithms` right after
    `limit` admitted requests, each one the algorithm's script exactly as check_rate runs it, back
    to back; then the keys are deleted. One pipelined round trip, not transactional (a MULTI of
    5,000 scripts would stall every other client): len(algorithms) x (limit + 3) commands.

    `key` must be a scratch identity of the caller's, unused (a random one): its keys are filled
    from empty and deleted. A pipeline cut off mid-way leaves at most one key per algorithm, gone
    by its own TTL. Raises RateLimitBackendError if Redis fails or its breaker is open."""
    url = _url()
    pipe = get_redis(url).pipeline(transaction=False)
    for algorithm in algorithms:
        script = SCRIPTS[algorithm]
        args = script_args(
            algorithm=algorithm, limit=limit, window_seconds=window_seconds, burst=burst, cost=1
        )
        name = redis_key(algorithm=algorithm, key=key)
        # A NOSCRIPT inside a pipeline cannot be retried as core.scripts.run retries: load first.
        pipe.script_load(script.source)
        for _ in range(limit):
            pipe.execute_command("EVALSHA", script.sha, 1, name, *args)
        pipe.memory_usage(name, samples=0)
        pipe.delete(name)
    try:
        replies = core_redis.guarded(pipe.execute, url=url)
    except RedisError as exc:
        raise RateLimitBackendError(str(exc)) from exc
    per_algorithm = limit + 3  # SCRIPT LOAD, the fill, MEMORY USAGE, DEL
    return {
        algorithm: int(replies[i * per_algorithm + limit + 1] or 0)
        for i, algorithm in enumerate(algorithms)
    }
