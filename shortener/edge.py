"""The async redirect edge: an ASGI app that answers cached redirects over one pipelined Redis
connection per worker (core.pipelined) and hands everything else to the WSGI application
(config.wsgi: the fast path, then Django) in a thread.

    granian --interface asgi config.edge:application     (config/edge.py builds it)

A cached redirect is one `await` of one Redis round trip (the per-IP limit and the visit, as in
every edge: shortener.visits.answer_cached), then a 3xx with the domain's headers; a refusal is
the domain's 429. The event loop never blocks on it, so one process holds many keep-alive
connections, which is what lets Python serve the seed's 12,000 redirects/s on this box
(docs/benchmarks.md, "Choosing the async edge"). Anything else — a miss, a max-clicks gate to
initialise, Redis down, a page (404, 410, the password form), another path or method — is the
WSGI application's, run unchanged in a small thread pool: the fast path resolves misses from
PostgreSQL as it does under gunicorn, Django renders the pages. The environ handed over says
the per-IP limit was counted already, so nothing is counted twice.

Kept from Django and the fast path: ALLOWED_HOSTS (a Host not allowed goes to Django, which
answers 400), SECURE_SSL_REDIRECT (plain http goes to Django, which redirects), HSTS on https,
X-Forwarded-For trusted only from RATELIMIT_TRUSTED_PROXIES (ratelimit.clientip, through the
environ), the same redirect headers (tests/shortener/test_edge.py compares the edges).
"""

from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings

from ratelimit.services import ENVIRON_CHECKED
from shortener.fastpath import CODE_PATH_RE, EdgeChecks
from shortener.visits import answer_cached

# Django's threads for what is not a cached redirect (a miss reads PostgreSQL, a page renders a
# template). Two per worker, as many as gunicorn's sync workers per core: misses are Python work
# under the GIL, and more threads only contend for it (misses/s on the edge against gunicorn's,
# same run: 1.04x with 2 threads, 0.80x with 4, 0.69x with 8; docs/benchmarks.md). What waits
# for a thread is bounded by the load balancer's maxconn to this tier (config/haproxy.cfg).
FALLBACK_THREADS = int(os.environ.get("EDGE_FALLBACK_THREADS", "2"))
MAX_BODY = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # what Django would accept; more is its 413
# The load balancer's check of this tier (config/haproxy.cfg), answered without Django or I/O:
# the tier serves cached redirects while PostgreSQL is down, so the check is of the process only.
# Django's /healthz (every dependency) stays the check of the Django tier.
HEALTH_PATH = "/healthz/edge"
_HEALTH_BODY = b'{"status": "ok", "tier": "redirect"}'
_HEALTH_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_HEALTH_BODY)).encode()),
    (b"cache-control", b"no-store"),
]


class RedirectEdge:
    """ASGI application: cached redirects here, the rest to `wsgi_app` in a thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.pool = ThreadPoolExecutor(FALLBACK_THREADS, thread_name_prefix="django")
        self.checks = EdgeChecks()
        self.hsts = self.checks.hsts.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        if kind != "http":
            return None  # no websockets here
        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 200, "headers": _HEALTH_HEADERS})
            return await send({"type": "http.response.body", "body": _HEALTH_BODY})
        environ = _environ(scope)
        method = environ["REQUEST_METHOD"]
        match = CODE_PATH_RE.fullmatch(environ["PATH_INFO"])
        if match is not None and method in ("GET", "HEAD"):
            secure = self.checks.is_secure(environ)
            if (secure or not self.checks.ssl_redirect) and self.checks.host_allowed(environ):
                outcome = await answer_cached(code=match.group(1), method=method, environ=environ)
                if outcome is not None and outcome.state in ("ok", "refused"):
                    headers = [(k.encode(), v.encode()) for k, v in outcome.headers]
                    headers.append((b"content-length", str(len(outcome.body)).encode()))
                    if outcome.state == "ok" and secure and self.hsts:
                        headers.append((b"strict-transport-security", self.hsts))
                    await send(
                        {"type": "http.response.start", "status": outcome.status,
                         "headers": headers}
                    )  # fmt: skip
                    await send({"type": "http.response.body", "body": outcome.body})
                    return None
                environ[ENVIRON_CHECKED] = {"redirect"}  # counted: Django must not count again
        await self._to_wsgi(environ, receive, send)
        return None

    async def _to_wsgi(self, environ: dict[str, Any], receive: Any, send: Any) -> None:
        """The request as the WSGI application sees it under gunicorn, in a thread; its answer
        sent back in one piece (pages and API answers are small)."""
        # Nothing behind the edge reads a GET's body: read and dropped, so bodies on GETs held
        # open cannot pile up in this process's memory.
        keep = environ["REQUEST_METHOD"] not in ("GET", "HEAD")
        body = await _read_body(receive, keep=keep)
        environ["wsgi.input"] = _Input(body)
        if keep:
            environ["CONTENT_LENGTH"] = (
                str(len(body)) if body else environ.get("CONTENT_LENGTH", "")
            )
        else:
            environ["CONTENT_LENGTH"] = ""
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(
            self.pool, _call_wsgi, self.wsgi_app, environ
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": chunks})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _environ(scope: dict[str, Any]) -> dict[str, Any]:
    """A WSGI environ (PEP 3333) for an ASGI http scope, headers as CGI variables."""
    # WSGI carries the path's bytes as latin-1 text (PEP 3333); ASGI has decoded them as UTF-8.
    path_info = scope["path"].encode("utf-8").decode("latin-1")
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        if b"_" in raw_name:
            # "X_Forwarded_For" would become HTTP_X_FORWARDED_FOR beside the real one: a client
            # naming its own address to the limiter. Dropped, as gunicorn and nginx drop them.
            continue
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            environ[name] = value
            continue
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def _read_body(receive: Any, *, keep: bool = True) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if keep and size <= MAX_BODY + 1:  # one byte more than Django accepts: Django: 413
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


class _Input:
    """wsgi.input over a body already read."""

    def __init__(self, body: bytes) -> None:
        self._body, self._at = body, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else self._at + size
        chunk, self._at = self._body[self._at : end], min(end, len(self._body))
        return chunk

    def readline(self, size: int = -1) -> bytes:
        end = self._body.find(b"\n", self._at)
        end = len(self._body) if end < 0 else end + 1
        if size is not None and size >= 0:
            end = min(end, self._at + size)
        chunk, self._at = self._body[self._at : end], end
        return chunk

    def __iter__(self):  # type: ignore[no-untyped-def]
        while line := self.readline():
            yield line


def _call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        answered["status"], answered["headers"] = int(status.split(" ", 1)[0]), headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # request_finished: Django closes what the request opened
    return answered["status"], answered["headers"], body
