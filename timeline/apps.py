from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "timeline"

    def ready(self) -> None:
        from core import outbox
        from core.health import register_backlog
        from timeline import fanout, health, services
        from timeline import media as media_processing

        for topic, handler in (
            (services.FAN_OUT, fanout.fan_out_step),
            (services.DELETE, fanout.delete_step),
            (services.FOLLOW, fanout.follow_step),
            (services.UNFOLLOW, fanout.unfollow_step),
            (services.DRAIN, fanout.drain_step),
        ):
            outbox.register(topic, handler=handler, queue="fanout")
        register_backlog("timeline_fanout", health.fan_out_backlog)
        # Thumbnails and transcodes: a queue of their own, so a long transcode never delays a
        # fan-out (docs/timeline.md, "Media").
        outbox.register(
            media_processing.PROCESS, handler=media_processing.process_media_step, queue="media"
        )
        register_backlog("timeline_media", media_processing.media_backlog)
