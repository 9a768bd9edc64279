"""Mastodon's JSON entities (docs.joinmastodon.org/entities/) built from what our selectors give:
a tweet as selectors.tweet_dict shapes it, a user as selectors.profile_summary does.

Ids are strings (Mastodon's too). Fields we have no notion of get Mastodon's value for "none":
no display names or bios, no boosts, favourites, polls or content warnings; every post is
public. Our tweets are plain text: `content` is that text HTML-escaped, in paragraphs, as
Mastodon renders a plain-text post (links are not turned into anchors).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static

from timeline.media import MAX_ATTACHMENTS
from timeline.text import MAX_WEIGHTED_LENGTH

# What /instance says. Mastodon.py and other clients read the version to decide which methods
# exist: this subset is what Mastodon 4.2 offers for it; the part in parentheses is ours, as
# Pleroma and GoToSocial report theirs.
MASTODON_VERSION = "4.2.0"
CHARACTERS_PER_URL = 23  # twitter-text counts a link 23, whatever its length (timeline/text.py)
MEDIA_TYPES = {"image", "video"}


@dataclass(frozen=True)
class Site:
    """Absolute URLs of this deployment, as the request reached it."""

    base: str  # "https://example.org", no trailing slash
    host: str

    @classmethod
    def of(cls, request: HttpRequest) -> Site:
        return cls(base=request.build_absolute_uri("/").rstrip("/"), host=request.get_host())

    def absolute(self, url: str | None) -> str | None:
        return self.base + url if url is not None and url.startswith("/") else url

    def user_url(self, username: str) -> str:
        return f"{self.base}/api/v1/users/{quote(username, safe='')}"

    def tweet_url(self, tweet_id: str) -> str:
        return f"{self.base}/api/v1/tweets/{tweet_id}"

    @property
    def avatar(self) -> str:
        return self.base + static("img/favicon.svg")


def timestamp(iso: str) -> str:
    """Our ISO 8601 ("…T12:00:00.123456Z" or "+00:00") as Mastodon writes it: UTC, milliseconds."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def content_html(text: str) -> str:
    """A plain-text post as Mastodon renders one: escaped, a blank line starts a paragraph, a
    line break is <br />."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    paragraphs = re.split(r"\n{2,}", text)
    return "".join(
        "<p>" + html.escape(paragraph).replace("\n", "<br />") + "</p>" for paragraph in paragraphs
    )


def account(summary: dict, site: Site) -> dict:
    """An Account from a profile summary (selectors.profile_summary's keys)."""
    username = summary["username"]
    url = site.user_url(username)
    joined = datetime.fromisoformat(summary["joined_at"].replace("Z", "+00:00")).astimezone(UTC)
    return {
        "id": summary["id"],
        "username": username,
        "acct": username,  # a local account: no @domain
        "display_name": username,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "noindex": False,
        # Mastodon shows the day an account was created, not the second.
        "created_at": joined.strftime("%Y-%m-%dT00:00:00.000Z"),
        "note": "",
        "url": url,
        "uri": url,
        "avatar": site.avatar,
        "avatar_static": site.avatar,
        "header": site.avatar,
        "header_static": site.avatar,
        "followers_count": summary["followers_count"],
        "following_count": summary["following_count"],
        "statuses_count": summary["tweets_count"],
        "last_status_at": None,
        "emojis": [],
        "fields": [],
        "roles": [],
    }


def credential_account(summary: dict, site: Site) -> dict:
    """The signed-in user's own Account (verify_credentials): with `source`, what they set."""
    return {
        **account(summary, site),
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
        },
    }


def media_attachment(item: dict, site: Site) -> dict:
    """A MediaAttachment from what a tweet stores of its media (timeline.media.media_dict)."""
    return {
        "id": item["id"],
        "type": item["type"] if item["type"] in MEDIA_TYPES else "unknown",
        "url": site.absolute(item.get("url")),
        "preview_url": site.absolute(item.get("preview_url")),
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": {},
        "description": None,
        "blurhash": None,
    }


def status(item: dict, *, author: dict, in_reply_to_account_id: str | None, site: Site) -> dict:
    """A Status from a hydrated tweet (selectors.tweet_dict) and its author's Account."""
    url = site.tweet_url(item["id"])
    return {
        "id": item["id"],
        "created_at": timestamp(item["created_at"]),
        "in_reply_to_id": item["reply_to_id"],
        "in_reply_to_account_id": in_reply_to_account_id,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": None,
        "uri": url,
        "url": url,
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "content": content_html(item["text"]),
        "filtered": [],
        "reblog": None,
        "application": None,
        "account": author,
        "media_attachments": [media_attachment(m, site) for m in item["media"]],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def relationship(account_id: str, *, following: bool, followed_by: bool) -> dict:
    """A Relationship: only following and followed_by exist here (no blocks, mutes, requests)."""
    return {
        "id": account_id,
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": None,
        "followed_by": followed_by,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def _version() -> str:
    return f"{MASTODON_VERSION} (compatible; sysdesign {settings.SPECTACULAR_SETTINGS['VERSION']})"


def _statuses_configuration() -> dict:
    return {
        "max_characters": MAX_WEIGHTED_LENGTH,
        "max_media_attachments": MAX_ATTACHMENTS,
        "characters_reserved_per_url": CHARACTERS_PER_URL,
    }


# Uploads are not part of this subset (no /api/v2/media): no types, so clients offer none.
_MEDIA_CONFIGURATION = {
    "supported_mime_types": [],
    "image_size_limit": 0,
    "image_matrix_limit": 0,
    "video_size_limit": 0,
    "video_frame_rate_limit": 0,
    "video_matrix_limit": 0,
}
_POLLS_CONFIGURATION = {
    "max_options": 0,
    "max_characters_per_option": 0,
    "min_expiration": 0,
    "max_expiration": 0,
}
_TITLE = "sysdesign"
_DESCRIPTION = "A runnable system-design reference: the timeline, through Mastodon's client API."


def instance_v1(site: Site, *, users: int, statuses: int) -> dict:
    """The v1 Instance (GET /api/v1/instance)."""
    return {
        "uri": site.host,
        "title": _TITLE,
        "short_description": _DESCRIPTION,
        "description": _DESCRIPTION,
        "email": "",
        "version": _version(),
        "urls": {},
        "stats": {"user_count": users, "status_count": statuses, "domain_count": 0},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": 0},
            "statuses": _statuses_configuration(),
            "media_attachments": _MEDIA_CONFIGURATION,
            "polls": _POLLS_CONFIGURATION,
        },
        "contact_account": None,
        "rules": [],
    }


def instance_v2(site: Site, *, active_month: int) -> dict:
    """The v2 Instance (GET /api/v2/instance)."""
    return {
        "domain": site.host,
        "title": _TITLE,
        "version": _version(),
        "source_url": "",
        "description": _DESCRIPTION,
        "usage": {"users": {"active_month": active_month}},
        "thumbnail": {"url": site.avatar},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {"streaming": None, "status": None},
            "vapid": {"public_key": ""},
            "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
            "statuses": _statuses_configuration(),
            "media_attachments": _MEDIA_CONFIGURATION,
            "polls": _POLLS_CONFIGURATION,
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None},
        "contact": {"email": "", "account": None},
        "rules": [],
    }
