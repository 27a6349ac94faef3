import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Service configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the system checks)

        if settings.WEBSOCKET_ORIGINS_SOURCE == "SOCKETIO_ORIGINS":
            logger.warning(
                "SOCKETIO_ORIGINS is deprecated: rename it to WEBSOCKET_ALLOWED_ORIGINS; "
                "the old name is read only while the new one is unset"
            )
