from django.contrib import admin
from django.db import transaction

from shortener import services
from shortener.models import ClickEvent, ClickFlush, Link, PendingInvalidation


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ("code", "owner", "long_url", "clicks", "bot_hits", "redirect_type",
                    "expires_at", "disabled", "created_at")  # fmt: skip
    list_filter = ("redirect_type", "disabled", "is_alias")
    search_fields = ("code", "owner__username")  # code: exact prefix is what support asks for
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    readonly_fields = ("id", "code", "is_alias", "clicks", "bot_hits", "password",
                       "created_at", "updated_at")  # fmt: skip
    ordering = ("-id",)
    show_full_result_count = False  # COUNT(*) over millions of links on every page: no

    def has_add_permission(self, request) -> bool:
        return False  # links are created through the rules (shortener.services), not here

    # Admin edits bypass shortener.services' rules, so they must drop the cached copy
    # themselves: through the services' outbox, in the admin's own transaction.
    def save_model(self, request, obj: Link, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            services.invalidate_after_commit(codes=[obj.code])

    def delete_model(self, request, obj: Link) -> None:
        code = obj.code
        with transaction.atomic():
            super().delete_model(request, obj)
            services.invalidate_after_commit(codes=[code])

    def delete_queryset(self, request, queryset) -> None:
        codes = list(queryset.values_list("code", flat=True))
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            services.invalidate_after_commit(codes=codes)


@admin.register(ClickEvent)
class ClickEventAdmin(admin.ModelAdmin):
    """Read-only: events are facts recorded by the redirect path."""

    list_display = ("link", "occurred_at", "device", "is_bot", "referrer_host")
    list_filter = ("device", "is_bot")
    search_fields = ("link__code",)
    raw_id_fields = ("link",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ClickFlush)
class ClickFlushAdmin(admin.ModelAdmin):
    list_display = ("batch", "applied_at", "links", "clicks")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PendingInvalidation)
class PendingInvalidationAdmin(admin.ModelAdmin):
    """Cache invalidations Redis has not done yet (shortener.services' outbox). Rows older than a
    few seconds mean Redis is unreachable; they clear themselves once it answers."""

    list_display = ("code", "created_at")
    search_fields = ("code",)
    ordering = ("id",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
