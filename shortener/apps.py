from django.apps import AppConfig


class ShortenerConfig(AppConfig):
    name = "shortener"

    def ready(self) -> None:
        from core.health import register_backlog
        from shortener import health

        register_backlog("clicks_flush", health.clicks_flush)
        register_backlog("cache_invalidations", health.cache_invalidations)
