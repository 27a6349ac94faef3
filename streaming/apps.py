from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
    verbose_name = "Audio streams"

    def ready(self) -> None:
        from streaming import signals  # noqa: F401  (connects the recording clean-up)
