"""Errors of the URL shortener. Each carries its HTTP status (see core.errors)."""

from core.errors import ConflictError, GoneError, NotFoundError


class AliasTakenError(ConflictError):
    code = "alias_taken"


class LinkNotFoundError(NotFoundError):
    code = "link_not_found"


class LinkGoneError(GoneError):
    """Expired, exhausted (max_clicks reached) or disabled: the link existed, it no longer works."""

    code = "link_gone"
