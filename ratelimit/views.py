"""Rate limiter pages: the lab (/ratelimit/) and its JSON endpoints.

The endpoints are DRF views so their errors leave in the one error shape (core.errors), but they
serve the lab page only: no token authentication, and CSRF enforced for everyone, signed in or
not (DRF's SessionAuthentication would check it only for signed-in users, and the lab is open).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictSerializer
from ratelimit import lab
from ratelimit.algorithms import ALGORITHMS
from ratelimit.clientip import client_ip
from ratelimit.throttles import ScopedRateThrottle

DEFAULTS = {"algorithm": "token_bucket", "limit": 5, "window": 10, "burst_n": 10}


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    """The lab. The memory table is drawn here for the default configuration (and redrawn by
    static/js/ratelimit-lab.js when the configuration changes), so its numbers read without
    JavaScript; if Redis is down the page still renders and says so."""
    try:
        memory = lab.memory_table(
            limit=DEFAULTS["limit"], window_seconds=DEFAULTS["window"], burst=None
        )
    except lab.LabBackendDownError:
        memory = []
    return render(
        request,
        "ratelimit/index.html",
        {
            "algorithms": [(a, lab.ALGORITHM_NAMES.get(a, a)) for a in ALGORITHMS],
            "burst_algorithms": lab.BURST_ALGORITHMS,
            "defaults": DEFAULTS,
            "memory": memory,
            "users_text": f"{lab.USERS:,}",
            "bounds": {
                "n": lab.MAX_N,
                "limit": lab.MAX_LIMIT,
                "window": lab.MAX_WINDOW_SECONDS,
                "burst": lab.MAX_BURST,
            },
        },
    )


class _LabApi(APIView):
    """Session-keyed, CSRF-checked for every caller, rate limited per client address."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    # The API's default throttles (per user / per IP, sized for API clients) are replaced by the
    # lab's own policy, sized for what the page sends (steady mode: 10 calls a second).
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "lab_request"
    schema = None  # the lab page's own endpoints, not part of the public API (/api/docs/)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # CSRF before the throttle (in super().initial): a forged cross-site post is refused
        # without asking Redis and spends nothing of the visitor's budget.
        SessionAuthentication().enforce_csrf(request)  # PermissionDenied -> 403, error shape
        super().initial(request, *args, **kwargs)


class _ConfigSerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=lab.MAX_LIMIT)
    window = serializers.IntegerField(min_value=1, max_value=lab.MAX_WINDOW_SECONDS)
    burst = serializers.IntegerField(
        min_value=1, max_value=lab.MAX_BURST, required=False, allow_null=True, default=None
    )


class LabCheckApi(_LabApi):
    """POST /ratelimit/lab/check {algorithm, limit, window, burst?, n}: run `n` checks against
    this browser's key; the decisions with server timestamps, and the key's memory."""

    class InputSerializer(_ConfigSerializer):
        algorithm = serializers.ChoiceField(choices=ALGORITHMS)
        n = serializers.IntegerField(min_value=1, max_value=lab.MAX_N, default=1)

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        run = lab.run_lab_checks(
            lab=lab.lab_id(request.session),
            algorithm=v["algorithm"],
            limit=v["limit"],
            window_seconds=v["window"],
            burst=v["burst"],
            n=v["n"],
        )
        return Response(run.as_dict())


class LabMemoryApi(_LabApi):
    """POST /ratelimit/lab/memory {limit, window, burst?}: bytes per key for every algorithm
    holding a full window, and that for lab.USERS users (measured once per configuration)."""

    InputSerializer = _ConfigSerializer

    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        rows = lab.memory_table(
            limit=v["limit"],
            window_seconds=v["window"],
            burst=v["burst"],
            client=client_ip(request.META),  # charged under lab_memory if it must be measured
        )
        return Response({"limit": v["limit"], "users": lab.USERS, "algorithms": rows})


class LabResetApi(_LabApi):
    """POST /ratelimit/lab/reset: a new lab id, so the next checks meet empty state."""

    def post(self, request: Request) -> Response:
        lab.rotate_lab_id(request.session)
        return Response(status=status.HTTP_204_NO_CONTENT)
