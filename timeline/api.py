"""REST API of the timeline: /api/v1/tweets…, /users/…, /timeline/home. Thin: parse, call one
service or selector, shape. Ids travel as strings; lists page by cursor (docs/api.md)."""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.errors import InvalidInputError, NotFoundError
from core.openapi import error_response
from core.pagination import IdCursorPagination, parse_id, parse_limit
from core.serializers import StrictSerializer
from timeline import home, selectors, services
from timeline.models import Follow, Tweet

HOME_DEFAULT_LIMIT, HOME_MAX_LIMIT = 20, 100
BOUND_NAMES = ("max_id", "since_id", "min_id")

_NO_TWEET = error_response("No such tweet (or deleted).", "not_found", "No tweet with this id.")
_BAD_ID = error_response(
    "The id in the path is not a whole number in range.",
    "invalid",
    "tweet_id: An id is a whole number from 0 to 9223372036854775807.",
    {"tweet_id": ["An id is a whole number from 0 to 9223372036854775807."]},
)
_NO_USER = error_response("No such user.", "not_found", "No user called 'x'.")
_INVALID = error_response(
    "A field is invalid; `fields` names it.",
    "invalid",
    "text: Write something: a tweet cannot be empty or only whitespace.",
    {"text": ["Write something: a tweet cannot be empty or only whitespace."]},
)


class AuthorSerializer(serializers.Serializer):
    id = serializers.CharField()
    username = serializers.CharField()


class MediaSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "TweetMedia"


class TweetOutputSerializer(serializers.Serializer):
    """What selectors.tweet_dict gives (and the tweet cache holds)."""

    id = serializers.CharField(help_text="64-bit Snowflake id, as a string; time-ordered.")
    author = AuthorSerializer()
    text = serializers.CharField()
    created_at = serializers.CharField()
    reply_to_id = serializers.CharField(allow_null=True)
    media = MediaSerializer(many=True)

    class Meta:
        ref_name = "Tweet"


class TweetPage(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = TweetOutputSerializer(many=True)

    class Meta:
        ref_name = "TweetPage"


class TweetCursorPagination(IdCursorPagination):
    page_size, max_page_size = 20, 100


class RepliesCursorPagination(TweetCursorPagination):
    ordering = "id"  # a conversation reads oldest first


def tweet_id_from(raw: str) -> int:
    found = parse_id(raw, name="tweet_id")
    if found is None:
        raise InvalidInputError.for_field("tweet_id", "An id is a whole number.")
    return found


def user_from(username: str) -> User:
    user = selectors.user_by_username(username)
    if user is None:
        raise NotFoundError(f"No user called {username!r}.")
    return user


def _tweets(tweets: list[Tweet]) -> list[dict]:
    return [selectors.tweet_dict(t) for t in tweets]


class TweetCollectionApi(APIView):
    permission_classes = (IsAuthenticated,)
    throttle_scope = "tweet_create"

    class InputSerializer(StrictSerializer):
        text = serializers.CharField(
            trim_whitespace=False, allow_blank=True, max_length=10_000,
            help_text="1 to 280 characters as Twitter counts them (links 23, CJK and emoji 2).",
        )  # fmt: skip
        reply_to_id = serializers.CharField(required=False, allow_null=True, max_length=20)
        media_ids = serializers.ListField(
            child=serializers.CharField(max_length=20), required=False, max_length=4
        )

        class Meta:
            ref_name = "TweetInput"

    @extend_schema(
        operation_id="tweets_create", request=InputSerializer,
        responses={201: TweetOutputSerializer, 400: _INVALID},
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply_to = data.validated_data.get("reply_to_id")
        media_ids = [
            parse_id(raw, name="media_ids") for raw in data.validated_data.get("media_ids", [])
        ]
        tweet = services.post_tweet(
            author=request.user,
            text=data.validated_data["text"],
            reply_to_id=parse_id(reply_to, name="reply_to_id"),
            media_ids=[m for m in media_ids if m is not None],
        )
        return Response(selectors.tweet_dict(tweet), status=status.HTTP_201_CREATED)


class TweetDetailApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(
        operation_id="tweets_retrieve",
        responses={200: TweetOutputSerializer, 400: _BAD_ID, 404: _NO_TWEET},
    )
    def get(self, request: Request, tweet_id: str) -> Response:
        tweet = selectors.tweet_by_id(tweet_id_from(tweet_id))
        if tweet is None:
            raise NotFoundError("No tweet with this id.")
        return Response(selectors.tweet_dict(tweet))

    @extend_schema(
        operation_id="tweets_destroy", responses={204: None, 400: _BAD_ID, 404: _NO_TWEET}
    )
    def delete(self, request: Request, tweet_id: str) -> Response:
        services.delete_tweet(user=request.user, tweet_id=tweet_id_from(tweet_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TweetRepliesApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(operation_id="tweets_replies",
                   parameters=RepliesCursorPagination.openapi_parameters(),
                   responses={200: TweetPage, 400: _BAD_ID, 404: _NO_TWEET})  # fmt: skip
    def get(self, request: Request, tweet_id: str) -> Response:
        parent = tweet_id_from(tweet_id)
        if selectors.tweet_by_id(parent) is None:
            raise NotFoundError("No tweet with this id.")
        paginator = RepliesCursorPagination()
        page = paginator.paginate_queryset(selectors.replies_to(parent), request, view=self)
        return paginator.get_paginated_response(_tweets(list(page or [])))


class ProfileSerializer(serializers.Serializer):
    id = serializers.CharField()
    username = serializers.CharField()
    joined_at = serializers.CharField()
    followers_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    tweets_count = serializers.IntegerField()
    celebrity = serializers.BooleanField(help_text="Its tweets are merged at read time (pull).")
    following = serializers.BooleanField(help_text="Whether the caller follows this user.")

    class Meta:
        ref_name = "Profile"


class UserDetailApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(operation_id="users_retrieve",
                   responses={200: ProfileSerializer, 404: _NO_USER})  # fmt: skip
    def get(self, request: Request, username: str) -> Response:
        user = user_from(username)
        return Response(selectors.profile_summary(user=user, viewer=request.user))


class UserTweetsApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(operation_id="users_tweets",
                   parameters=TweetCursorPagination.openapi_parameters(),
                   responses={200: TweetPage, 404: _NO_USER})  # fmt: skip
    def get(self, request: Request, username: str) -> Response:
        paginator = TweetCursorPagination()
        query = selectors.tweets_by(user_from(username))
        page = paginator.paginate_queryset(query, request, view=self)
        return paginator.get_paginated_response(_tweets(list(page or [])))


class FollowCursorPagination(IdCursorPagination):
    page_size, max_page_size = 50, 200


class UserPage(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = AuthorSerializer(many=True)

    class Meta:
        ref_name = "UserPage"


def _users(edges: list[Follow], side: str) -> list[dict]:
    return [
        {"id": str(getattr(e, f"{side}_id")), "username": getattr(e, side).username} for e in edges
    ]


class UserFollowersApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(operation_id="users_followers",
                   parameters=FollowCursorPagination.openapi_parameters(),
                   responses={200: UserPage, 404: _NO_USER})  # fmt: skip
    def get(self, request: Request, username: str) -> Response:
        paginator = FollowCursorPagination()
        query = selectors.followers_of(user_from(username))
        page = paginator.paginate_queryset(query, request, view=self)
        return paginator.get_paginated_response(_users(list(page or []), "follower"))


class UserFollowingApi(APIView):
    permission_classes = (IsAuthenticatedOrReadOnly,)

    @extend_schema(operation_id="users_following",
                   parameters=FollowCursorPagination.openapi_parameters(),
                   responses={200: UserPage, 404: _NO_USER})  # fmt: skip
    def get(self, request: Request, username: str) -> Response:
        paginator = FollowCursorPagination()
        query = selectors.followed_by(user_from(username))
        page = paginator.paginate_queryset(query, request, view=self)
        return paginator.get_paginated_response(_users(list(page or []), "followee"))


class UserFollowApi(APIView):
    """POST follows, DELETE unfollows; both idempotent, both answer the profile."""

    permission_classes = (IsAuthenticated,)
    throttle_scope = "follow"

    @extend_schema(operation_id="users_follow", request=None,
                   responses={200: ProfileSerializer, 400: error_response(
                       "You cannot follow yourself.", "cannot_follow_yourself",
                       "You cannot follow yourself."), 404: _NO_USER})  # fmt: skip
    def post(self, request: Request, username: str) -> Response:
        result = services.follow(follower=request.user, username=username)
        return Response(selectors.profile_summary(user=result.followee, viewer=request.user))

    @extend_schema(operation_id="users_unfollow",
                   responses={200: ProfileSerializer, 404: _NO_USER})  # fmt: skip
    def delete(self, request: Request, username: str) -> Response:
        result = services.unfollow(follower=request.user, username=username)
        return Response(selectors.profile_summary(user=result.followee, viewer=request.user))


class HomeTimelineApi(APIView):
    """The reader's home timeline, newest first; Mastodon's bounds, all exclusive."""

    permission_classes = (IsAuthenticated,)

    class OutputSerializer(serializers.Serializer):
        results = TweetOutputSerializer(many=True)
        next = serializers.CharField(allow_null=True, help_text="Older: ?max_id=<last id>.")
        previous = serializers.CharField(allow_null=True, help_text="Newer: ?min_id=<first id>.")

        class Meta:
            ref_name = "HomeTimeline"

    @extend_schema(
        operation_id="timeline_home",
        parameters=[
            OpenApiParameter("max_id", str, description="Only tweets older than this id."),
            OpenApiParameter("since_id", str, description="Only tweets newer than this id (the"
                             " newest `limit` of them)."),
            OpenApiParameter("min_id", str, description="The `limit` tweets just newer than this"
                             " id (the oldest of them), newest first."),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                             description=f"Default {HOME_DEFAULT_LIMIT}, at most"
                             f" {HOME_MAX_LIMIT}."),
        ],
        responses={200: OutputSerializer, 400: _INVALID},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        params = request.query_params
        bounds = {name: parse_id(params.get(name), name=name) for name in BOUND_NAMES}
        limit = parse_limit(request, default=HOME_DEFAULT_LIMIT, maximum=HOME_MAX_LIMIT)
        page = home.home_timeline(reader=request.user, limit=limit, **bounds)
        return Response(
            {
                "results": page.items,
                # A short page is the end: the read is exact, it is never short otherwise.
                "next": _home_link(request, max_id=page.items[-1]["id"], limit=limit)
                if len(page.items) == limit
                else None,
                "previous": _home_link(request, min_id=page.items[0]["id"], limit=limit)
                if page.items
                else None,
            },
            headers={"X-Timeline-Source": page.source},
        )


def _home_link(request: Request, **params: object) -> str:
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
