"""What a short link may be: destination and alias rules, shared by the API, the pages and bulk.

Every refusal is an InvalidInputError (400) whose `fields` names the field and whose message says
why, so the API, the form and each item of a bulk request explain themselves the same way.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import datetime
from urllib.parse import unquote, urlsplit, urlunsplit

import idna
from django.conf import settings
from django.http.request import split_domain_port
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from core import bounds
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
    are not valid domain names or IPs, blocked domains and their subdomains, our own host in
    any spelling (a short link to a short link on this site loops or chains), and, unless
    SHORTENER_ALLOW_PRIVATE_DESTINATIONS, localhost and addresses off the public internet
    (loopback, private, link-local, …). Hosts are compared as a browser parses them (below)."""
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
    if port == 0:  # urlsplit accepts it; no browser connects to it
        raise _invalid("long_url", "Port 0 is not a port anyone can connect to.")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _invalid("long_url", "Only http:// and https:// URLs can be shortened.")
    if parts.username is not None or parts.password is not None:
        raise _invalid("long_url", "URLs with a user name or password in them are refused.")
    host = _destination_host(parts.hostname or "")
    _check_host_allowed(host, written=parts.hostname or "", request_host=request_host)
    netloc = f"[{host}]" if isinstance(host, ipaddress.IPv6Address) else str(host)
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
    """The expiry in UTC: in the future and within core.bounds' datetime range (beyond it
    PostgreSQL would store what Python cannot read back or show in every time zone)."""
    if expires_at is None:
        return None
    expires_at = bounds.check_datetime(expires_at, field="expires_at")
    if expires_at <= timezone.now():
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


# --- hosts ----------------------------------------------------------------------------------------
# A browser does not compare host strings: it parses them (the WHATWG URL standard's host parser),
# so 127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1, ①②⑦.0.0.1 and 127.0.0.1. all reach 127.0.0.1.
# We parse hosts the same way before any rule looks at them, and store what the browser would
# send. The stdlib `ipaddress` classifies the result; it (rightly) refuses the shorthand forms,
# so the IPv4 step of the standard is written out below (_whatwg_ipv4): it is short and frozen,
# and the one Python binding of a WHATWG parser (ada-url) is a compiled dependency for it.
# DNS is not resolved: the visitor's browser resolves the name, later, maybe to another address.

Host = ipaddress.IPv4Address | ipaddress.IPv6Address | str  # an address, or an ASCII domain
_V4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")  # hex, octal, decimal
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_PRIVATE_NETWORKS = tuple(  # RFC 1918 and IPv6 unique local addresses
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


@functools.lru_cache(maxsize=4096)  # pure; our own hosts are parsed again for every destination
def _parse_host(hostname: str) -> Host:
    """`hostname` (as urlsplit's `.hostname` gives it) as a browser reads it: an IP address in
    any of its spellings, else an ASCII domain (UTS 46 mapping, IDNA 2008, lower case, without
    the trailing dot). ValueError, with a reason a person understands, if it is neither."""
    if ":" in hostname:  # only an IPv6 literal ([...]) has a colon in `.hostname`
        if "%" in hostname:
            raise ValueError(f"{hostname!r} has a zone id: browsers refuse those.")
        return ipaddress.IPv6Address(hostname)
    decoded = unquote(hostname)  # the standard percent-decodes a host first: sh%6F.rt is sho.rt
    try:
        mapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise ValueError(f"{hostname!r} is not a valid host name ({exc}).") from None
    if _ends_in_a_number(mapped):
        return _whatwg_ipv4(mapped, hostname)
    try:
        return idna.encode(mapped.removesuffix("."), uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(f"{hostname!r} is not a valid host name ({exc}).") from None


def _ends_in_a_number(host: str) -> bool:
    """The standard's test for "this host is an IPv4 address": its last label (a trailing dot
    aside) is all digits or 0x-hex. Then it must parse as one, or the URL is invalid."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return bool(re.fullmatch(r"[0-9]+|0[xX][0-9a-fA-F]*", last))


def _whatwg_ipv4(host: str, written: str) -> ipaddress.IPv4Address:
    """WHATWG URL, "IPv4 parser": 1 to 4 dot-separated numbers, each decimal, octal (leading 0)
    or hex (0x); the last fills the remaining bytes (127.1 = 127.0.0.1, 2130706433 likewise)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or not all(_V4_PART.fullmatch(part) for part in parts):
        raise ValueError(f"{written!r} looks like an IPv4 address but is not one.")
    numbers = [
        int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8) if p[0] == "0" else int(p)
        for p in parts
    ]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{written!r} looks like an IPv4 address but is out of range.")
    value = numbers[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped (::ffff:127.0.0.1), 6to4, Teredo, NAT64."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _non_public_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of non-public address `address` is, in words; None for a public (global) one.
    Python's `is_global` alone is not enough before 3.13: it calls multicast, 6to4-wrapped
    loopback (2002:7f00:1::) and ::127.0.0.1 global."""
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if inner is not None and (kind := _non_public_kind(inner)):
        return kind
    if address.is_loopback:
        return "a loopback address (the visitor's own computer)"
    if address.is_unspecified:
        return "the unspecified address (browsers take it for the visitor's own computer)"
    if address.is_link_local:
        return "a link-local address (the visitor's local network segment)"
    if address.is_multicast:
        return "a multicast address"
    if any(address in net for net in _PRIVATE_NETWORKS if net.version == address.version):
        return "a private network address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a carrier-grade NAT address (an ISP's private network)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if not address.is_global or address.is_private or address.is_reserved:
        return "a reserved address"
    return None


def _is_this_machine(host: Host) -> bool:
    """localhost, *.localhost (RFC 6761: browsers answer them with loopback) and every loopback
    or unspecified address: to a browser they are all the computer it runs on."""
    if isinstance(host, str):
        return host == "localhost" or host.endswith(".localhost")
    inner = _embedded_ipv4(host) if isinstance(host, ipaddress.IPv6Address) else None
    return any(a.is_loopback or a.is_unspecified for a in (host, inner) if a is not None)


def own_hosts(request_host: str | None = None) -> tuple[set[Host], set[str]]:
    """This service's hosts, parsed like a destination's (SHORTENER_BASE_URL's, ALLOWED_HOSTS',
    the request's), and the domains whose every subdomain is ours too: ".sho.rt" in
    ALLOWED_HOSTS, as Django reads it. "*" in ALLOWED_HOSTS names no host in particular."""
    hosts: set[Host] = set()
    parents: set[str] = set()
    for entry in settings.ALLOWED_HOSTS:
        host = _host_or_none(entry.lstrip(".")) if entry != "*" else None
        if host is not None:
            hosts.add(host)
            if entry.startswith(".") and isinstance(host, str):
                parents.add(host)
    others = [urlsplit(settings.SHORTENER_BASE_URL).hostname or ""]
    if request_host:
        others.append(split_domain_port(request_host)[0] or request_host)
    hosts.update(host for name in others if (host := _host_or_none(name)) is not None)
    return hosts, parents


def _host_or_none(name: str) -> Host | None:
    try:
        return _parse_host(name.strip("[]").lower()) if name else None
    except ValueError:
        return None  # not a host a URL can name (a typo in ALLOWED_HOSTS): it matches nothing


def _is_own_host(host: Host, *, request_host: str | None) -> bool:
    hosts, parents = own_hosts(request_host)
    if host in hosts:
        return True
    if isinstance(host, str) and any(host.endswith("." + parent) for parent in parents):
        return True
    # Any spelling of "this computer" reaches a server on this computer, whatever its Host says.
    return _is_this_machine(host) and any(_is_this_machine(h) for h in hosts)


def _destination_host(hostname: str) -> Host:
    if not hostname:
        raise _invalid("long_url", "The URL has no host.")
    try:
        host = _parse_host(hostname)
    except ValueError as exc:
        raise _invalid("long_url", str(exc)) from None
    if isinstance(host, str) and "." not in host and host != "localhost":
        raise _invalid("long_url", f"{hostname!r} is not a public host name (no domain).")
    return host


def _check_host_allowed(host: Host, *, written: str, request_host: str | None) -> None:
    """Blocked domains, then this service (a link to us loops or chains), then what is not on
    the public internet (unless SHORTENER_ALLOW_PRIVATE_DESTINATIONS, for an intranet)."""
    if isinstance(host, str):
        for domain in settings.SHORTENER_BLOCKED_DOMAINS:
            domain = domain.lower().strip(".")
            if host == domain or host.endswith("." + domain):
                raise _invalid("long_url", f"Links to {domain} are not allowed here.")
    if _is_own_host(host, request_host=request_host):
        raise _invalid(
            "long_url", "Links to this service itself are refused: they would loop or chain."
        )
    if settings.SHORTENER_ALLOW_PRIVATE_DESTINATIONS:
        return
    public_only = "a short link must lead to a public site."
    if isinstance(host, str):
        if _is_this_machine(host):
            raise _invalid("long_url", f"{written} means the visitor's own computer: {public_only}")
        return
    kind = _non_public_kind(host)
    if kind is not None:
        shown = written if written == str(host) else f"{written} (that is {host})"
        raise _invalid("long_url", f"{shown} is {kind}, not on the public internet: {public_only}")


_invalid = InvalidInputError.for_field
