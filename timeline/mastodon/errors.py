"""Errors of the Mastodon API in Mastodon's shape: `{"error": "Record not found"}`.

This base path follows Mastodon's conventions, not ours (docs/api.md, "Errors"): the body is one
string, and some statuses differ from /api/v1/'s (an invalid post is a 422, following yourself a
403). The status and headers (Retry-After, WWW-Authenticate, Allow) are still decided by
core.errors.api_exception_handler, the one place that maps exceptions to statuses; only the body
is rewritten here, with Mastodon's words for the statuses its clients know.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from core.errors import ApplicationError, api_exception_handler

# What Mastodon answers (app/controllers/api/base_controller.rb, Doorkeeper, Rack::Attack).
WORDS = {
    401: "The access token is invalid",
    403: "This action is not allowed",
    404: "Record not found",
    429: "Too many requests",
}


class MastodonError(ApplicationError):
    """An error whose status and words are Mastodon's for this case, sent as they are."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message, code="mastodon")
        self.status_code = status_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The views' EXCEPTION_HANDLER: core's status and headers, Mastodon's body."""
    response = api_exception_handler(exc, context)
    if response is None:  # a bug: Django's 500
        return None
    message = response.data["error"]["message"]
    if not isinstance(exc, MastodonError):
        message = WORDS.get(response.status_code, message)
    response.data = {"error": message}
    return response


def validation_failed(message: str) -> MastodonError:
    """Mastodon's 422 for a record it would not save (ActiveRecord::RecordInvalid)."""
    return MastodonError(422, f"Validation failed: {message}")
