"""Media of tweets: attaching uploaded images and videos to a tweet (docs/timeline.md, "Media").

Uploads, decoding, re-encoding and the worker that makes thumbnails and transcodes live here too
(the media issue's part); a tweet stores only the URLs, fixed when it is posted.
"""

from __future__ import annotations

from django.core.files.storage import default_storage

from accounts.models import User
from timeline.errors import MediaNotAttachableError
from timeline.models import Media, MediaStatus, Tweet

MAX_ATTACHMENTS = 4


def media_dict(item: Media) -> dict:
    """A media item as a tweet shows it: {"id", "type", "url", "preview_url"}."""
    files = item.files or {}
    original = files.get("original")
    preview = files.get("thumb") or original
    return {
        "id": str(item.id),
        "type": item.kind,
        "url": default_storage.url(original) if original else None,
        "preview_url": default_storage.url(preview) if preview else None,
    }


def attach_media(*, owner: User, media_ids: list[int], tweet: Tweet) -> list[dict]:
    """Attach `owner`'s ready, unattached media to `tweet` (in the caller's transaction; the rows
    are locked so two tweets cannot take one item). Returns what the tweet shows of them.
    MediaNotAttachableError (400) says which id and why."""
    if not media_ids:
        return []
    if len(media_ids) > MAX_ATTACHMENTS or len(set(media_ids)) != len(media_ids):
        raise _refuse(f"Up to {MAX_ATTACHMENTS} different media per tweet.")
    found = {
        item.id: item
        for item in Media.objects.select_for_update().filter(id__in=media_ids, owner=owner)
    }
    for media_id in media_ids:
        item = found.get(media_id)
        if item is None:
            raise _refuse(f"No media {media_id} of yours.")
        if item.tweet_id is not None:
            raise _refuse(f"Media {media_id} is attached to another tweet.")
        if item.status != MediaStatus.READY:
            raise _refuse(f"Media {media_id} is {item.status}, not ready yet.")
    Media.objects.filter(id__in=media_ids).update(tweet_id=tweet.id)  # FKs are deferred
    return [media_dict(found[media_id]) for media_id in media_ids]


def _refuse(message: str) -> MediaNotAttachableError:
    return MediaNotAttachableError(message, fields={"media_ids": [message]})
