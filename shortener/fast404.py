"""The 404 of an unknown code, answered by the fast path from a page Django rendered once.

A scan of random codes is the traffic the negative cache and the per-IP limit exist for, and
each such request used to cost a full Django request (middleware, template) after Redis had
already said "no such code": ~0.2x the speed of a cached redirect. The page is the same for
every anonymous visitor but for the code in it, so `NotFoundPages` asks Django for it once per
process and Host — through the real view, with a made-up code (`_MARK`: looked up once, found
nowhere, cached as unknown; the limit not counted again) — and then serves that page with the
code swapped in. Codes match `[A-Za-z0-9_-]{3,32}`: nothing to escape in HTML or a URL.

Left to Django: a visitor with a session cookie (the page greets a signed-in user by name), a
code that is a route's first segment in any case (Django may redirect `/shortener` to
`/shortener/`), a page Django answered with a cookie, a CSP nonce or other than 404 (never
cached), and every other state (410, 503, password).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from ratelimit.services import ENVIRON_CHECKED
from shortener.rules import reserved_aliases

# Stands for the code while the page is rendered: a valid code, never looked up (the view is
# handed the answer), and long enough not to occur in the page by chance.
_MARK = "Zz0code0zZ"
_MAX_HOSTS = 16  # Host is client input (already checked against ALLOWED_HOSTS): stay bounded


class _Page:
    __slots__ = ("headers", "parts", "status")

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = [(name, value) for name, value in headers if name != "Content-Length"]
        self.parts = body.split(_MARK.encode())

    def answer(self, code: str, *, head: bool) -> tuple[str, list[tuple[str, str]], bytes]:
        body = code.encode().join(self.parts)
        headers = [*self.headers, ("Content-Length", str(len(body)))]
        return self.status, headers, b"" if head else body


class NotFoundPages:
    """Per process: Host (+ scheme) -> the 404 page of an unknown code, as Django renders it."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.pages: dict[tuple[str, ...], _Page | None] = {}
        self.session_cookie = settings.SESSION_COOKIE_NAME
        # What the page may depend on: the Host, and whether the request is secure.
        self.kept = {"HTTP_HOST"}
        if settings.SECURE_PROXY_SSL_HEADER:
            self.kept.add(settings.SECURE_PROXY_SSL_HEADER[0])

    def answer(
        self, environ: dict[str, Any], code: str
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) of the 404 for `code`, or None: let Django answer."""
        if self.session_cookie in environ.get("HTTP_COOKIE", ""):
            return None
        if code.lower() in reserved_aliases():
            return None
        where = (environ.get("wsgi.url_scheme", ""), *(environ.get(key, "") for key in self.kept))
        page = self.pages.get(where, False)
        if page is False:
            page = self._render(environ)
            if len(self.pages) >= _MAX_HOSTS:
                self.pages.clear()
            self.pages[where] = page
        if page is None:
            return None
        return page.answer(code, head=environ.get("REQUEST_METHOD") == "HEAD")

    def _render(self, environ: dict[str, Any]) -> _Page | None:
        """Django's answer to an anonymous GET of an unknown code (_MARK), or None if it is not
        a plain cookie-less 404 that can be served to anyone."""
        probe = {
            key: value
            for key, value in environ.items()
            if not key.startswith("HTTP_") or key in self.kept
        }
        probe.update(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": f"/{_MARK}",
                "QUERY_STRING": "",
                ENVIRON_CHECKED: {"redirect"},  # counted already, for the real request
            }
        )
        answered: dict[str, Any] = {}

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            answered["status"], answered["headers"] = status, headers

        chunks = self.app(probe, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # request_finished: Django closes what the request opened
        headers = answered.get("headers", [])
        if not answered.get("status", "").startswith("404") or any(
            name.lower() == "set-cookie" or "nonce-" in value for name, value in headers
        ):
            return None  # a cookie or a CSP nonce is for one response, not for everyone
        return _Page(answered["status"], headers, body)
