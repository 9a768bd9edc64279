"""A WSGI fast path for cached redirects, in front of Django (config/wsgi.py).

Django's middleware stack costs more than the redirect itself (docs/numbers.md, ~0.7 of a bare
WSGI app). A cached redirect needs none of it: no session, no user, no template. So
`RedirectFastPath` asks the redirect domain (`shortener.visits.answer`, as Django's view does)
for `GET|HEAD /<code>` and sends what it can send without Django: a redirect (one round trip
for the per-IP limit and the visit, the click counted), a refusal (429/503, nothing counted), a
miss or Redis down resolved from PostgreSQL between the request signals Django's handler sends
(so the database connection is handled as in a request), and an unknown code's 404 from a page
Django rendered once (shortener/fast404.py: a scan of random codes stays cheap). The pages of
the other states (410, 503, the password form) are Django's: the request goes on to it
unchanged, and its view asks the domain again. Nothing travels between the two but the
limiter's mark that the request was counted. Any other path or method, or a database error,
goes to Django as it came.

What Django would have done and this must still do: refuse a Host not in ALLOWED_HOSTS (falls
through: Django answers 400), leave `SECURE_SSL_REDIRECT` to Django (falls through on plain
http), send HSTS on https. The redirect's own headers are the same as Django's (the domain's
Outcome carries them; tests/shortener/test_redirect.py compares both paths). Not sent: Content-
Type, X-Content-Type-Options, X-Frame-Options and Cross-Origin-Opener-Policy, which Django's
middleware adds to every response. A 3xx with an empty body is never rendered, sniffed or framed
(the browser follows it, and those checks apply to the page it ends on), and gunicorn validates
every header it sends with regexes.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host

from shortener.fast404 import NotFoundPages
from shortener.rules import ALIAS_PATTERN
from shortener.visits import answer

CODE_PATH_RE = re.compile(rf"/({ALIAS_PATTERN})")  # the shortcode converter's codes
_STATUS_LINES = {
    301: "301 Moved Permanently",
    302: "302 Found",
    307: "307 Temporary Redirect",
    308: "308 Permanent Redirect",
}
_REFUSAL_LINES = {429: "429 Too Many Requests", 503: "503 Service Unavailable"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EdgeChecks:
    """What Django would check before the view, for an edge that answers without it (this fast
    path and the async edge, shortener/edge.py): ALLOWED_HOSTS, SECURE_SSL_REDIRECT, whether
    the request is secure, and the HSTS header to send then. Settings read once per process,
    as Django's middleware reads them."""

    def __init__(self) -> None:
        self.allowed_hosts = list(settings.ALLOWED_HOSTS)
        self._hosts_seen: dict[str, bool] = {}  # Host header -> allowed (a handful of values)
        if settings.DEBUG and not self.allowed_hosts:
            self.allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]  # Django's DEBUG default
        self.ssl_redirect = settings.SECURE_SSL_REDIRECT
        self.proxy_ssl_header = settings.SECURE_PROXY_SSL_HEADER
        self.hsts = ""
        if settings.SECURE_HSTS_SECONDS:
            self.hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                self.hsts += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                self.hsts += "; preload"

    def is_secure(self, environ: dict[str, Any]) -> bool:
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def host_allowed(self, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        allowed = self._hosts_seen.get(host)
        if allowed is None:
            domain, _port = split_domain_port(host)
            allowed = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self._hosts_seen) >= 256:  # Host is client input: keep the memo bounded
                self._hosts_seen.clear()
            self._hosts_seen[host] = allowed
        return allowed


class RedirectFastPath:
    """WSGI middleware: `application = RedirectFastPath(get_wsgi_application())`."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.not_found = NotFoundPages(app)
        self.checks = EdgeChecks()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return self.app(environ, start_response)
        match = CODE_PATH_RE.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        secure = self.checks.is_secure(environ)
        if (self.checks.ssl_redirect and not secure) or not self.checks.host_allowed(environ):
            return self.app(environ, start_response)  # Django answers: its redirect, its 400
        code = match.group(1)
        try:
            outcome = answer(
                code=code,
                method=method,
                environ=environ,
                database=functools.partial(self._database, environ),
            )
        except DatabaseError:
            return self.app(environ, start_response)  # Django answers (the limit counted once)
        if outcome.state == "ok":
            headers = [*outcome.headers, ("Content-Length", "0")]
            if secure and self.checks.hsts:
                headers.append(("Strict-Transport-Security", self.checks.hsts))
            start_response(_STATUS_LINES[outcome.status], headers)
            return []
        if outcome.state == "refused":
            headers = [*outcome.headers, ("Content-Length", str(len(outcome.body)))]
            start_response(_REFUSAL_LINES[outcome.status], headers)
            return [outcome.body]
        if outcome.state == "none":  # an unknown code: the 404 page, without Django
            page = self.not_found.answer(environ, code)
            if page is not None:
                status, headers, body = page
                start_response(status, headers)
                return [body]
        # A page (410, 503, the password form): Django renders it. It asks Redis again (one
        # round trip, for a rare answer); the per-IP limit is not counted twice (the environ
        # says it was checked), and a state that is not "ok" counted nothing.
        return self.app(environ, start_response)

    @contextlib.contextmanager
    def _database(self, environ: dict[str, Any]) -> Iterator[None]:
        """Around the domain's PostgreSQL work (a miss, Redis down), outside Django's handler:
        the request signals Django sends around every request, so the database connection is
        looked after as in a request (an old or broken one closed, the DEBUG query log
        reset)."""
        request_started.send(sender=self.__class__, environ=environ)
        try:
            yield
        finally:
            request_finished.send(sender=self.__class__)
