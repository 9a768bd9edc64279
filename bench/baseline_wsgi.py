"""The baseline of bench/bench_redirect.py: the least a WSGI app can do to serve a cached redirect.

    GET /{code}   one Redis GET of `bench:redirect:{code}`; a URL -> 302, "" -> 404
                  (negative cache). On a miss (key absent) and only if BENCH_BASELINE_DSN is set:
                  one indexed SELECT on shortener_link, one SET with the shortener's TTLs, then the
                  same answer: the floor under the shortener's cache-miss path.
    GET /static   a constant 302 with no I/O: the floor of gunicorn + the load generator.

`limited_application` is the same app with the shortener's per-IP redirect limit in front, the
least a rate-limited redirect must do: one EVALSHA running the limiter's own script
(ratelimit/lua/<algorithm>.lua, the policy's ARGV) chained with the `GET` by core/lua.py, as the
fast path chains it with visit.lua. The client is the rightmost X-Forwarded-For entry (the
benchmark's load balancer), else REMOTE_ADDR. A refusal is a 429. Configured by BENCH_LIMIT_
ALGORITHM and BENCH_LIMIT_ARGS (comma-separated) from bench/bench_redirect.py.

`counted_application` is `limited_application` that also counts the click as issue #4 asks, the
least a rate-limited, counted redirect must do: in the same script, after the GET, one HINCRBY
(the click) and one XADD (its event: code, Referer, and two empty fields where ours has the
device class and bot flag, capped like ours with MAXLEN ~ BENCH_EVENTS_MAXLEN) on keys of its own
(COUNTED_KEYS). No link rules, no max-clicks gate, no User-Agent classification: the floor under
ours' cached hit, given both issues' requirements.

Every 302 is "the same redirect" as ours (issue #4): Location, then the headers the shortener
sends with a 302 (Cache-Control, Referrer-Policy; BENCH_REDIRECT_HEADERS, a JSON list of pairs
from shortener.visits.redirect_headers), and Content-Length.

No framework, no middleware, no click counting, no expiry rules: everything the real redirect does
beyond this is what it costs. It is served by gunicorn with the same settings as config.wsgi.
Configured by the environment that bench/bench_redirect.py gives it (not Django's settings, so
nothing of Django is imported): BENCH_REDIS_URL, BENCH_BASELINE_DSN, BENCH_CACHE_SECONDS,
BENCH_NEGATIVE_CACHE_SECONDS, BENCH_REDIRECT_HEADERS.

redis-py with hiredis (installed from requirements.txt, picked up automatically). One connection
pool per process: gunicorn imports this module in each worker after the fork (no --preload), and
a sync worker serves one request at a time, so each pool holds one connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis

from core.lua import chain, chain_args  # no Django: plain string building

KEY_PREFIX = "bench:redirect:"

_redis = redis.Redis.from_url(
    os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    decode_responses=True,
    socket_connect_timeout=0.5,
    socket_timeout=0.5,
)
_DSN = os.environ.get("BENCH_BASELINE_DSN", "")
_TTL = int(os.environ.get("BENCH_CACHE_SECONDS", "3600"))
_NEGATIVE_TTL = int(os.environ.get("BENCH_NEGATIVE_CACHE_SECONDS", "60"))
_database: Any = None  # one psycopg connection per process, opened on the first miss

# The headers after Location in ours' 302, as [[name, value], ...].
_REDIRECT_HEADERS = [
    (name, value) for name, value in json.loads(os.environ.get("BENCH_REDIRECT_HEADERS", "[]"))
]
_REDIRECT_HEADERS.append(("Content-Length", "0"))

_EMPTY: list[bytes] = []
_NOT_FOUND_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "0")]


def _redirect(start_response: Callable, url: str) -> Iterable[bytes]:
    start_response("302 Found", [("Location", url), *_REDIRECT_HEADERS])
    return _EMPTY


def _not_found(start_response: Callable) -> Iterable[bytes]:
    start_response("404 Not Found", _NOT_FOUND_HEADERS)
    return _EMPTY


def _long_url_from_database(code: str) -> str | None:
    global _database
    import psycopg  # only the miss path needs it

    if _database is None or _database.closed:
        _database = psycopg.connect(_DSN, autocommit=True)
    row = _database.execute(
        "SELECT long_url FROM shortener_link WHERE code = %s", (code,), prepare=True
    ).fetchone()
    return None if row is None else row[0]


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    code = environ.get("PATH_INFO", "/")[1:]
    if code == "static":
        return _redirect(start_response, "https://example.com/")
    key = KEY_PREFIX + code
    url = _redis.get(key)
    if url is None and _DSN:
        url = _long_url_from_database(code) or ""
        _redis.set(key, url, ex=_TTL if url else _NEGATIVE_TTL)
    if not url:
        return _not_found(start_response)
    return _redirect(start_response, url)


_LIMIT_ALGORITHM = os.environ.get("BENCH_LIMIT_ALGORITHM", "gcra")
_LIMIT_ARGS = [int(x) for x in os.environ.get("BENCH_LIMIT_ARGS", "600,60000000,200,1").split(",")]
_LIMITED_GET = _redis.register_script(
    chain(
        first=(Path(__file__).resolve().parents[1] / "ratelimit" / "lua")
        .joinpath(f"{_LIMIT_ALGORITHM}.lua")
        .read_text(),
        then="return redis.call('GET', KEYS[1])",
    )
)
_REFUSED_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "0"), ("Retry-After", "1")]


def limited_application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    return _limited(environ, start_response, _LIMITED_GET, count=False)


_EVENTS_MAXLEN = int(os.environ.get("BENCH_EVENTS_MAXLEN", "100000"))
COUNTED_KEYS = ("bench:redirect-clicks:pending", "bench:redirect-clicks:events")
_COUNTED_GET = _redis.register_script(
    chain(
        first=(Path(__file__).resolve().parents[1] / "ratelimit" / "lua")
        .joinpath(f"{_LIMIT_ALGORITHM}.lua")
        .read_text(),
        then="""
local url = redis.call('GET', KEYS[1])
if url and url ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'l', ARGV[1], 'r', ARGV[2], 'd', '',
             'b', '')
end
return url""",
    )
)


def counted_application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    return _limited(environ, start_response, _COUNTED_GET, count=True)


def _limited(
    environ: dict, start_response: Callable, script: Any, *, count: bool
) -> Iterable[bytes]:
    code = environ.get("PATH_INFO", "/")[1:]
    if code == "static":
        return _redirect(start_response, "https://example.com/")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    client = forwarded.rsplit(",", 1)[-1].strip() if forwarded else environ.get("REMOTE_ADDR")
    then_keys, then_args = [KEY_PREFIX + code], []
    if count:
        then_keys += COUNTED_KEYS
        then_args += [code, environ.get("HTTP_REFERER", ""), _EVENTS_MAXLEN]
    keys, args = chain_args(
        first_keys=[f"bench:rl:{{redirect:{client}}}:{_LIMIT_ALGORITHM}"],
        first_args=_LIMIT_ARGS,
        then_keys=then_keys,
        then_args=then_args,
        mode="enforce",
    )
    reply = script(keys=keys, args=args)
    if len(reply) == 1:
        start_response("429 Too Many Requests", _REFUSED_HEADERS)
        return _EMPTY
    url = reply[1]
    if not url:
        return _not_found(start_response)
    return _redirect(start_response, url)
