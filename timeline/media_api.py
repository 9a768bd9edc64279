"""Media over HTTP: `POST /api/v1/media` (upload), `GET /api/v1/media/{id}` (its owner polls it
until `ready`), and `/media/<name>`, the stored files themselves with far-future immutable cache
headers (the origin a CDN pulls from). docs/timeline.md, "Media"."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInputError
from core.openapi import error_response
from core.pagination import parse_id
from core.serializers import StrictSerializer
from timeline import media
from timeline.errors import MediaTooLargeError

# The multipart envelope around the file: boundaries, part headers, a field or two.
ENVELOPE_BYTES = 64 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
RANGE_RE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")
CHUNK = 64 * 1024


class MediaUploadParser(parsers.MultiPartParser):
    """multipart/form-data, refused (413) before a byte of it is read when its Content-Length
    is over what any upload may be: the body would otherwise be spooled to disk whole first.
    (Django reads no more than Content-Length; a body without one reads as empty.)"""

    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        meta = parser_context["request"].META
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = max(settings.MEDIA_MAX_IMAGE_BYTES, settings.MEDIA_MAX_VIDEO_BYTES)
        if length > limit + ENVELOPE_BYTES:
            raise MediaTooLargeError(
                f"The request is {length:,} bytes; an upload may be up to {limit:,}.",
                fields={"file": [f"At most {limit:,} bytes."]},
            )
        return super().parse(stream, media_type, parser_context)


class MediaOutputSerializer(serializers.Serializer):
    """What media.media_detail gives."""

    id = serializers.CharField(help_text="64-bit Snowflake id, as a string (a tweet's media_ids).")
    type = serializers.ChoiceField(choices=["image", "video"])
    status = serializers.ChoiceField(
        choices=["processing", "ready", "failed"],
        help_text="`processing` until the thumbnail (and a video's transcodes) exist.",
    )
    url = serializers.CharField(
        allow_null=True, help_text="What a tweet links: the image, or a video's largest MP4."
    )
    preview_url = serializers.CharField(allow_null=True, help_text="The WebP thumbnail.")
    content_type = serializers.CharField(help_text="Of the stored original.")
    size = serializers.IntegerField(help_text="Bytes of the stored original.")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    files = serializers.DictField(
        child=serializers.CharField(),
        help_text="URL per file: `original`, `thumb`, and for a video `360p`, `720p`.",
    )
    error = serializers.CharField(allow_null=True, help_text="Why it `failed`.")
    tweet_id = serializers.CharField(allow_null=True)
    created_at = serializers.CharField()

    class Meta:
        ref_name = "Media"


_UNSUPPORTED = error_response(
    "Not a supported image or video, judged by its content.", "unsupported_media_type",
    f"This file is not one of {media.SUPPORTED} (judged by its content, not its name).",
)  # fmt: skip
_INVALID = error_response(
    "The file cannot be decoded, or passes a bound: `image_too_large` (pixels, frames), "
    "`video_too_long`, `video_too_large` (sides); `invalid` for a missing `file`.",
    "invalid_media", "The file looks like PNG but cannot be decoded (truncated or corrupt).",
    {"file": ["This image cannot be decoded."]},
)  # fmt: skip
_TOO_LARGE = error_response(
    "More bytes than the kind allows (images 8 MiB, videos 40 MiB by default).",
    "media_too_large", "The file is 9,437,184 bytes; images may be up to 8,388,608.",
)  # fmt: skip
_NO_MEDIA = error_response(
    "No such media of yours.", "not_found", "No media of yours with this id."
)
_BAD_ID = error_response(
    "The id in the path is not a whole number in range.", "invalid",
    "media_id: An id is a whole number from 0 to 9223372036854775807.",
    {"media_id": ["An id is a whole number from 0 to 9223372036854775807."]},
)  # fmt: skip


class MediaCollectionApi(APIView):
    permission_classes = (IsAuthenticated,)
    throttle_scope = "media_upload"
    parser_classes = (MediaUploadParser,)

    class InputSerializer(StrictSerializer):
        file = serializers.FileField(
            allow_empty_file=False, use_url=False,
            help_text=f"{media.SUPPORTED}; the type is read from the content.",
        )  # fmt: skip

        class Meta:
            ref_name = "MediaInput"

    @extend_schema(
        operation_id="media_create", request={"multipart/form-data": InputSerializer},
        responses={201: MediaOutputSerializer, 400: _INVALID, 413: _TOO_LARGE,
                   415: _UNSUPPORTED},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = media.upload_media(owner=request.user, upload=data.validated_data["file"])
        location = reverse("media-detail", kwargs={"media_id": str(item.id)})
        return Response(
            media.media_detail(item), status=status.HTTP_201_CREATED, headers={"Location": location}
        )


class MediaDetailApi(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="media_retrieve",
        responses={200: MediaOutputSerializer, 400: _BAD_ID, 404: _NO_MEDIA},
    )
    def get(self, request: Request, media_id: str) -> Response:
        found = parse_id(media_id, name="media_id")
        if found is None:
            raise InvalidInputError.for_field("media_id", "An id is a whole number.")
        item = media.media_of_owner(owner=request.user, media_id=found)
        return Response(media.media_detail(item))


VIDEO_EXTS = (".mp4", ".mov", ".webm")


@require_safe
def media_file(request: HttpRequest, name: str) -> HttpResponse:
    """A stored media file, `media/<sha256>/<file>`, with headers for caching it for ever: the
    name is its content's address, so it never changes. One byte range (`Range: bytes=a-b`) is
    answered with 206: browsers ask for ranges to play and seek in a video. Nothing is served
    but names timeline.media writes; a name not (yet) there is a 404 nobody caches."""
    # A video's original is kept as uploaded (metadata, GPS and all) to transcode from: never
    # served. What readers get are the transcodes and the thumbnail.
    hidden = name.rsplit("/", 1)[-1].split(".")[0] == "original" and name.endswith(VIDEO_EXTS)
    if hidden or not media.NAME_RE.fullmatch(name) or not default_storage.exists(name):
        response = HttpResponse("No such media file.\n", status=404, content_type="text/plain")
        response["Cache-Control"] = "no-store"
        return response
    size = default_storage.size(name)
    content_type = media.CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "image/webp")
    found = RANGE_RE.fullmatch(request.headers.get("Range", "").strip())
    span = _byte_range(found, size) if found else None
    if span is not None and span[0] > span[1]:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif span is not None:
        start, end = span
        stored = default_storage.open(name)
        stored.seek(start)
        response = StreamingHttpResponse(
            _read(stored, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(default_storage.open(name), content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = IMMUTABLE
    response["ETag"] = f'"{name.split("/")[1][:32]}-{name.rsplit("/", 1)[-1]}"'
    # Served from our origin: a file must never be able to act as a page of it.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"  # embeddable by other origins
    return response


def _byte_range(found: re.Match, size: int) -> tuple[int, int] | None:
    """(first, last) byte of `bytes=a-b`, `bytes=a-` or `bytes=-n` in a file of `size` bytes;
    first > last when it cannot be satisfied (416), None when it is no range (ignored: 200)."""
    first, last = found.group(1), found.group(2)
    if not first:  # the last n bytes
        if not last:
            return None
        n = int(last)
        return (max(size - n, 0), size - 1) if n else (1, 0)
    start = int(first)
    if last and int(last) < start:
        return None
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size else (1, 0)


def _read(stored, length: int):  # type: ignore[no-untyped-def]
    try:
        while length > 0:
            chunk = stored.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        stored.close()
