"""Errors of the timeline that core.errors does not already name."""

from core.errors import ApplicationError


class CannotFollowYourselfError(ApplicationError):
    status_code, code = 400, "cannot_follow_yourself"


class MediaNotAttachableError(ApplicationError):
    status_code, code = 400, "media_not_attachable"
