"""Who clicked: device class and bot flag from the User-Agent, the referrer's host."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from shortener.models import Device


@dataclass(frozen=True, slots=True)
class Visitor:
    device: str  # a Device value; "bot" for bots
    is_bot: bool
    referrer_host: str  # "" when there is no (usable) Referer


_BOT_RE = re.compile(
    r"(?<!cu)bot\b|crawl|spider|slurp|facebookexternalhit|facebookcatalog|meta-externalagent"
    r"|whatsapp|skypeuripreview|embedly|iframely|quora link preview|pinterest|vkshare"
    r"|mastodon/|bitlybot|curl/|wget/|python-requests|python-urllib|python-httpx|aiohttp"
    r"|go-http-client|okhttp|java/|libwww-perl|httpie|axios/|node-fetch",
    re.IGNORECASE,
)
_REFERRER_HOST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)")
_UA_MAX = 512  # longer User-Agents are cut before classification (and before the lru_cache)


@functools.lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str) -> tuple[str, bool]:
    """(device class, is bot) for a User-Agent header. Cached: a few UAs make most traffic."""
    if _BOT_RE.search(user_agent):
        return Device.BOT.value, True
    ua = user_agent.lower()
    if "ipad" in ua or "tablet" in ua or "kindle" in ua or "silk/" in ua:
        return Device.TABLET.value, False
    if "android" in ua:  # Android phones say "Mobile"; Android tablets do not
        return (Device.MOBILE if "mobile" in ua else Device.TABLET).value, False
    if "mobi" in ua or "iphone" in ua or "ipod" in ua or "windows phone" in ua:
        return Device.MOBILE.value, False
    if "windows nt" in ua or "macintosh" in ua or "x11" in ua or "cros" in ua:
        return Device.DESKTOP.value, False
    return Device.OTHER.value, False


def referrer_host(referer: str) -> str:
    """The host of a Referer header, lower-case ("" if absent or not an absolute URL). Only
    the host is kept: paths and queries of other sites are not ours to store."""
    match = _REFERRER_HOST_RE.match(referer)
    return match.group(1).lower()[:255] if match else ""


def visitor_from_environ(environ: dict[str, Any]) -> Visitor:
    """The Visitor of a WSGI environ (or a Django request.META: the same keys)."""
    device, is_bot = classify_user_agent(environ.get("HTTP_USER_AGENT", "")[:_UA_MAX])
    return Visitor(device, is_bot, referrer_host(environ.get("HTTP_REFERER", "")))
