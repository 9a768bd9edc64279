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

from core.errors import ApplicationError, error_page


class ApplicationErrorPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError) or request.path.startswith("/api/"):
            return None
        return error_page(request, exception)
