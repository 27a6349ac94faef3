"""Tests of WAV headers and of durable recordings on the file system, including crash recovery."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import types
import uuid
import wave
from pathlib import Path

import pytest

from streaming.audio.format import AudioFormat
from streaming.audio.wav import (
    WAVE_FORMAT_MULAW,
    WavFormatError,
    build_header,
    parse_header,
    read_wav,
)
from streaming.recording import get_recording_storage
from streaming.recording.base import (
    RecordingBusyError,
    RecordingError,
    RecordingExistsError,
    RecordingFormatError,
    RecordingNotFoundError,
)
from streaming.recording.filesystem import FileSystemRecordingStorage
from streaming.tests import REPOSITORY_ROOT, audio_file

LINEAR16_MONO = AudioFormat("linear16", 16000, 1)
LINEAR16_STEREO = AudioFormat("linear16", 48000, 2)
MULAW = AudioFormat("mulaw", 8000, 1)
FORMATS = [LINEAR16_MONO, LINEAR16_STEREO, MULAW]
SAMPLE_UUID = "0b6f3c1e-2d4a-4c8e-9f10-5a7b8c9d0e1f"


def format_id(fmt: AudioFormat) -> str:
    return f"{fmt.encoding}-{fmt.sample_rate}-{fmt.channels}"


def audio_bytes(length: int, seed: int = 1) -> bytes:
    return bytes((index * 7 + seed * 13 + index // 251) % 256 for index in range(length))


def header_fields(path: Path) -> tuple[int, int]:
    """Return the RIFF size and data size fields of a recording."""
    with open(path, "rb") as file:
        layout = parse_header(file)
    return layout.declared_riff_size, layout.declared_data_size


def patched_pcm_header(offset: int, field: bytes) -> bytes:
    """Return an empty 16 kHz PCM header with `field` written at `offset`."""
    header = build_header(LINEAR16_MONO, 0)
    return header[:offset] + field + header[offset + len(field) :]


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(data)


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemRecordingStorage:
    return FileSystemRecordingStorage(tmp_path)


@pytest.fixture
def stream_id() -> str:
    return str(uuid.uuid4())


# WAV headers


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_header_round_trip(fmt: AudioFormat) -> None:
    header = build_header(fmt, 1000 * fmt.frame_size)
    layout = parse_header(io.BytesIO(header))
    assert layout.audio_format == fmt
    assert layout.data_offset == len(header)
    assert layout.declared_data_size == 1000 * fmt.frame_size
    assert layout.declared_riff_size == len(header) - 8 + 1000 * fmt.frame_size


def test_header_pcm_is_canonical_44_bytes() -> None:
    header = build_header(LINEAR16_MONO, 0)
    assert len(header) == 44
    assert header[:4] == b"RIFF"
    assert header[8:16] == b"WAVEfmt "
    assert struct.unpack_from("<IHHIIHH", header, 16) == (16, 1, 1, 16000, 32000, 2, 16)
    assert header[36:40] == b"data"


def test_header_mulaw_has_cbsize_and_fact() -> None:
    header = build_header(MULAW, 123)
    assert len(header) == 58
    fmt_size, tag, channels, rate, byte_rate, block_align, bits, cb_size = struct.unpack_from(
        "<IHHIIHHH", header, 16
    )
    assert fmt_size == 18
    assert tag == WAVE_FORMAT_MULAW
    assert (channels, rate, byte_rate, block_align, bits) == (1, 8000, 8000, 1, 8)
    assert cb_size == 0
    assert header[38:42] == b"fact"
    assert struct.unpack_from("<II", header, 42) == (4, 123)
    assert header[50:54] == b"data"
    assert struct.unpack_from("<I", header, 54) == (123,)


def test_parse_skips_unknown_odd_chunk() -> None:
    plain = build_header(LINEAR16_MONO, 4)
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"
    data = plain[:36] + extra + plain[36:] + b"\x01\x02\x03\x04"
    layout = parse_header(io.BytesIO(data))
    assert layout.data_offset == 44 + len(extra)
    assert layout.declared_data_size == 4


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"RIFX\x00\x00\x00\x00WAVE",
        b"RIFF\x00\x00\x00\x00AVI ",
        build_header(LINEAR16_MONO, 0)[:30],
        build_header(LINEAR16_MONO, 0)[:12] + b"data" + struct.pack("<I", 0),
        patched_pcm_header(20, struct.pack("<H", 3)),
        patched_pcm_header(34, struct.pack("<H", 8)),
        patched_pcm_header(24, struct.pack("<I", 96000)),
    ],
    ids=["empty", "rifx", "avi", "truncated", "data-first", "float", "8-bit-pcm", "96-khz"],
)
def test_parse_rejects_invalid_file(data: bytes) -> None:
    with pytest.raises(WavFormatError):
        parse_header(io.BytesIO(data))


def test_read_wav_uses_file_length_for_zero_size(tmp_path: Path) -> None:
    path = tmp_path / "stream.wav"
    path.write_bytes(build_header(LINEAR16_MONO, 0) + b"\x01\x02\x03\x04\x05")
    fmt, data = read_wav(path)
    assert fmt == LINEAR16_MONO
    assert data == b"\x01\x02\x03\x04"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("testing-123-mulaw-8k.wav", MULAW),
        ("preamble-mulaw-8k.wav", MULAW),
        ("brooklyn-bridge-16k.wav", LINEAR16_MONO),
        ("commercial-call-8k.wav", AudioFormat("linear16", 8000, 1)),
    ],
)
def test_read_wav_recorded_files(name: str, fmt: AudioFormat) -> None:
    path = audio_file(name)
    read_format, data = read_wav(path)
    assert read_format == fmt
    with open(path, "rb") as file:
        layout = parse_header(file)
    assert len(data) == layout.declared_data_size
    if fmt.encoding == "linear16":
        with wave.open(str(path)) as reader:
            assert data == reader.readframes(reader.getnframes())


# Writing and reading back


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_append_pieces_and_read_back(storage, stream_id: str, fmt: AudioFormat) -> None:
    frame_counts = (1, 160, 0, 4001, 7)
    pieces = [audio_bytes(fmt.frame_size * count, seed) for seed, count in enumerate(frame_counts)]
    with storage.create(stream_id, fmt) as writer:
        assert writer.bytes_stored == 0
        total = 0
        for piece in pieces:
            total += len(piece)
            assert writer.append(piece) == total
            assert writer.bytes_stored == total
            assert header_fields(storage.path(stream_id))[1] == total
    expected = b"".join(pieces)
    assert storage.size(stream_id) == len(expected)
    assert read_wav(storage.path(stream_id)) == (fmt, expected)
    with storage.open_read(stream_id) as file:
        layout = parse_header(file)
        assert layout.audio_format == fmt
        assert file.read() == expected


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_open_append_continues(storage, stream_id: str, fmt: AudioFormat) -> None:
    first = audio_bytes(fmt.frame_size * 100, 1)
    second = audio_bytes(fmt.frame_size * 333, 2)
    with storage.create(stream_id, fmt) as writer:
        writer.append(first)
    with storage.open_append(stream_id, fmt) as writer:
        assert writer.bytes_stored == len(first)
        assert writer.append(second) == len(first) + len(second)
    assert read_wav(storage.path(stream_id)) == (fmt, first + second)


def test_pcm_recording_reads_with_stdlib_wave(storage, stream_id: str) -> None:
    data = audio_bytes(LINEAR16_STEREO.frame_size * 4800)
    with storage.create(stream_id, LINEAR16_STEREO) as writer:
        writer.append(data[:1000])
        writer.append(data[1000:])
    with storage.open_read(stream_id) as file, wave.open(file) as reader:
        assert reader.getnchannels() == 2
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == 48000
        assert reader.getnframes() == 4800
        assert reader.readframes(4800) == data


def test_mulaw_fact_chunk_counts_samples(storage, stream_id: str) -> None:
    with storage.create(stream_id, MULAW) as writer:
        writer.append(audio_bytes(801))
    header = storage.path(stream_id).read_bytes()[:58]
    assert struct.unpack_from("<I", header, 46) == (801,)
    assert struct.unpack_from("<I", header, 4) == (58 - 8 + 801,)


def test_empty_recording_is_valid_wav(storage, stream_id: str) -> None:
    storage.create(stream_id, LINEAR16_MONO).close()
    assert storage.size(stream_id) == 0
    with storage.open_read(stream_id) as file, wave.open(file) as reader:
        assert reader.getnframes() == 0


# Crash recovery


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_repair_zeroed_sizes(storage, stream_id: str, fmt: AudioFormat) -> None:
    data = audio_bytes(fmt.frame_size * 500)
    with storage.create(stream_id, fmt) as writer:
        writer.append(data)
    path = storage.path(stream_id)
    data_offset = len(build_header(fmt, 0))
    overwrite(path, 4, struct.pack("<I", 0))
    overwrite(path, data_offset - 4, struct.pack("<I", 0))
    assert header_fields(path) == (0, 0)

    assert storage.repair(stream_id) == len(data)
    assert header_fields(path) == (data_offset - 8 + len(data), len(data))
    assert read_wav(path) == (fmt, data)


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_repair_stale_sizes(storage, stream_id: str, fmt: AudioFormat) -> None:
    first = audio_bytes(fmt.frame_size * 200, 1)
    unrecorded = audio_bytes(fmt.frame_size * 50, 2)
    with storage.create(stream_id, fmt) as writer:
        writer.append(first)
    path = storage.path(stream_id)
    # Audio written without the size update that follows it, as a crash between the two leaves it.
    with open(path, "ab") as file:
        file.write(unrecorded)
    assert header_fields(path)[1] == len(first)

    assert storage.repair(stream_id) == len(first) + len(unrecorded)
    assert read_wav(path) == (fmt, first + unrecorded)


@pytest.mark.parametrize(
    ("fmt", "partial"),
    [(LINEAR16_MONO, b"\x7f"), (LINEAR16_STEREO, b"\x01\x02\x03")],
    ids=["mono-1-byte", "stereo-3-bytes"],
)
def test_repair_truncates_partial_frame(
    storage, stream_id: str, fmt: AudioFormat, partial: bytes
) -> None:
    data = audio_bytes(fmt.frame_size * 300)
    with storage.create(stream_id, fmt) as writer:
        writer.append(data)
    path = storage.path(stream_id)
    with open(path, "ab") as file:
        file.write(partial)
    overwrite(path, 40, struct.pack("<I", 0))

    assert storage.size(stream_id) == len(data)
    assert storage.repair(stream_id) == len(data)
    assert path.stat().st_size == 44 + len(data)
    assert read_wav(path) == (fmt, data)


def test_repair_intact_recording_changes_nothing(storage, stream_id: str) -> None:
    with storage.create(stream_id, MULAW) as writer:
        writer.append(audio_bytes(999))
    before = storage.path(stream_id).read_bytes()
    assert storage.repair(stream_id) == 999
    assert storage.path(stream_id).read_bytes() == before


@pytest.mark.parametrize("fmt", FORMATS, ids=format_id)
def test_open_append_after_crash(storage, stream_id: str, fmt: AudioFormat) -> None:
    first = audio_bytes(fmt.frame_size * 120, 1)
    second = audio_bytes(fmt.frame_size * 80, 2)
    with storage.create(stream_id, fmt) as writer:
        writer.append(first)
    path = storage.path(stream_id)
    with open(path, "ab") as file:
        file.write(second)
        if fmt.frame_size > 1:
            file.write(b"\x55")
    overwrite(path, 4, struct.pack("<I", 0))

    with storage.open_append(stream_id, fmt) as writer:
        assert writer.bytes_stored == len(first) + len(second)
        writer.append(first)
    assert read_wav(path) == (fmt, first + second + first)


def test_open_read_repairs_stale_header(storage, stream_id: str) -> None:
    data = audio_bytes(2 * 1000)
    with storage.create(stream_id, LINEAR16_MONO) as writer:
        writer.append(data[:400])
    path = storage.path(stream_id)
    with open(path, "ab") as file:
        file.write(data[400:] + b"\x01")

    with storage.open_read(stream_id) as file, wave.open(file) as reader:
        assert reader.readframes(reader.getnframes()) == data
    assert header_fields(path) == (36 + len(data), len(data))


_CRASH_WRITER = """
import sys
from pathlib import Path
from streaming.audio.format import AudioFormat
from streaming.recording.filesystem import FileSystemRecordingStorage

storage = FileSystemRecordingStorage(Path(sys.argv[1]))
encoding, sample_rate, channels = sys.argv[3].split(":")
fmt = AudioFormat(encoding, int(sample_rate), int(channels))
writer = storage.create(sys.argv[2], fmt)
piece = bytes(range(256)) * 4 * fmt.frame_size
while True:
    print(writer.append(piece), flush=True)
"""


@pytest.mark.parametrize("fmt", [LINEAR16_STEREO, MULAW], ids=format_id)
def test_sigkill_keeps_acknowledged_audio(tmp_path: Path, stream_id: str, fmt: AudioFormat) -> None:
    spec = f"{fmt.encoding}:{fmt.sample_rate}:{fmt.channels}"
    process = subprocess.Popen(
        [sys.executable, "-c", _CRASH_WRITER, str(tmp_path), stream_id, spec],
        stdout=subprocess.PIPE,
        cwd=REPOSITORY_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)},
        text=True,
    )
    try:
        acknowledged = [int(process.stdout.readline()) for _ in range(25)]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    storage = FileSystemRecordingStorage(tmp_path)
    stored = storage.repair(stream_id)
    piece = bytes(range(256)) * 4 * fmt.frame_size
    read_format, data = read_wav(storage.path(stream_id))
    assert read_format == fmt
    assert stored == len(data)
    assert stored >= acknowledged[-1]
    assert stored % fmt.frame_size == 0
    assert data == (piece * (stored // len(piece) + 1))[:stored]


# Errors and locking


def test_append_rejects_partial_frame(storage, stream_id: str) -> None:
    with storage.create(stream_id, LINEAR16_STEREO) as writer:
        with pytest.raises(ValueError, match="whole sample frames of 4 bytes"):
            writer.append(b"\x00\x01\x02")
        assert writer.bytes_stored == 0
    assert storage.size(stream_id) == 0


def test_append_after_close_fails(storage, stream_id: str) -> None:
    writer = storage.create(stream_id, MULAW)
    writer.close()
    writer.close()
    with pytest.raises(RecordingError, match="closed"):
        writer.append(b"\x00")


def test_create_existing_fails(storage, stream_id: str) -> None:
    with storage.create(stream_id, MULAW) as writer:
        writer.append(b"\x01\x02")
    with pytest.raises(RecordingExistsError):
        storage.create(stream_id, MULAW)
    with pytest.raises(FileExistsError):
        storage.create(stream_id, LINEAR16_MONO)
    assert read_wav(storage.path(stream_id)) == (MULAW, b"\x01\x02")
    assert [path.name for path in storage.directory.iterdir()] == [f"{stream_id}.wav"]


@pytest.mark.parametrize("operation", ["open_append", "size", "open_read", "delete", "repair"])
def test_missing_recording_raises_not_found(storage, stream_id: str, operation: str) -> None:
    storage.directory.mkdir(parents=True)
    arguments = (stream_id, MULAW) if operation == "open_append" else (stream_id,)
    with pytest.raises(RecordingNotFoundError):
        getattr(storage, operation)(*arguments)
    assert storage.exists(stream_id) is False


def test_open_append_format_mismatch(storage, stream_id: str) -> None:
    storage.create(stream_id, MULAW).close()
    with pytest.raises(RecordingFormatError, match="stored as mulaw, 8000 Hz, 1 channel"):
        storage.open_append(stream_id, LINEAR16_MONO)
    with storage.open_append(stream_id, MULAW) as writer:
        assert writer.audio_format == MULAW


def test_damaged_header_raises_format_error(storage, stream_id: str) -> None:
    storage.create(stream_id, MULAW).close()
    overwrite(storage.path(stream_id), 0, b"JUNK")
    with pytest.raises(RecordingFormatError, match="damaged header"):
        storage.repair(stream_id)


def test_live_writer_blocks_other_writers(storage, stream_id: str) -> None:
    writer = storage.create(stream_id, LINEAR16_MONO)
    writer.append(b"\x01\x00" * 10)
    with pytest.raises(RecordingBusyError):
        storage.open_append(stream_id, LINEAR16_MONO)
    with pytest.raises(RecordingBusyError):
        storage.repair(stream_id)
    with pytest.raises(RecordingBusyError):
        storage.delete(stream_id)
    with storage.open_read(stream_id) as file:
        assert read_wav(storage.path(stream_id)) == (LINEAR16_MONO, b"\x01\x00" * 10)
        assert file.read(4) == b"RIFF"
    writer.close()
    with storage.open_append(stream_id, LINEAR16_MONO) as second_writer:
        assert second_writer.bytes_stored == 20


def test_delete_removes_recording(storage, stream_id: str) -> None:
    storage.create(stream_id, MULAW).close()
    assert storage.exists(stream_id) is True
    storage.delete(stream_id)
    assert storage.exists(stream_id) is False
    assert not storage.path(stream_id).exists()


@pytest.mark.parametrize(
    "bad_id",
    [
        "../../etc/passwd",
        "abc",
        "",
        SAMPLE_UUID.upper(),
        SAMPLE_UUID.replace("-", ""),
        "{" + SAMPLE_UUID + "}",
        "urn:uuid:" + SAMPLE_UUID,
        SAMPLE_UUID + "/x",
        SAMPLE_UUID + "\n",
        "../" + SAMPLE_UUID,
    ],
)
def test_invalid_stream_id_rejected(storage, bad_id: str) -> None:
    with pytest.raises(ValueError, match="invalid stream id"):
        storage.create(bad_id, MULAW)
    for operation in ("exists", "size", "open_read", "delete", "repair"):
        with pytest.raises(ValueError, match="invalid stream id"):
            getattr(storage, operation)(bad_id)
    with pytest.raises(ValueError, match="invalid stream id"):
        storage.open_append(bad_id, MULAW)
    assert not storage.directory.exists()


# Storage selection from settings


class _CustomStorage(FileSystemRecordingStorage):
    pass


def fake_settings(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    monkeypatch.setattr("django.conf.settings", types.SimpleNamespace(**values))


def test_storage_from_settings_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_settings(monkeypatch, MEDIA_ROOT=str(tmp_path))
    storage = get_recording_storage()
    assert type(storage) is FileSystemRecordingStorage
    assert storage.directory == tmp_path / "recordings"


def test_storage_from_settings_dotted_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_settings(
        monkeypatch,
        MEDIA_ROOT=str(tmp_path),
        RECORDING_STORAGE=f"{__name__}._CustomStorage",
    )
    assert type(get_recording_storage()) is _CustomStorage


@pytest.mark.parametrize(
    "dotted_path",
    ["streaming.recording.missing.Storage", "streaming.recording.base.RecordingError"],
)
def test_storage_from_settings_invalid_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dotted_path: str
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    fake_settings(monkeypatch, MEDIA_ROOT=str(tmp_path), RECORDING_STORAGE=dotted_path)
    with pytest.raises(ImproperlyConfigured, match="RECORDING_STORAGE"):
        get_recording_storage()


def test_storage_from_settings_needs_media_root(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_settings(monkeypatch, MEDIA_ROOT="")
    with pytest.raises(RecordingError, match="MEDIA_ROOT"):
        get_recording_storage()
