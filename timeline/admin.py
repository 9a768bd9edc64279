"""The timeline in the admin: support can find and delete tweets (through the service, so feeds
and the cache follow), and see follows, profiles and media. Counts and modes are the services'
to change: read-only here."""

from django.contrib import admin

from timeline import services
from timeline.models import Follow, Media, Profile, Tweet


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tweet)
class TweetAdmin(ReadOnly):
    list_display = ("id", "author", "text", "reply_to_id", "created_at")
    search_fields = ("author__username",)
    list_select_related = ("author",)
    raw_id_fields = ("author",)
    ordering = ("-id",)
    show_full_result_count = False

    # A delete from here is a delete by the author: the row, the count, the feeds and the cache.
    def delete_model(self, request, obj: Tweet) -> None:
        services.delete_tweet(user=obj.author, tweet_id=obj.id)

    def delete_queryset(self, request, queryset) -> None:
        for tweet in queryset.select_related("author"):
            services.delete_tweet(user=tweet.author, tweet_id=tweet.id)


@admin.register(Follow)
class FollowAdmin(ReadOnly):
    list_display = ("follower", "followee", "created_at")
    search_fields = ("follower__username", "followee__username")
    list_select_related = ("follower", "followee")
    ordering = ("-id",)
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an unfollow has counts and a cleanup: services.unfollow, not a DELETE


@admin.register(Profile)
class ProfileAdmin(ReadOnly):
    list_display = ("user", "followers_count", "following_count", "tweets_count", "mode",
                    "last_active_at")  # fmt: skip
    list_filter = ("mode",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    ordering = ("-followers_count",)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Media)
class MediaAdmin(ReadOnly):
    list_display = ("id", "owner", "kind", "status", "size", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("owner__username", "sha256")
    list_select_related = ("owner",)
    ordering = ("-id",)
