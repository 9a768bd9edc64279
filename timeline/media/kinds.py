"""What an upload may be, judged by its bytes, and the names its files are stored under."""

from __future__ import annotations

import re

from timeline.errors import UnsupportedMediaError
from timeline.models import MediaKind

# Pillow format -> (content type, extension). Pillow is only ever asked to open the sniffed one.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"), "GIF": ("image/gif", "gif"),
}  # fmt: skip
# container -> (content type, extension, ffmpeg demuxer)
VIDEO_FORMATS = {
    "mp4": ("video/mp4", "mp4", "mov"), "mov": ("video/quicktime", "mov", "mov"),
    "webm": ("video/webm", "webm", "matroska"),
}  # fmt: skip
CONTENT_TYPES = {ext: ctype for ctype, ext in IMAGE_FORMATS.values()} | {
    ext: ctype for ctype, ext, _ in VIDEO_FORMATS.values()
}
SUPPORTED = "JPEG, PNG, WebP or GIF images; MP4, WebM or QuickTime videos"

# Files made from an original, beside it. A name is never rewritten with other bytes: a new
# recipe (another size, codec) needs a new name.
DERIVED = {"thumb": "thumb.webp", "360p": "360p.mp4", "720p": "720p.mp4"}
# Every name timeline.media writes; the file view (media_api.media_file) serves nothing else.
NAME_RE = re.compile(
    r"media/[0-9a-f]{64}/(?:original\.(?:jpg|png|webp|gif|mp4|mov|webm)|thumb\.webp|\d+p\.mp4)"
)

# ISO-BMFF brands that are not video (HEIF/AVIF pictures, audio): "ftyp" alone is not enough.
_NOT_VIDEO_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                     b"avif", b"avis", b"M4A ", b"M4B ", b"M4P "}  # fmt: skip


class MediaProcessingError(Exception):
    """A file that cannot be turned into what is needed (the item fails; it is not retried)."""


def original_name(sha256: str, ext: str) -> str:
    return f"media/{sha256}/original.{ext}"


def derived_name(sha256: str, role: str) -> str:
    return f"media/{sha256}/{DERIVED[role]}"


def sniff(head: bytes) -> tuple[str, str]:
    """(kind, format) of a file by its first 64 bytes, never by its name or Content-Type;
    UnsupportedMediaError (415) for anything else (SVG, HEIC, text called .jpg, a playlist)."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE, "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE, "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.IMAGE, "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE, "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] not in _NOT_VIDEO_BRANDS:
        return MediaKind.VIDEO, "mov" if head[8:12] == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime without a ftyp box
        return MediaKind.VIDEO, "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head:  # EBML, doctype webm
        return MediaKind.VIDEO, "webm"
    raise UnsupportedMediaError(
        f"This file is not one of {SUPPORTED} (judged by its content, not its name).",
        fields={"file": [f"Send {SUPPORTED}."]},
    )
