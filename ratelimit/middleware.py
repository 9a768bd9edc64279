"""RateLimit-Policy / RateLimit headers on responses of rate-limited requests.

DRF throttles run inside the view and have no hook on the response, so they record their checks
on the request (ratelimit.throttles.record_check) and this middleware writes the headers. A
policy with `headers_on_success = False` shows up only when it refused, or would have (shadow).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ratelimit.headers import header_pairs
from ratelimit.throttles import REQUEST_ATTR


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        checks = getattr(request, REQUEST_ATTR, None)
        if checks:
            shown = [
                (policy, decision)
                for policy, decision in checks
                if policy.headers_on_success or decision.would_limit
            ]
            for name, value in header_pairs(shown):
                response[name] = value
        return response
