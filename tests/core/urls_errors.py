"""A URLconf for test_errors: one tiny API view per kind of error the handler must shape."""

from django.urls import include, path
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core import errors


class _Echo(APIView):
    permission_classes = (AllowAny,)

    class InputSerializer(serializers.Serializer):
        class Nested(serializers.Serializer):
            count = serializers.IntegerField(min_value=1)

        name = serializers.CharField(max_length=5)
        nested = Nested(required=False)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(data.validated_data)


def _raising(exc: Exception, permission=AllowAny) -> type[APIView]:
    class _View(APIView):
        permission_classes = (permission,)

        def get(self, request):
            raise exc

    return _View


api = [
    path("echo", _Echo.as_view()),
    path(
        "conflict",
        _raising(errors.ConflictError("The alias 'x' is taken.", code="alias_taken")).as_view(),
    ),
    path("gone", _raising(errors.GoneError("This link expired.")).as_view()),
    path("limited", _raising(errors.RateLimitedError("Slow down.", retry_after=7)).as_view()),
    path("throttled", _raising(exceptions.Throttled(wait=3)).as_view()),
    path("private", _raising(RuntimeError("never reached"), permission=IsAuthenticated).as_view()),
    path("bug", _raising(ZeroDivisionError("a bug")).as_view()),
]

urlpatterns = [path("api/v1/", include(api))]

handler400 = "core.errors.json_or_html_400"
handler404 = "core.errors.json_or_html_404"
handler500 = "core.errors.json_or_html_500"
