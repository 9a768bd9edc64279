"""Domain errors and the one API error shape.

Every API error, whoever raises it, leaves as

    {"error": {"code": "alias_taken", "message": "The alias 'x' is taken.", "fields": {}}}

with the status the error carries. Services raise `ApplicationError` subclasses (here or in an
app's `errors.py`); DRF's own exceptions and Django's `Http404`/`PermissionDenied`/
`ValidationError` are translated by `api_exception_handler`. Anything else is a bug and a 500,
rendered in the same shape by `json_server_error` for `/api/` paths.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

Fields = dict[str, Any]


class ApplicationError(Exception):
    """Base of every domain error. Subclasses set `status_code` and `code`."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: Fields | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code is not None:
            self.code = code


class InvalidInputError(ApplicationError):
    status_code, code = 400, "invalid"

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidInputError:
        """The 400 of one bad field (or query parameter): `fields` names it, `message` says
        "<field>: <why>", as every validation error does."""
        return cls(f"{field}: {message}", fields={field: [message]})


class NotAuthenticatedError(ApplicationError):
    status_code, code = 401, "not_authenticated"


class ForbiddenError(ApplicationError):
    status_code, code = 403, "forbidden"


class NotFoundError(ApplicationError):
    status_code, code = 404, "not_found"


class ConflictError(ApplicationError):
    status_code, code = 409, "conflict"


class GoneError(ApplicationError):
    status_code, code = 410, "gone"


class UnprocessableError(ApplicationError):
    status_code, code = 422, "unprocessable"


class RequestTooLargeError(ApplicationError):
    status_code, code = 413, "request_too_large"


class RateLimitedError(ApplicationError):
    status_code, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def error_body(code: str, message: str, fields: Fields | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten_fields(detail: Any, path: str = "") -> dict[str, list[str]]:
    """DRF ErrorDetail trees -> one flat map of field path -> messages, the shape every error
    has: `{"links[1].long_url": ["…"], "links": ["…"]}`. An item of a list is `name[i]`, a
    nested field `name.sub`; a nested serializer's non_field_errors belong to its own path."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == NON_FIELD:
                sub = path or NON_FIELD
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            _merge(out, flatten_fields(value, sub))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                out[path or NON_FIELD] = [str(item) for item in detail]
        else:  # one entry per item of a list (a ListSerializer): {} for the valid ones
            for index, item in enumerate(detail):
                _merge(out, flatten_fields(item, f"{path}[{index}]"))
    else:
        out[path or NON_FIELD] = [str(detail)]
    return out


NON_FIELD = "non_field_errors"


def _merge(into: dict[str, list[str]], more: dict[str, list[str]]) -> None:
    for key, messages in more.items():
        into.setdefault(key, []).extend(messages)


def _first_message(fields: dict[str, list[str]]) -> str:
    """The first message with its field path: 'password: This password is too short.'"""
    for path, messages in fields.items():
        if messages:
            return messages[0] if path == NON_FIELD else f"{path}: {messages[0]}"
    return ""


def _validation_response(detail: Any) -> Response:
    fields = flatten_fields(detail)
    message = _first_message(fields) or "Invalid input."
    return Response(error_body("invalid", message, fields), status=400)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every known error -> the one JSON shape; unknown -> None (a 500)."""
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
        if isinstance(exc, RateLimitedError):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, SuspiciousOperation) and (known := request_refusal(exc)) is not None:
        return Response(error_body(known.code, known.message), status=known.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return _validation_response(exc.message_dict)
        return _validation_response(exc.messages)
    if isinstance(exc, drf.ValidationError):
        return _validation_response(exc.detail)

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    # DRF builds the status and headers (WWW-Authenticate, Retry-After, Allow); we replace the body.
    # Imported here: rest_framework.views loads the throttle classes from settings at import time,
    # and those (ratelimit) import this module: a top-level import would be a cycle.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, drf.APIException)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    response.data = error_body(_CODE_ALIASES.get(code, code), str(exc.detail))
    return response


# DRF's codes, renamed where ours read better. The rest pass through: not_authenticated,
# authentication_failed, permission_denied, not_found, method_not_allowed, parse_error, ...
_CODE_ALIASES = {"throttled": "rate_limited"}


def request_refusal(exc: Exception) -> ApplicationError | None:
    """What Django's request-size guards (raised while reading a body) mean for a client, or
    None for another SuspiciousOperation (a bad Host, a forged session: Django's 400 stays)."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return RequestTooLargeError(
            f"The request body is larger than {limit:,} bytes, the most this server accepts."
        )
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return InvalidInputError(
            f"The form has more than {limit:,} fields.", code="too_many_fields"
        )
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return InvalidInputError(f"The form has more than {limit:,} files.", code="too_many_files")
    return None


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_or_html_404(request: HttpRequest, exception: Exception | None = None):  # type: ignore[no-untyped-def]
    """handler404: the JSON shape under /api/ (an unknown endpoint), Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}."), status=404
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)  # type: ignore[arg-type]


def json_or_html_400(request: HttpRequest, exception: Exception | None = None):  # type: ignore[no-untyped-def]
    """handler400: Django's guards on a request body (too large: 413; too many fields: 400) in
    words, as JSON under /api/ and as a page elsewhere; any other bad request (a Host not in
    ALLOWED_HOSTS, ...) as Django has it, in the one error shape under /api/."""
    known = request_refusal(exception) if exception is not None else None
    if known is None and _is_api(request):
        # Django's words stay out: DisallowedHost's would echo the client's Host header.
        message = (
            "The Host header names a host this server does not serve."
            if isinstance(exception, DisallowedHost)
            else "The request is malformed."
        )
        return JsonResponse(error_body("bad_request", message), status=400)
    if known is None:
        from django.views.defaults import bad_request

        return bad_request(request, exception)  # type: ignore[arg-type]
    if _is_api(request):
        return JsonResponse(error_body(known.code, known.message), status=known.status_code)
    return error_page(request, known)


# A heading per status for error pages; the error's own message says the rest.
PAGE_TITLES = {
    400: "That could not be used",
    401: "Please sign in first",
    403: "That is not allowed",
    404: "There is nothing at this address",
    409: "That clashes with something that exists",
    410: "This is gone",
    413: "That was more than this site accepts",
    422: "That could not be done",
    429: "Please wait before trying again",
    503: "Please try again shortly",
}


def error_page(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    """`exc` as a page a person can read (templates/error.html): its status, a heading, its
    message, and Retry-After when it has one. The pages' counterpart of the JSON error shape."""
    from django.shortcuts import render

    retry_after = getattr(exc, "retry_after", None)
    context = {
        "status": exc.status_code,
        "title": PAGE_TITLES.get(exc.status_code, "That did not work"),
        "message": exc.message,
        "retry_after": retry_after,
    }
    response = render(request, "error.html", context, status=exc.status_code)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def json_or_html_500(request: HttpRequest):  # type: ignore[no-untyped-def]
    """handler500: a bug. Same shape under /api/, without leaking the exception."""
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Internal error; it has been logged."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)
