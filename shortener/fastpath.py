"""A WSGI fast path for cached redirects, in front of Django (config/wsgi.py).

Django's middleware stack costs more than the redirect itself (docs/numbers.md, ~0.7 of a bare
WSGI app). A cached redirect needs none of it: no session, no user, no template. So
`RedirectFastPath` answers `GET|HEAD /<code>` itself when visit.lua says "ok" — cached, active,
no password, under its max-clicks gate — and counts the click. One round trip: the per-IP
redirect limit (ratelimit, issue #5) and visit.lua run as one chained script (core/lua.py), and
a refused request counts nothing. A miss is resolved here too, as the redirect view resolves it
(`redirect.resolve_visit`: fill lease, one SELECT, fill, visit), between the request signals
Django's handler sends, so the database connection is handled as in a request. An unknown code
gets its 404 page here, from a page Django rendered once (shortener/fast404.py): a scan of
random codes stays cheap. Everything else goes to Django unchanged, which does the full logic
(shortener/redirect.py): a password, a 410, Redis down or its breaker open, a database error,
any other path or method. When it falls through after asking Redis, it leaves the answer in the
environ (`redirect.ENVIRON_KEY`) so Django does not ask again.

What Django would have done and this must still do: refuse a Host not in ALLOWED_HOSTS (falls
through: Django answers 400), leave `SECURE_SSL_REDIRECT` to Django (falls through on plain
http), send HSTS on https. The redirect's own headers are the same as Django's (one function,
`redirect.redirect_headers`; tests/shortener/test_redirect.py compares both paths). Not sent:
Content-Type, X-Content-Type-Options, X-Frame-Options and Cross-Origin-Opener-Policy, which
Django's middleware adds to every response. A 3xx with an empty body is never rendered, sniffed
or framed (the browser follows it, and those checks apply to the page it ends on), and gunicorn
validates every header it sends with regexes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host

from ratelimit.services import Refusal, check_failed, prepare_check, run_check
from shortener import cache, visitors
from shortener.cache import RedisUnavailable, Visit
from shortener.fast404 import NotFoundPages
from shortener.redirect import ENVIRON_KEY, now_ms, redirect_headers, resolve_visit
from shortener.rules import ALIAS_PATTERN
from shortener.visits import refusal_response

CODE_PATH_RE = re.compile(rf"/({ALIAS_PATTERN})")  # the shortcode converter's codes
_STATUS_LINES = {
    301: "301 Moved Permanently",
    302: "302 Found",
    307: "307 Temporary Redirect",
    308: "308 Permanent Redirect",
}
_REFUSAL_LINES = {429: "429 Too Many Requests", 503: "503 Service Unavailable"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RedirectFastPath:
    """WSGI middleware: `application = RedirectFastPath(get_wsgi_application())`."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.not_found = NotFoundPages(app)
        # Read once, like Django's middleware reads its settings once per process.
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

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return self.app(environ, start_response)
        match = CODE_PATH_RE.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        secure = self._is_secure(environ)
        if (self.ssl_redirect and not secure) or not self._host_allowed(environ):
            return self.app(environ, start_response)  # Django answers: its redirect, its 400
        # The per-IP redirect limit (issue #5) runs in the same script as the visit: one round
        # trip. A refused request reaches no link and counts no click.
        check = prepare_check(scope="redirect", environ=environ)
        if check is not None and check.redis_url != settings.REDIS_URL:
            refused = run_check(check)  # the limiter has a Redis of its own: its own round trip
            if refused is not None:
                return self._refuse(refused, start_response)
            check = None
        code, visitor = match.group(1), visitors.visitor_from_environ(environ)
        try:
            visit = cache.visit(
                code=code,
                now_ms=now_ms(),
                count=method == "GET",
                visitor=visitor,
                take_lease=True,  # on a miss, the fill lease comes with the answer
                limit=check,
            )
        except RedisUnavailable:
            refused = None if check is None else check_failed(check)
            if refused is not None:
                return self._refuse(refused, start_response)
            return self.app(environ, start_response)
        if visit.refusal is not None:  # the limit refused: visit.lua did not run
            return self._refuse(visit.refusal, start_response)
        if visit.state in ("miss", "gate"):  # PostgreSQL's turn, still without the middleware
            resolved = self._resolve(
                environ, code, count=method == "GET", visitor=visitor, miss=visit
            )
            if resolved is None:
                return self.app(environ, start_response)  # the database failed: Django answers
            visit = resolved
        if visit.state == "none":  # an unknown code: the 404 page, without Django
            page = self.not_found.answer(environ, code)
            if page is not None:
                status, headers, body = page
                start_response(status, headers)
                return [body]
        if visit.state != "ok":
            environ[ENVIRON_KEY] = visit  # settled: Django renders it without asking again
            return self.app(environ, start_response)
        headers = redirect_headers(location=visit.location, redirect_type=visit.redirect_type)
        headers.append(("Content-Length", "0"))
        if secure and self.hsts:
            headers.append(("Strict-Transport-Security", self.hsts))
        start_response(_STATUS_LINES[visit.redirect_type], headers)
        return []

    def _resolve(
        self,
        environ: dict[str, Any],
        code: str,
        *,
        count: bool,
        visitor: visitors.Visitor,
        miss: Visit,
    ) -> Visit | None:
        """A miss (or a max-clicks gate to initialise) as the redirect view resolves it
        (redirect.resolve_visit: the fill lease, one SELECT, the fill, the visit counted), but
        without Django's middleware. Between the signals Django's handler sends around every
        request, so the database connection is looked after as in a request (an old or broken
        one closed, the DEBUG query log reset). None if the database failed: Django answers."""
        request_started.send(sender=self.__class__, environ=environ)
        try:
            return resolve_visit(code=code, count=count, visitor=visitor, miss=miss)
        except DatabaseError:
            return None
        finally:
            request_finished.send(sender=self.__class__)

    @staticmethod
    def _refuse(refusal: Refusal, start_response: Callable[..., Any]) -> list[bytes]:
        """A refusal of the per-IP redirect policy, as every edge sends it
        (visits.refusal_response). The check is marked in the environ (prepare_check), so had
        the request gone on to Django, its view would not have counted it again."""
        status, headers, body = refusal_response(refusal)
        headers.append(("Content-Length", str(len(body))))
        start_response(_REFUSAL_LINES[status], headers)
        return [body]

    def _is_secure(self, environ: dict[str, Any]) -> bool:
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def _host_allowed(self, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        allowed = self._hosts_seen.get(host)
        if allowed is None:
            domain, _port = split_domain_port(host)
            allowed = bool(domain) and validate_host(domain, self.allowed_hosts)
            if len(self._hosts_seen) >= 256:  # Host is client input: keep the memo bounded
                self._hosts_seen.clear()
            self._hosts_seen[host] = allowed
        return allowed
