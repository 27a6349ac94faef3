"""System checks for settings that are legal but unsafe in some deployments."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register(Tags.compatibility, deploy=True)
def check_channel_layer(app_configs, **kwargs):
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND")
    if backend != IN_MEMORY_LAYER:
        return []
    return [
        Warning(
            "The in-memory channel layer only works within a single process.",
            hint="Set REDIS_URL so that several daphne processes share one channel layer.",
            id="config.W001",
        )
    ]
