"""Included at /api/v1/ by config/urls.py."""

from django.urls import path

from timeline import api, media_api

urlpatterns = [
    path("tweets", api.TweetCollectionApi.as_view(), name="tweets"),
    path("tweets/<str:tweet_id>", api.TweetDetailApi.as_view(), name="tweet-detail"),
    path("tweets/<str:tweet_id>/replies", api.TweetRepliesApi.as_view(), name="tweet-replies"),
    path("users/<str:username>", api.UserDetailApi.as_view(), name="user-detail"),
    path("users/<str:username>/tweets", api.UserTweetsApi.as_view(), name="user-tweets"),
    path("users/<str:username>/followers", api.UserFollowersApi.as_view(), name="user-followers"),
    path("users/<str:username>/following", api.UserFollowingApi.as_view(), name="user-following"),
    path("users/<str:username>/follow", api.UserFollowApi.as_view(), name="user-follow"),
    path("timeline/home", api.HomeTimelineApi.as_view(), name="timeline-home"),
    path("media", media_api.MediaCollectionApi.as_view(), name="media"),
    path("media/<str:media_id>", media_api.MediaDetailApi.as_view(), name="media-detail"),
]
