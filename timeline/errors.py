"""Errors of the timeline that core.errors does not already name."""

from core.errors import ApplicationError


class CannotFollowYourselfError(ApplicationError):
    status_code, code = 400, "cannot_follow_yourself"


class MediaNotAttachableError(ApplicationError):
    status_code, code = 400, "media_not_attachable"


class UnsupportedMediaError(ApplicationError):
    """Not an image or video of a supported type, judged by its bytes (SVG, HEIC, text...)."""

    status_code, code = 415, "unsupported_media_type"


class InvalidMediaError(ApplicationError):
    """A supported type that cannot be decoded (truncated, corrupt) or passes a bound (pixels,
    frames, seconds); the code says which (`invalid_media`, `image_too_large`, ...)."""

    status_code, code = 400, "invalid_media"


class MediaTooLargeError(ApplicationError):
    status_code, code = 413, "media_too_large"


class MediaUnavailableError(ApplicationError):
    """ffprobe/ffmpeg is not installed on this server (scripts/setup.sh installs it)."""

    status_code, code = 503, "media_unavailable"
