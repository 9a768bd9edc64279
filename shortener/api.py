"""REST API of the URL shortener: /api/v1/links…  Thin: parse, call one service/selector, shape.

Creating through the API needs a token (writes require authentication); anonymous links are made
from the home page. A link is only ever visible to its owner here: another user's code is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import error_response
from core.pagination import IdCursorPagination
from core.serializers import StrictSerializer
from shortener import rules, selectors, services
from shortener.models import Link, RedirectType

_NOT_FOUND = error_response(
    "Not yours, or no such link.", "link_not_found", "You have no link 'x'."
)
_INVALID = error_response(
    "A field is invalid; `fields` names it.",
    "invalid",
    "long_url: Only http:// and https:// URLs can be shortened.",
    {"long_url": ["Only http:// and https:// URLs can be shortened."]},
)


class LinkOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="64-bit Snowflake id, as a string.")
    code = serializers.CharField()
    short_url = serializers.SerializerMethodField()
    long_url = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    max_clicks = serializers.IntegerField(allow_null=True)
    redirect_type = serializers.IntegerField()
    clicks = serializers.SerializerMethodField(help_text="Human clicks, live (incl. unflushed).")
    state = serializers.SerializerMethodField(help_text="active, disabled, expired or exhausted")
    has_password = serializers.BooleanField()
    disabled = serializers.BooleanField()
    preview_url = serializers.SerializerMethodField()
    qr_svg_url = serializers.SerializerMethodField()
    qr_png_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Link"

    def _live(self, link: Link) -> int:
        live = self.context.get("live_clicks")
        if live is None:
            live = self.context["live_clicks"] = selectors.live_clicks(links=[link])
        return live.get(link.id, link.clicks)

    def get_short_url(self, link: Link) -> str:
        return selectors.short_url(code=link.code, request=self.context.get("request"))

    def get_clicks(self, link: Link) -> int:
        return self._live(link)

    def get_state(self, link: Link) -> str:
        return selectors.link_state(link=link, clicks_so_far=self._live(link))

    def get_preview_url(self, link: Link) -> str:
        return self.get_short_url(link) + "+"

    def get_qr_svg_url(self, link: Link) -> str:
        return self._absolute(f"/shortener/links/{link.code}/qr.svg")

    def get_qr_png_url(self, link: Link) -> str:
        return self._absolute(f"/shortener/links/{link.code}/qr.png")

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


def _output(links: list[Link], request: Request) -> list[dict] | dict:
    context = {"request": request, "live_clicks": selectors.live_clicks(links=links)}
    return LinkOutputSerializer(links, many=True, context=context).data


class LinkInputSerializer(StrictSerializer):
    """Shape only: the rules (schemes, hosts, aliases, reserved words) are shortener.rules'.
    The bounds here are the rules' own, so that the schema tells clients the truth."""

    long_url = serializers.CharField(
        max_length=settings.SHORTENER_MAX_URL_LENGTH,
        help_text="http(s), at most 2,048 characters once encoded.",
    )
    alias = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=rules.ALIAS_MAX_LENGTH,
        help_text="3 to 32 of [A-Za-z0-9_-]; a random 7-character code when absent.",
    )  # fmt: skip
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True,
        help_text="ISO 8601 with a time zone; in the future and at most 2999-12-31T23:59:59Z.",
    )  # fmt: skip
    max_clicks = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=rules.MAX_CLICKS_LIMIT
    )
    redirect_type = serializers.ChoiceField(
        choices=RedirectType.values, required=False, default=RedirectType.FOUND
    )
    password = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False,
        max_length=rules.LINK_PASSWORD_MAX_LENGTH,
        help_text="Asked for before redirecting; empty or null for none.",
    )  # fmt: skip

    class Meta:
        ref_name = "LinkInput"


class LinkCreateApi(APIView):
    """POST /api/v1/links. Shares its URL with LinkListApi (GET): see LinkCollectionApi."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="links_create",
        request=LinkInputSerializer,
        responses={201: LinkOutputSerializer, 400: _INVALID, 409: error_response(
            "The alias is taken.", "alias_taken", "The alias 'launch' is taken.",
            {"alias": ["The alias 'launch' is taken."]})},
        examples=[OpenApiExample("with alias", request_only=True, value={
            "long_url": "https://example.com/a/long/path", "alias": "launch"})],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = LinkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.create_link(
            owner=request.user, request_host=request.get_host(), **data.validated_data
        )
        return Response(_output([link], request)[0], status=status.HTTP_201_CREATED)


class LinkCursorPagination(IdCursorPagination):
    page_size = 50
    max_page_size = 200


class LinkListApi(APIView):
    permission_classes = (IsAuthenticated,)

    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = LinkOutputSerializer(many=True)

        class Meta:
            ref_name = "LinkPage"

    @extend_schema(
        operation_id="links_list", parameters=LinkCursorPagination.openapi_parameters(),
        responses={200: OutputSerializer, 400: _INVALID},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        paginator = LinkCursorPagination()
        page = paginator.paginate_queryset(
            selectors.links_for_owner(owner=request.user), request, view=self
        )
        return paginator.get_paginated_response(_output(list(page or []), request))


class LinkCollectionApi(LinkListApi, LinkCreateApi):
    """/api/v1/links: GET lists (LinkListApi), POST creates (LinkCreateApi)."""

    throttle_scope = "link_create"  # the policy counts POST only (its `methods`)


class LinkDetailApi(APIView):
    """GET, PATCH and DELETE share the URL /api/v1/links/{code}, hence one view class."""

    permission_classes = (IsAuthenticated,)

    class PatchSerializer(LinkInputSerializer):
        alias = None  # the code never changes (to_internal_value says so, before the rest)
        long_url = serializers.CharField(
            max_length=settings.SHORTENER_MAX_URL_LENGTH, required=False
        )
        redirect_type = serializers.ChoiceField(choices=RedirectType.values, required=False)
        disabled = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "LinkPatch"

        def to_internal_value(self, data: Any) -> Any:
            # Before the unknown-field check: "code" deserves a better answer than "unknown".
            if isinstance(data, Mapping) and ("alias" in data or "code" in data):
                raise serializers.ValidationError(
                    {"alias": ["The code of a link cannot change: it is already out there."]}
                )
            return super().to_internal_value(data)

    @extend_schema(
        operation_id="links_retrieve", responses={200: LinkOutputSerializer, 404: _NOT_FOUND}
    )
    def get(self, request: Request, code: str) -> Response:
        link = selectors.owned_link(code=code, owner=request.user)
        return Response(_output([link], request)[0])

    @extend_schema(
        operation_id="links_partial_update", request=PatchSerializer,
        responses={200: LinkOutputSerializer, 400: _INVALID, 404: _NOT_FOUND},
    )  # fmt: skip
    def patch(self, request: Request, code: str) -> Response:
        link = selectors.owned_link(code=code, owner=request.user)
        data = self.PatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if data.validated_data:  # `{}` changes nothing: 200 with the link, as Stripe and GitHub
            link = services.update_link(
                link=link, request_host=request.get_host(), **data.validated_data
            )
        return Response(_output([link], request)[0])

    @extend_schema(operation_id="links_destroy", responses={204: None, 404: _NOT_FOUND})
    def delete(self, request: Request, code: str) -> Response:
        services.delete_link(link=selectors.owned_link(code=code, owner=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkBulkCreateApi(APIView):
    """Up to SHORTENER_BULK_MAX links in one request; 200 with one result per item, in order.
    A bad item does not fail the others."""

    permission_classes = (IsAuthenticated,)
    throttle_scope = "link_bulk_create"

    class InputSerializer(StrictSerializer):
        links = LinkInputSerializer(many=True, allow_empty=False)

        class Meta:
            ref_name = "LinkBulkInput"

        def validate_links(self, value: list) -> list:
            if len(value) > settings.SHORTENER_BULK_MAX:
                raise serializers.ValidationError(
                    f"At most {settings.SHORTENER_BULK_MAX} links per request; got {len(value)}."
                )
            return value

    class ItemSerializer(serializers.Serializer):
        index = serializers.IntegerField()
        status = serializers.IntegerField(help_text="201, or the item's error status")
        link = LinkOutputSerializer(allow_null=True)
        error = serializers.DictField(allow_null=True, help_text="{code, message, fields}")

        class Meta:
            ref_name = "LinkBulkItem"

    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        failed = serializers.IntegerField()
        results = serializers.ListField(child=serializers.DictField())

        class Meta:
            ref_name = "LinkBulkResult"

    @extend_schema(
        operation_id="links_bulk_create", request=InputSerializer,
        responses={200: OutputSerializer, 400: _INVALID},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = services.create_links_bulk(
            owner=request.user, items=data.validated_data["links"], request_host=request.get_host()
        )
        created = [r.link for r in results if r.link is not None]
        shaped = iter(_output(created, request))
        body = [_bulk_item(r, next(shaped) if r.link is not None else None) for r in results]
        return Response(
            {"created": len(created), "failed": len(results) - len(created), "results": body}
        )


def _bulk_item(result: services.BulkItemResult, link: dict | None) -> dict:
    error = result.error
    return {
        "index": result.index,
        "status": result.status,
        "link": link,
        "error": None
        if error is None
        else {"code": error.code, "message": error.message, "fields": error.fields},
    }


class LinkStatsApi(APIView):
    permission_classes = (IsAuthenticated,)

    class OutputSerializer(serializers.Serializer):
        clicks = serializers.IntegerField()
        by_day = serializers.ListField(child=serializers.DictField())
        top_referrers = serializers.ListField(child=serializers.DictField())
        devices = serializers.DictField(child=serializers.IntegerField())
        bot_hits = serializers.IntegerField()

        class Meta:
            ref_name = "LinkStats"

    @extend_schema(operation_id="links_stats", responses={200: OutputSerializer, 404: _NOT_FOUND})
    def get(self, request: Request, code: str) -> Response:
        link = selectors.owned_link(code=code, owner=request.user)
        return Response(selectors.link_stats(link=link))
