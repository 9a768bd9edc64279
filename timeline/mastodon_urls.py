"""Included at /mastodon/ by config/urls.py: Mastodon's client API subset (timeline/mastodon/,
docs/api.md "Mastodon clients"). Each route also answers with a trailing slash, as Mastodon's
do (Mastodon.py asks for `/api/v1/instance/`)."""

from django.urls import re_path

from timeline.mastodon import views

ID = r"(?P<{}>[^/]+)"


def route(pattern: str, view, name: str):  # type: ignore[no-untyped-def]
    return re_path(rf"^api/{pattern}/?$", view, name=f"mastodon-{name}")


urlpatterns = [
    route("v1/instance", views.InstanceApi.as_view(), "instance"),
    route("v2/instance", views.InstanceV2Api.as_view(), "instance-v2"),
    route("v1/accounts/verify_credentials", views.VerifyCredentialsApi.as_view(), "verify"),
    route("v1/accounts/lookup", views.AccountLookupApi.as_view(), "account-lookup"),
    route(f"v1/accounts/{ID.format('account_id')}", views.AccountDetailApi.as_view(), "account"),
    route(f"v1/accounts/{ID.format('account_id')}/follow", views.AccountFollowApi.as_view(),
          "account-follow"),
    route(f"v1/accounts/{ID.format('account_id')}/unfollow", views.AccountUnfollowApi.as_view(),
          "account-unfollow"),
    route("v1/statuses", views.StatusCreateApi.as_view(), "statuses"),
    route(f"v1/statuses/{ID.format('status_id')}", views.StatusDetailApi.as_view(), "status"),
    route("v1/timelines/home", views.HomeTimelineApi.as_view(), "timeline-home"),
    # Last: any other path under api/ is Mastodon's JSON 404, not our HTML page.
    re_path(r"^api/", views.unknown_endpoint, name="mastodon-unknown"),
]  # fmt: skip
