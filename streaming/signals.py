"""Delete a stream's recording with its database row, including when its user is deleted."""

import logging

from django.db.models.signals import post_delete
from django.dispatch import receiver

from streaming.models import StreamSession
from streaming.recording import get_recording_storage
from streaming.recording.base import RecordingError

logger = logging.getLogger(__name__)


@receiver(post_delete, sender=StreamSession)
def delete_recording(sender, instance: StreamSession, **kwargs) -> None:
    stream_id = str(instance.id)
    storage = get_recording_storage()
    try:
        if storage.exists(stream_id):
            storage.delete(stream_id)
    except (RecordingError, OSError) as exc:
        logger.error("Recording of deleted stream %s not removed: %s", stream_id, type(exc).__name__)
