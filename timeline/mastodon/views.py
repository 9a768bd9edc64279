"""Views of the Mastodon API subset: parse as Mastodon's clients send (form fields or JSON), call
the one service or selector, shape Mastodon's entity (docs/api.md, "Mastodon clients").

Not in the OpenAPI schema (`schema = None`): that documents /api/v1/, whose error shape this
path does not use.
"""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Sum
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.errors import ApplicationError, ForbiddenError, InvalidInputError, NotFoundError
from core.pagination import parse_id, parse_limit
from core.parsers import JSONParser
from timeline import home, selectors, services
from timeline.errors import CannotFollowYourselfError
from timeline.mastodon import entities
from timeline.mastodon.auth import BearerTokenAuthentication
from timeline.mastodon.errors import WORDS, MastodonError, exception_handler, validation_failed
from timeline.models import Profile, Tweet

# Mastodon's: 20 statuses by default, at most twice that (Api::BaseController#limit_param).
DEFAULT_LIMIT, MAX_LIMIT = 20, 40
ACTIVE_MONTH = timedelta(days=30)
HOME_BOUNDS = ("max_id", "since_id", "min_id")
# Django's rule for usernames (AbstractUser): anything else names no one, and a NUL byte must
# not reach PostgreSQL (a 500).
USERNAME_RE = re.compile(r"[\w.@+-]{1,150}")
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
SELF_FOLLOW = "Following your own account is not allowed"


class JsonAlways(DefaultContentNegotiation):
    """JSON whatever `Accept` says, as Mastodon answers its API (clients send `*/*` or less)."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class MastodonApi(APIView):
    """Base of every view here: Bearer tokens, form or JSON bodies, Mastodon's error body. The
    throttles are the project's (settings.REST_FRAMEWORK), per user or IP and per scope."""

    authentication_classes = (BearerTokenAuthentication,)
    parser_classes = (JSONParser, FormParser, MultiPartParser)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JsonAlways
    permission_classes = (IsAuthenticated,)
    schema = None

    def get_exception_handler(self) -> Any:
        return exception_handler


def _user(account_id: str) -> User:
    """The active user whose id is `account_id`; 404 otherwise, as Mastodon's Account.find is
    for any id it does not know (a malformed one included)."""
    try:
        user_id = parse_id(account_id, name="id")
    except InvalidInputError:
        user_id = None
    user = None if user_id is None else User.objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise NotFoundError("No account with this id.")
    return user


def _summaries(user_ids: set[int]) -> dict[int, dict]:
    """selectors.profile_summary's counts of many users in one query (authors of a page)."""
    users = User.objects.filter(id__in=user_ids).select_related("timeline_profile")
    out = {}
    for user in users:
        profile = getattr(user, "timeline_profile", None)
        out[user.id] = {
            "id": str(user.id),
            "username": user.username,
            "joined_at": user.date_joined.isoformat(),
            "followers_count": profile.followers_count if profile else 0,
            "following_count": profile.following_count if profile else 0,
            "tweets_count": profile.tweets_count if profile else 0,
        }
    return out


def _statuses(items: list[dict], site: entities.Site) -> list[dict]:
    """Statuses of hydrated tweets: one query for their authors, one for the authors of the
    tweets they reply to (if any), whatever the number of items."""
    authors = _summaries({int(item["author"]["id"]) for item in items})
    reply_ids = {int(item["reply_to_id"]) for item in items if item["reply_to_id"]}
    replied = (
        dict(Tweet.objects.filter(id__in=reply_ids).values_list("id", "author_id"))
        if reply_ids
        else {}
    )
    out = []
    for item in items:
        author = authors.get(int(item["author"]["id"]))
        if author is None:  # the account is gone (a cached copy outlived it): so is the post
            continue
        reply_to = item["reply_to_id"]
        reply_author = replied.get(int(reply_to)) if reply_to else None
        out.append(
            entities.status(
                item,
                author=entities.account(author, site),
                in_reply_to_account_id=None if reply_author is None else str(reply_author),
                site=site,
            )
        )
    return out


def _relationship(viewer: User, other: User) -> dict:
    if other.id == viewer.id:  # followed_among counts the reader as followed: not a relation
        return entities.relationship(str(other.id), following=False, followed_by=False)
    return entities.relationship(
        str(other.id),
        following=other.id in selectors.followed_among(viewer.id, {other.id}),
        followed_by=viewer.id in selectors.followed_among(other.id, {viewer.id}),
    )


class InstanceApi(MastodonApi):
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        users = User.objects.filter(is_active=True).count()
        statuses = Profile.objects.aggregate(n=Sum("tweets_count"))["n"] or 0
        site = entities.Site.of(request)
        return Response(entities.instance_v1(site, users=users, statuses=statuses))


class InstanceV2Api(MastodonApi):
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        since = timezone.now() - ACTIVE_MONTH
        active = Profile.objects.filter(last_active_at__gte=since).count()
        return Response(entities.instance_v2(entities.Site.of(request), active_month=active))


class VerifyCredentialsApi(MastodonApi):
    def get(self, request: Request) -> Response:
        summary = selectors.profile_summary(user=request.user, viewer=request.user)
        return Response(entities.credential_account(summary, entities.Site.of(request)))


class AccountLookupApi(MastodonApi):
    """`?acct=alice`, `@alice` or `alice@<this host>`; another domain is not ours: 404."""

    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        acct = request.query_params.get("acct", "").strip().removeprefix("@")
        if not acct:
            raise MastodonError(400, "param is missing or the value is empty: acct")
        site = entities.Site.of(request)
        username, _, domain = acct.partition("@")
        if domain and domain.lower() not in {site.host.lower(), site.host.split(":")[0].lower()}:
            raise NotFoundError("Remote accounts are not served here.")
        user = selectors.user_by_username(username) if USERNAME_RE.fullmatch(username) else None
        if user is None:
            raise NotFoundError("No such account.")
        summary = selectors.profile_summary(user=user, viewer=None)
        return Response(entities.account(summary, site))


class AccountDetailApi(MastodonApi):
    permission_classes = (AllowAny,)

    def get(self, request: Request, account_id: str) -> Response:
        summary = selectors.profile_summary(user=_user(account_id), viewer=None)
        return Response(entities.account(summary, entities.Site.of(request)))


class AccountFollowApi(MastodonApi):
    """Follow; idempotent, answers the Relationship. Yourself: Mastodon's 403."""

    throttle_scope = "follow"

    def post(self, request: Request, account_id: str) -> Response:
        target = _user(account_id)
        try:
            services.follow(follower=request.user, username=target.username)
        except CannotFollowYourselfError:
            raise MastodonError(403, SELF_FOLLOW) from None
        return Response(_relationship(request.user, target))


class AccountUnfollowApi(MastodonApi):
    """Unfollow; idempotent, answers the Relationship (yourself: nothing to undo, as Mastodon)."""

    throttle_scope = "follow"

    def post(self, request: Request, account_id: str) -> Response:
        target = _user(account_id)
        # Yourself: Mastodon's UnfollowService finds no follow and answers the relationship.
        with contextlib.suppress(CannotFollowYourselfError):
            services.unfollow(follower=request.user, username=target.username)
        return Response(_relationship(request.user, target))


class StatusInput(serializers.Serializer):
    """Mastodon's form of POST /api/v1/statuses, as far as we honour it. Unknown fields are
    ignored, as Mastodon ignores them; the ones that would change what a post is (who sees it,
    a content warning, a schedule, a poll) are refused rather than dropped (see `_refuse`)."""

    status = serializers.CharField(
        required=False, default="", allow_blank=True, trim_whitespace=False, max_length=10_000
    )
    in_reply_to_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=40
    )
    media_ids = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=20
    )
    visibility = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    spoiler_text = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=10_000
    )
    sensitive = serializers.BooleanField(required=False, allow_null=True)
    scheduled_at = serializers.CharField(required=False, allow_null=True, allow_blank=True)


def _form(data: Any) -> dict:
    """The request's fields as one dict: a form's `media_ids[]` (Mastodon.py, curl -F) or
    `media_ids`, or a JSON object's."""
    if hasattr(data, "getlist"):
        fields = {key: data.get(key) for key in data if not key.startswith("media_ids")}
        media_ids = data.getlist("media_ids[]") or data.getlist("media_ids")
        if media_ids:
            fields["media_ids"] = media_ids
        return fields
    if not isinstance(data, dict):
        raise validation_failed("the body must be an object of fields")
    return data


def _refuse(data: dict, raw: dict) -> None:
    """422 for what a post here cannot honour: posting it anyway would show it to people its
    author did not choose, without its warning, or now instead of later."""
    if (data.get("visibility") or "public") not in ("public", "unlisted"):
        raise validation_failed("only public posts exist here (visibility public or unlisted)")
    if data.get("spoiler_text"):
        raise validation_failed("content warnings (spoiler_text) are not supported here")
    if data.get("sensitive"):
        raise validation_failed("sensitive media are not supported here")
    if data.get("scheduled_at"):
        raise validation_failed("scheduled posts are not supported here")
    if any(key == "poll" or key.startswith("poll[") for key in raw):
        raise validation_failed("polls are not supported here")


class StatusCreateApi(MastodonApi):
    throttle_scope = "tweet_create"

    def post(self, request: Request) -> Response:
        raw = _form(request.data)
        form = StatusInput(data=raw)
        if not form.is_valid():
            field, messages = next(iter(form.errors.items()))
            raise validation_failed(f"{field}: {_first(messages)}")
        data = form.validated_data
        _refuse(data, raw)
        try:
            reply_to = parse_id(data.get("in_reply_to_id"), name="in_reply_to_id")
            media_ids = [parse_id(raw_id, name="media_ids") for raw_id in data.get("media_ids", [])]
        except InvalidInputError as exc:
            if "in_reply_to_id" in exc.fields:
                raise MastodonError(404, REPLY_NOT_FOUND) from None
            raise validation_failed("media_ids: no such media") from None
        try:
            tweet = services.post_tweet(
                author=request.user,
                text=data["status"],
                reply_to_id=reply_to,
                media_ids=[m for m in media_ids if m is not None],
            )
        except ApplicationError as exc:
            if exc.status_code != 400:
                raise
            if "reply_to_id" in exc.fields:
                raise MastodonError(404, REPLY_NOT_FOUND) from None
            raise validation_failed(_first_field_message(exc)) from None
        site = entities.Site.of(request)
        return Response(_statuses([selectors.tweet_dict(tweet)], site)[0])


def _first(messages: Any) -> str:
    while isinstance(messages, list | dict):
        messages = next(iter(messages.values() if isinstance(messages, dict) else messages), "")
    return str(messages)


def _first_field_message(exc: ApplicationError) -> str:
    for messages in exc.fields.values():
        if messages:
            return _first(messages)
    return exc.message


def _status_id(raw: str) -> int:
    try:
        status_id = parse_id(raw, name="id")
    except InvalidInputError:
        status_id = None
    if status_id is None:
        raise NotFoundError("No status with this id.")
    return status_id


class StatusDetailApi(MastodonApi):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    def get(self, request: Request, status_id: str) -> Response:
        tweet = selectors.tweet_by_id(_status_id(status_id))
        if tweet is None:
            raise NotFoundError("No status with this id.")
        return Response(_statuses([selectors.tweet_dict(tweet)], entities.Site.of(request))[0])

    def delete(self, request: Request, status_id: str) -> Response:
        """Answers the deleted Status with its `text` (Mastodon's "delete and redraft")."""
        tweet_id = _status_id(status_id)
        tweet = selectors.tweet_by_id(tweet_id)
        try:
            services.delete_tweet(user=request.user, tweet_id=tweet_id)
        except ForbiddenError:
            # Mastodon looks the status up among the caller's own: someone else's is not found.
            raise NotFoundError("No status of yours with this id.") from None
        assert tweet is not None  # delete_tweet raised NotFoundError otherwise
        shaped = _statuses([selectors.tweet_dict(tweet)], entities.Site.of(request))[0]
        return Response({**shaped, "text": tweet.text})


class HomeTimelineApi(MastodonApi):
    """timeline.home.home_timeline, with Mastodon's bounds (exclusive; `min_id` wins over
    `since_id`, as in Mastodon's paginate_by_id) and its `Link` header: rel="next" pages older
    with max_id, rel="prev" newer with min_id."""

    def get(self, request: Request) -> Response:
        params = request.query_params
        bounds = {name: parse_id(params.get(name), name=name) for name in HOME_BOUNDS}
        if bounds["min_id"] is not None:
            bounds["since_id"] = None
        limit = parse_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        page = home.home_timeline(reader=request.user, limit=limit, **bounds)
        site = entities.Site.of(request)
        # Mastodon repeats `limit` in its links only if the client sent one.
        query = {"limit": limit} if params.get("limit") else {}
        links = []
        # A short page is the end: the read is exact, never short otherwise.
        if page.items and len(page.items) == limit:
            links.append(_link(request, site, "next", {**query, "max_id": page.items[-1]["id"]}))
        if page.items:
            links.append(_link(request, site, "prev", {**query, "min_id": page.items[0]["id"]}))
        headers = {"X-Timeline-Source": page.source}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(_statuses(page.items, site), headers=headers)


def _link(request: Request, site: entities.Site, rel: str, query: dict) -> str:
    return f'<{site.base}{request.path}?{urlencode(query)}>; rel="{rel}"'


@csrf_exempt
def unknown_endpoint(request: HttpRequest) -> JsonResponse:
    """Any other path under /mastodon/api/: Mastodon's 404, as JSON (not our HTML page)."""
    return JsonResponse({"error": WORDS[404]}, status=404)
