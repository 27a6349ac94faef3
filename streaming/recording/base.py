"""The storage interface for stream recordings, independent of where the bytes live."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, BinaryIO

from streaming.audio.format import AudioFormat

_STREAM_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class RecordingError(Exception):
    """A recording operation failed."""


class RecordingNotFoundError(RecordingError, FileNotFoundError):
    """No recording exists for the stream id."""


class RecordingExistsError(RecordingError, FileExistsError):
    """A recording already exists for the stream id."""


class RecordingBusyError(RecordingError):
    """Another writer has the recording open."""


class RecordingFormatError(RecordingError):
    """The stored recording is damaged or has a different audio format than requested."""


def validate_stream_id(stream_id: str) -> str:
    """Return `stream_id` if it is a UUID in canonical lowercase hyphenated form.

    Raises ValueError otherwise, which also keeps path separators out of storage keys.
    """
    if not isinstance(stream_id, str) or _STREAM_ID_PATTERN.fullmatch(stream_id) is None:
        raise ValueError(
            f"invalid stream id {stream_id!r}: expected a lowercase UUID such as"
            " '0b6f3c1e-2d4a-4c8e-9f10-5a7b8c9d0e1f'"
        )
    return stream_id


class RecordingWriter(ABC):
    """Writer that appends audio to one recording and makes each append durable.

    The methods block on disk or network I/O, so async callers run them in a thread.
    A writer is not safe for use from several threads at once.
    """

    @property
    @abstractmethod
    def audio_format(self) -> AudioFormat:
        """Format of the audio in the recording."""

    @property
    @abstractmethod
    def bytes_stored(self) -> int:
        """Audio data bytes durably stored so far, the header not included."""

    @abstractmethod
    def append(self, data: bytes) -> int:
        """Append whole sample frames, make them durable and return the new `bytes_stored`.

        Raises ValueError if `data` does not hold a whole number of sample frames.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the recording. Closing twice is allowed."""

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class RecordingStorage(ABC):
    """Storage of stream recordings as WAV files, keyed by stream id (a UUID string).

    Every method blocks, so async callers run them in a thread. Methods raise ValueError
    for an invalid stream id and RecordingNotFoundError for one with no recording, except
    `create` and `exists`.
    """

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Any) -> RecordingStorage:
        """Create the storage from a Django settings object."""

    @abstractmethod
    def create(self, stream_id: str, fmt: AudioFormat) -> RecordingWriter:
        """Start an empty recording and return its writer.

        Raises RecordingExistsError if the stream id already has a recording.
        """

    @abstractmethod
    def open_append(self, stream_id: str, fmt: AudioFormat) -> RecordingWriter:
        """Repair an existing recording and return a writer that appends to it.

        Use this to continue a recording after a reconnect or a crash. Raises
        RecordingFormatError if the recording was stored in another format than `fmt`.
        """

    @abstractmethod
    def exists(self, stream_id: str) -> bool:
        """Return whether the stream id has a recording."""

    @abstractmethod
    def size(self, stream_id: str) -> int:
        """Return the audio data bytes stored, the header not included."""

    @abstractmethod
    def open_read(self, stream_id: str) -> BinaryIO:
        """Open the recording as a valid WAV file for reading. The caller closes it."""

    @abstractmethod
    def delete(self, stream_id: str) -> None:
        """Delete the recording."""

    @abstractmethod
    def repair(self, stream_id: str) -> int:
        """Make the header agree with the stored audio and return the audio data bytes.

        A trailing partial sample frame, as a crash in the middle of an append can leave,
        is removed.
        """
