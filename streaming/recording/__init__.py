"""Durable WAV recordings of streams behind a replaceable storage class."""

from __future__ import annotations

from streaming.recording.base import RecordingStorage

DEFAULT_RECORDING_STORAGE = "streaming.recording.filesystem.FileSystemRecordingStorage"


def get_recording_storage() -> RecordingStorage:
    """Create the storage named by settings.RECORDING_STORAGE, a dotted class path.

    The default is FileSystemRecordingStorage under settings.MEDIA_ROOT. Settings are
    read at each call, so tests that override them take effect.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    dotted_path = getattr(settings, "RECORDING_STORAGE", DEFAULT_RECORDING_STORAGE)
    try:
        storage_class = import_string(dotted_path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"RECORDING_STORAGE {dotted_path!r} cannot be imported: {error}"
        ) from error
    if not (isinstance(storage_class, type) and issubclass(storage_class, RecordingStorage)):
        raise ImproperlyConfigured(
            f"RECORDING_STORAGE {dotted_path!r} is not a subclass of"
            " streaming.recording.base.RecordingStorage"
        )
    return storage_class.from_settings(settings)
