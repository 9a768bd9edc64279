"""What a short link may be: destination and alias rules, shared by the API, the pages and bulk.

Every refusal is an InvalidInputError (400) whose `fields` names the field and whose message says
why, so the API, the form and each item of a bulk request explain themselves the same way.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import idna
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from core.errors import InvalidInputError
from shortener.models import RedirectType

ALIAS_MAX_LENGTH = 32
ALIAS_PATTERN = rf"[A-Za-z0-9_-]{{3,{ALIAS_MAX_LENGTH}}}"
ALIAS_RE = re.compile(rf"^{ALIAS_PATTERN}$")

# Paths that are not top-level routes today but must never become short codes: files browsers
# and crawlers ask for, and names we may want for pages later.
ALWAYS_RESERVED = frozenset(
    {
        "static", "media", "favicon.ico", "robots.txt", "sitemap.xml", "humans.txt",
        "security.txt", ".well-known", "apple-touch-icon.png", "login", "logout", "signup",
        "register", "settings", "help", "about", "terms", "privacy", "status", "stats", "metrics",
        "links", "link", "docs", "www", "app", "dashboard",
    }
)  # fmt: skip


@functools.cache
def reserved_aliases() -> frozenset[str]:
    """Lower-cased first path segments of every top-level route (api, admin, accounts, healthz,
    shortener, …) plus ALWAYS_RESERVED. Derived from the URLconf, so a route added later is
    reserved without anyone remembering to list it."""
    segments: set[str] = set()
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLPattern | URLResolver):
            first = str(pattern.pattern).lstrip("^").split("/", 1)[0]
            if first and "<" not in first and "(" not in first:
                segments.add(first.rstrip("$").lower())
    return frozenset(segments) | ALWAYS_RESERVED


def check_alias(alias: str) -> str:
    """The alias unchanged if it may be used; InvalidInputError naming `alias` otherwise.
    Reserved words are compared ignoring case, so "Admin" cannot pose as a page of ours."""
    if not ALIAS_RE.fullmatch(alias):
        raise _invalid("alias", "An alias is 3 to 32 characters: letters, digits, '_' and '-'.")
    if alias.lower() in reserved_aliases():
        raise _invalid("alias", f"The alias {alias!r} is reserved: it is a path of this site.")
    return alias


def normalize_destination(long_url: str, *, request_host: str | None = None) -> str:
    """The destination as it will be sent in `Location`: http(s) only, host in ASCII (IDNA 2008
    punycode, lower case), path and query percent-encoded, at most SHORTENER_MAX_URL_LENGTH.

    Refused (InvalidInputError naming `long_url`): other schemes (javascript:, data:, ftp:),
    credentials in the URL (`https://bank.com@evil.example` is a phishing classic), hosts that
    are not valid domain names or IPs, blocked domains and their subdomains, and our own host
    (a short link to a short link on this site loops or chains)."""
    url = long_url.strip()
    limit = settings.SHORTENER_MAX_URL_LENGTH
    if not url:
        raise _invalid("long_url", "Give the URL to shorten.")
    if len(url) > limit:
        raise _invalid("long_url", f"The URL is {len(url)} characters; the limit is {limit}.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("long_url", "That is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _invalid("long_url", "Only http:// and https:// URLs can be shortened.")
    if parts.username is not None or parts.password is not None:
        raise _invalid("long_url", "URLs with a user name or password in them are refused.")
    host = _ascii_host(parts.hostname or "")
    _check_host_allowed(host, request_host=request_host)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    normalized = urlunsplit(
        (
            scheme,
            netloc,
            iri_to_uri(parts.path) or "/",
            iri_to_uri(parts.query),
            iri_to_uri(parts.fragment),
        )
    )
    if len(normalized) > limit:
        raise _invalid(
            "long_url", f"Encoded, the URL is {len(normalized)} characters; the limit is {limit}."
        )
    return normalized


def check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is not None and expires_at <= timezone.now():
        raise _invalid("expires_at", "The expiry must be in the future.")
    return expires_at


MAX_CLICKS_LIMIT = 2**31 - 1  # the column is a PostgreSQL integer


def check_max_clicks(max_clicks: int | None) -> int | None:
    if max_clicks is not None and max_clicks < 1:
        raise _invalid("max_clicks", "max_clicks must be at least 1.")
    if max_clicks is not None and max_clicks > MAX_CLICKS_LIMIT:
        raise _invalid("max_clicks", f"max_clicks can be at most {MAX_CLICKS_LIMIT:,}.")
    return max_clicks


def check_redirect_type(redirect_type: int) -> int:
    if redirect_type not in RedirectType.values:
        allowed = ", ".join(str(v) for v in RedirectType.values)
        raise _invalid("redirect_type", f"redirect_type must be one of {allowed}.")
    return redirect_type


LINK_PASSWORD_MAX_LENGTH = 128


def check_password(password: str) -> str:
    if not 1 <= len(password) <= LINK_PASSWORD_MAX_LENGTH:
        message = f"A link password is 1 to {LINK_PASSWORD_MAX_LENGTH} characters."
        raise _invalid("password", message)
    return password


def own_hosts(request_host: str | None = None) -> set[str]:
    """Host names that are this service: SHORTENER_BASE_URL's, ALLOWED_HOSTS', the request's."""
    hosts = {h.lstrip(".").lower() for h in settings.ALLOWED_HOSTS if h not in ("*", "")}
    if settings.SHORTENER_BASE_URL:
        hosts.add((urlsplit(settings.SHORTENER_BASE_URL).hostname or "").lower())
    if request_host:
        hosts.add(request_host.rsplit(":", 1)[0].strip("[]").lower())
    hosts.discard("testserver")
    return {h.strip("[]") for h in hosts if h}


def _ascii_host(hostname: str) -> str:
    if not hostname:
        raise _invalid("long_url", "The URL has no host.")
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    try:
        host = idna.encode(hostname.rstrip("."), uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise _invalid("long_url", f"{hostname!r} is not a valid host name ({exc}).") from None
    if "." not in host and host != "localhost":
        raise _invalid("long_url", f"{hostname!r} is not a public host name (no domain).")
    return host


def _check_host_allowed(host: str, *, request_host: str | None) -> None:
    for domain in settings.SHORTENER_BLOCKED_DOMAINS:
        domain = domain.lower().strip(".")
        if host == domain or host.endswith("." + domain):
            raise _invalid("long_url", f"Links to {domain} are not allowed here.")
    if host in own_hosts(request_host):
        raise _invalid(
            "long_url", "Links to this service itself are refused: they would loop or chain."
        )


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field}: {message}", fields={field: [message]})
