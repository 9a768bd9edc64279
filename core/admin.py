from django.contrib import admin

from core.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Work waiting to follow a commit (core/outbox.py). Rows older than a few seconds mean the
    workers are stopped or a handler keeps failing (`last_error` says why); they clear themselves
    once it succeeds. Read-only: deleting one would lose the work it stands for."""

    list_display = ("id", "topic", "created_at", "due_at", "attempts", "last_error")
    list_filter = ("topic",)
    ordering = ("id",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
