"""Recordings stored as WAV files in a local directory."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import secrets
from pathlib import Path
from typing import Any, BinaryIO

from streaming.audio.format import AudioFormat
from streaming.audio.wav import MAX_RIFF_SIZE, WavFormatError, WavLayout, build_header, parse_header
from streaming.recording.base import (
    RecordingBusyError,
    RecordingError,
    RecordingExistsError,
    RecordingFormatError,
    RecordingNotFoundError,
    RecordingStorage,
    RecordingWriter,
    validate_stream_id,
)

logger = logging.getLogger(__name__)

RECORDINGS_DIRECTORY = "recordings"


class FileSystemRecordingStorage(RecordingStorage):
    """Recordings as `<root>/recordings/<stream_id>.wav`.

    Each append writes the audio, then rewrites the RIFF, data and (for mu-law) fact size
    fields, then calls fsync. After a crash the file therefore contains every completed
    append, and at worst a header one append behind plus a partial append, which
    `repair` removes down to whole sample frames.

    A writer holds an exclusive flock on its file until it is closed. `open_append`,
    `repair` and `delete` raise RecordingBusyError while another writer has it. The
    lock excludes other writers on this host only, not on other hosts that share a
    network file system.

    NOTE: an odd-length data chunk (mu-law mono with an odd sample count) gets no RIFF
    pad byte, because a pad byte could not be distinguished from audio when appending.
    Readers that stop at the end of the data chunk accept this. Strict RIFF readers may not.
    """

    def __init__(self, root: Path | str):
        self.directory = Path(root) / RECORDINGS_DIRECTORY

    @classmethod
    def from_settings(cls, settings: Any) -> FileSystemRecordingStorage:
        media_root = getattr(settings, "MEDIA_ROOT", "")
        if not media_root:
            raise RecordingError("MEDIA_ROOT is not set: set it to the directory for recordings")
        return cls(Path(media_root))

    def path(self, stream_id: str) -> Path:
        """Return the file path of the recording for `stream_id`."""
        return self.directory / f"{validate_stream_id(stream_id)}.wav"

    def create(self, stream_id: str, fmt: AudioFormat) -> FileRecordingWriter:
        path = self.path(stream_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        # The header goes into a temporary file that is linked into place, so a crash
        # can never leave a recording without a complete header.
        temporary_path = self.directory / f".{stream_id}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _lock(fd, path)
            header = build_header(fmt, 0)
            _write_all(fd, header, 0)
            os.fsync(fd)
            try:
                os.link(temporary_path, path)
            except FileExistsError:
                raise RecordingExistsError(f"a recording already exists at {path}") from None
        except BaseException:
            os.close(fd)
            raise
        finally:
            temporary_path.unlink(missing_ok=True)
        _fsync_directory(self.directory)
        layout = parse_header(io.BytesIO(header))
        logger.info("Created recording %s (%s)", path, fmt.describe())
        return FileRecordingWriter(fd, path, layout, 0)

    def open_append(self, stream_id: str, fmt: AudioFormat) -> FileRecordingWriter:
        path = self.path(stream_id)
        fd = _open_existing(path, os.O_RDWR)
        try:
            _lock(fd, path)
            layout, data_size = _repair_open_file(fd, path)
            if layout.audio_format != fmt:
                raise RecordingFormatError(
                    f"recording {path} was stored as {layout.audio_format.describe()}, but the"
                    f" stream declares {fmt.describe()}: start a new recording or use the"
                    " stored format"
                )
        except BaseException:
            os.close(fd)
            raise
        logger.info("Reopened recording %s with %d audio bytes", path, data_size)
        return FileRecordingWriter(fd, path, layout, data_size)

    def exists(self, stream_id: str) -> bool:
        return self.path(stream_id).exists()

    def size(self, stream_id: str) -> int:
        path = self.path(stream_id)
        fd = _open_existing(path, os.O_RDONLY)
        try:
            layout = _read_layout(fd, path)
            return _whole_data_size(layout, os.fstat(fd).st_size)
        finally:
            os.close(fd)

    def open_read(self, stream_id: str) -> BinaryIO:
        path = self.path(stream_id)
        fd = _open_existing(path, os.O_RDONLY)
        try:
            layout = _read_layout(fd, path)
            file_size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        data_size = _whole_data_size(layout, file_size)
        if file_size != layout.data_offset + data_size or not layout.sizes_match(data_size):
            self._repair_unless_busy(stream_id)
        return open(path, "rb")

    def _repair_unless_busy(self, stream_id: str) -> None:
        try:
            self.repair(stream_id)
        except RecordingBusyError:
            # A live writer updates the sizes after each append, so the header is at most
            # one append behind and describes a valid prefix of the recording.
            logger.debug("Recording %s is being written, reading it without repair", stream_id)

    def delete(self, stream_id: str) -> None:
        path = self.path(stream_id)
        fd = _open_existing(path, os.O_RDONLY)
        try:
            _lock(fd, path)
            path.unlink()
        finally:
            os.close(fd)
        _fsync_directory(self.directory)
        logger.info("Deleted recording %s", path)

    def repair(self, stream_id: str) -> int:
        path = self.path(stream_id)
        fd = _open_existing(path, os.O_RDWR)
        try:
            _lock(fd, path)
            _, data_size = _repair_open_file(fd, path)
            return data_size
        finally:
            os.close(fd)


class FileRecordingWriter(RecordingWriter):
    """Writer for one recording file, holding its file descriptor and lock until closed."""

    def __init__(self, fd: int, path: Path, layout: WavLayout, bytes_stored: int):
        self._fd: int | None = fd
        self.path = path
        self._layout = layout
        self._bytes_stored = bytes_stored

    @property
    def audio_format(self) -> AudioFormat:
        return self._layout.audio_format

    @property
    def bytes_stored(self) -> int:
        return self._bytes_stored

    def append(self, data: bytes) -> int:
        fd = self._require_open()
        frame_size = self._layout.audio_format.frame_size
        if len(data) % frame_size:
            raise ValueError(
                f"append() takes whole sample frames of {frame_size} bytes, got {len(data)} bytes"
            )
        if not data:
            return self._bytes_stored
        new_size = self._bytes_stored + len(data)
        if self._layout.data_offset - 8 + new_size > MAX_RIFF_SIZE:
            raise RecordingError(
                f"recording {self.path} would exceed the 4 GiB size limit of a WAV file:"
                " start a new recording"
            )
        try:
            _write_all(fd, data, self._layout.data_offset + self._bytes_stored)
            _write_size_fields(fd, self._layout, new_size)
            os.fsync(fd)
        except OSError:
            self._roll_back(fd)
            raise
        self._bytes_stored = new_size
        return new_size

    def _roll_back(self, fd: int) -> None:
        # Remove a partial write (for example after ENOSPC) so that repair() does not
        # count it as audio. A crash before this point leaves it to repair().
        try:
            os.ftruncate(fd, self._layout.data_offset + self._bytes_stored)
            _write_size_fields(fd, self._layout, self._bytes_stored)
        except OSError:
            logger.exception("Failed to roll back a failed append to recording %s", self.path)

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)
        logger.info("Closed recording %s with %d audio bytes", self.path, self._bytes_stored)

    def _require_open(self) -> int:
        if self._fd is None:
            raise RecordingError(f"recording writer for {self.path} is closed")
        return self._fd


def _open_existing(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        raise RecordingNotFoundError(f"no recording at {path}") from None


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RecordingBusyError(
            f"recording {path} is open for writing elsewhere: retry after it is closed"
        ) from None


def _read_layout(fd: int, path: Path) -> WavLayout:
    # A separate file object over a duplicate descriptor, so closing it leaves `fd` open.
    with os.fdopen(os.dup(fd), "rb") as file:
        file.seek(0)
        try:
            return parse_header(file)
        except WavFormatError as error:
            raise RecordingFormatError(f"recording {path} has a damaged header: {error}") from error


def _whole_data_size(layout: WavLayout, file_size: int) -> int:
    data_size = max(0, file_size - layout.data_offset)
    return data_size - data_size % layout.audio_format.frame_size


def _repair_open_file(fd: int, path: Path) -> tuple[WavLayout, int]:
    """Fix the header sizes of the open recording from its file size and return the data size."""
    layout = _read_layout(fd, path)
    file_size = os.fstat(fd).st_size
    data_size = _whole_data_size(layout, file_size)
    if layout.data_offset - 8 + data_size > MAX_RIFF_SIZE:
        raise RecordingFormatError(f"recording {path} is larger than a WAV file can describe")
    if file_size == layout.data_offset + data_size and layout.sizes_match(data_size):
        return layout, data_size
    os.ftruncate(fd, layout.data_offset + data_size)
    _write_size_fields(fd, layout, data_size)
    os.fsync(fd)
    logger.warning(
        "Repaired recording %s: %d bytes on disk, header declared %d audio bytes, kept %d",
        path,
        file_size,
        layout.declared_data_size,
        data_size,
    )
    return layout, data_size


def _write_size_fields(fd: int, layout: WavLayout, data_size: int) -> None:
    for offset, field in layout.size_fields(data_size):
        _write_all(fd, field, offset)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
