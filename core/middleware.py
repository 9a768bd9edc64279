"""ApplicationErrorPageMiddleware: a domain error that escapes a page view becomes a page.

The API renders ApplicationError as the one JSON error shape (core.errors.api_exception_handler);
a page view has no such handler, so an ApplicationError it lets through (a RateLimitedError from
ratelimit.pages.limit_request, above all) would be a 500. Here it is a page a person can read,
with the status the error carries and its Retry-After. /api/ paths are left alone: DRF handles
their errors, and anything that gets past it is a bug (handler500's JSON).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import ApplicationError, RateLimitedError

# A heading per status; the error's own message says the rest.
TITLES = {
    400: "That could not be used",
    401: "Please sign in first",
    403: "That is not allowed",
    404: "There is nothing at this address",
    409: "That clashes with something that exists",
    410: "This is gone",
    422: "That could not be done",
    429: "Please wait before trying again",
    503: "Please try again shortly",
}


class ApplicationErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError) or request.path.startswith("/api/"):
            return None
        retry_after = exception.retry_after if isinstance(exception, RateLimitedError) else None
        context = {
            "status": exception.status_code,
            "title": TITLES.get(exception.status_code, "That did not work"),
            "message": exception.message,
            "retry_after": retry_after,
        }
        response = render(request, "error.html", context, status=exception.status_code)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
