"""Uploading media, processing it on the `media` queue, attaching it to a tweet, reading it."""

from __future__ import annotations

import hashlib
import io

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from core import outbox
from core.errors import NotFoundError
from core.health import Backlog
from core.snowflake import next_id
from timeline.errors import MediaNotAttachableError, MediaTooLargeError
from timeline.media import images, storage, video
from timeline.media.kinds import (
    IMAGE_FORMATS,
    VIDEO_FORMATS,
    MediaProcessingError,
    derived_name,
    original_name,
    sniff,
)
from timeline.models import Media, MediaKind, MediaStatus, Tweet

MAX_ATTACHMENTS = 4
PROCESS = "timeline.process_media"  # outbox topic, on the `media` queue (timeline/apps.py)


# --- Uploading -------------------------------------------------------------------------------


def upload_media(*, owner: User, upload: UploadedFile) -> Media:
    """Store `upload` as `owner`'s media item, `processing`, its PROCESS event in the same
    transaction. An image is re-encoded here (bounded work: images.reencode_image), a video
    probed and stored as uploaded. Refuses with UnsupportedMediaError (415) what is not a
    supported type by its bytes, MediaTooLargeError (413) over the kind's byte limit,
    InvalidMediaError (400) what cannot be decoded or passes a bound (pixels, frames, seconds,
    sides), MediaUnavailableError (503) without ffprobe. The file is stored before the row:
    a row never names a file that is not there (a row that fails to commit leaves a file that
    the next upload of the same bytes uses)."""
    upload.seek(0)
    kind, fmt = sniff(upload.read(64))
    is_image = kind == MediaKind.IMAGE
    limit = settings.MEDIA_MAX_IMAGE_BYTES if is_image else settings.MEDIA_MAX_VIDEO_BYTES
    if upload.size > limit:
        raise MediaTooLargeError(
            f"The file is {upload.size:,} bytes; {kind}s may be up to {limit:,}.",
            fields={"file": [f"At most {limit:,} bytes for {kind}s."]},
        )
    with storage.staging() as path:
        if is_image:
            image = images.reencode_image(upload, fmt)
            content_type, ext = IMAGE_FORMATS[fmt]
            sha256 = hashlib.sha256(image.data).hexdigest()
            with open(path, "wb") as out:
                out.write(image.data)
            size, width, height, duration_ms = len(image.data), image.width, image.height, None
        else:
            content_type, ext, demuxer = VIDEO_FORMATS[fmt]
            digest = hashlib.sha256()
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    digest.update(chunk)
                    out.write(chunk)
            probe = video.probe_video(path, demuxer)  # the staged copy: ffprobe seeks in it
            sha256, size = digest.hexdigest(), upload.size
            width, height, duration_ms = probe.width, probe.height, probe.duration_ms
        name = original_name(sha256, ext)
        storage.store(name, path, content_type)
    with transaction.atomic():
        item = Media.objects.create(
            id=next_id(), owner=owner, kind=kind, status=MediaStatus.PROCESSING, sha256=sha256,
            content_type=content_type, size=size, width=width, height=height,
            duration_ms=duration_ms, files={"original": name},
        )  # fmt: skip
        outbox.emit(PROCESS, {"media_id": item.id})
    return item


# --- Processing (the `media` queue) ----------------------------------------------------------


def process_media_step(payload: dict, state: int | None) -> int | None:
    """The PROCESS handler (core.outbox): one file per step — the thumbnail, then for a video
    its 360p and 720p transcodes (720p only for a source larger than 360p) — so no step runs
    longer than one ffmpeg run (MEDIA_FFMPEG_TIMEOUT_SECONDS, inside the outbox's lease); the
    item is `ready` after the last. Idempotent: a file that exists is not made again. A file
    ffmpeg or Pillow cannot process fails the item, with the reason (not retried); storage,
    database or a missing ffmpeg raise, and the outbox retries."""
    item = Media.objects.filter(id=payload["media_id"]).first()
    if item is None or item.status != MediaStatus.PROCESSING:
        return None
    roles = ["thumb"]
    if item.kind == MediaKind.VIDEO:
        roles += ["360p"] + (["720p"] if min(item.width or 0, item.height or 0) > 360 else [])
    index = state or 0
    role = roles[index]
    name = derived_name(item.sha256, role)
    try:
        if not default_storage.exists(name):  # else: the same bytes were uploaded before
            _make(item, role, name)
    except MediaProcessingError as exc:
        Media.objects.filter(id=item.id, status=MediaStatus.PROCESSING).update(
            status=MediaStatus.FAILED, error=str(exc)
        )
        return None
    last = index + 1 == len(roles)
    Media.objects.filter(id=item.id).update(
        files={**item.files, role: name},
        status=MediaStatus.READY if last else MediaStatus.PROCESSING,
    )
    return None if last else index + 1


def _make(item: Media, role: str, name: str) -> None:
    demuxer = next((d for ctype, _, d in VIDEO_FORMATS.values() if ctype == item.content_type), "")
    with storage.local_copy(item.files["original"]) as source, storage.staging() as out:
        if role == "thumb":
            frame: str | io.BytesIO = source
            if item.kind == MediaKind.VIDEO:
                at = min(1.0, (item.duration_ms or 0) / 2000)
                frame = io.BytesIO(video.video_frame(source, demuxer, at_seconds=at))
            with open(out, "wb") as thumb:
                thumb.write(images.thumbnail(frame))
            storage.store(name, out, "image/webp")
        else:
            video.transcode(source, demuxer, role=role, width=item.width or 0,
                            height=item.height or 0, out=out)  # fmt: skip
            storage.store(name, out, "video/mp4")


def media_backlog() -> Backlog:
    """/healthz: uploads waiting for their thumbnails and transcodes (the `media` workers)."""
    waiting, oldest = outbox.backlog_of((PROCESS,))
    limit = settings.MEDIA_BACKLOG_ALERT_SECONDS
    return Backlog(
        ok=oldest <= limit,
        detail={"waiting": waiting, "oldest_s": round(oldest, 1), "limit_s": limit},
    )


# --- Attaching -------------------------------------------------------------------------------


def media_dict(item: Media) -> dict:
    """A media item as a tweet shows it: {"id", "type", "url", "preview_url"}. A video's `url` is
    its largest transcode (the original is never linked: it is as uploaded, metadata and all)."""
    files = item.files or {}
    if item.kind == MediaKind.VIDEO:
        main = files.get("720p") or files.get("360p")
    else:
        main = files.get("original")
    preview = files.get("thumb") or main
    return {
        "id": str(item.id),
        "type": item.kind,
        "url": default_storage.url(main) if main else None,
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


# --- Reading ---------------------------------------------------------------------------------


def media_of_owner(*, owner: User, media_id: int) -> Media:
    """`owner`'s media item `media_id`; NotFoundError (404) for anyone else's, as for none."""
    item = Media.objects.filter(id=media_id, owner=owner).first()
    if item is None:
        raise NotFoundError("No media of yours with this id.")
    return item


def media_detail(item: Media) -> dict:
    """An item as its owner sees it (GET /api/v1/media/{id}): status, sizes, every file's URL."""
    return {
        **media_dict(item),
        "status": item.status,
        "content_type": item.content_type,
        "size": item.size,
        "width": item.width,
        "height": item.height,
        "duration_ms": item.duration_ms,
        "files": {role: default_storage.url(name) for role, name in (item.files or {}).items()},
        "error": item.error or None,
        "tweet_id": None if item.tweet_id is None else str(item.tweet_id),
        "created_at": item.created_at.isoformat().replace("+00:00", "Z"),
    }
