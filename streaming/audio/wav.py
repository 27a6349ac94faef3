"""Reading and writing RIFF WAVE headers for 16-bit PCM and G.711 mu-law audio.

The standard library's `wave` module reads and writes PCM only, so mu-law files need
this module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from streaming.audio.format import LINEAR16, MULAW, AudioFormat, AudioFormatError

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE

# RIFF sizes are unsigned 32-bit fields.
MAX_RIFF_SIZE = 0xFFFFFFFF

_FORMAT_TAGS = {LINEAR16: WAVE_FORMAT_PCM, MULAW: WAVE_FORMAT_MULAW}
_BITS_PER_SAMPLE = {LINEAR16: 16, MULAW: 8}
_CHUNK_HEADER = struct.Struct("<4sI")
_FMT_FIELDS = struct.Struct("<HHIIHH")
_SIZE_FIELD = struct.Struct("<I")
# WAVE_FORMAT_EXTENSIBLE, the longest fmt chunk in use, has 40 bytes.
_MAX_FMT_CHUNK_SIZE = 64


class WavFormatError(ValueError):
    """A file that is not a WAV file this module can read."""


@dataclass(frozen=True)
class WavLayout:
    """Positions and declared sizes found in a WAV header.

    `data_offset` is the byte offset of the first audio byte. `fact_offset` is the offset
    of the sample count field of the `fact` chunk, or None when the file has no fact chunk.
    """

    audio_format: AudioFormat
    data_offset: int
    declared_riff_size: int
    declared_data_size: int
    fact_offset: int | None

    def size_fields(self, data_size: int) -> list[tuple[int, bytes]]:
        """Return (offset, bytes) pairs that set the header sizes for `data_size` bytes of audio."""
        fields = [
            (4, _SIZE_FIELD.pack(self.data_offset - 8 + data_size)),
            (self.data_offset - 4, _SIZE_FIELD.pack(data_size)),
        ]
        if self.fact_offset is not None:
            sample_count = data_size // self.audio_format.frame_size
            fields.append((self.fact_offset, _SIZE_FIELD.pack(sample_count)))
        return fields

    def sizes_match(self, data_size: int) -> bool:
        """Return whether the declared RIFF and data sizes equal those for `data_size` bytes."""
        return (
            self.declared_data_size == data_size
            and self.declared_riff_size == self.data_offset - 8 + data_size
        )


def build_header(fmt: AudioFormat, data_size: int = 0) -> bytes:
    """Return a WAV header for `data_size` bytes of audio in `fmt`.

    PCM gets the canonical 44-byte header. Mu-law gets an 18-byte `fmt ` chunk with
    cbSize 0 and a `fact` chunk with the sample count, because the WAVE format
    specification requires both for formats other than PCM.
    """
    fmt_fields = _FMT_FIELDS.pack(
        _FORMAT_TAGS[fmt.encoding],
        fmt.channels,
        fmt.sample_rate,
        fmt.bytes_per_second,
        fmt.frame_size,
        _BITS_PER_SAMPLE[fmt.encoding],
    )
    if fmt.encoding == MULAW:
        fmt_chunk = _chunk(b"fmt ", fmt_fields + struct.pack("<H", 0))
        fmt_chunk += _chunk(b"fact", _SIZE_FIELD.pack(data_size // fmt.frame_size))
    else:
        fmt_chunk = _chunk(b"fmt ", fmt_fields)
    body = b"WAVE" + fmt_chunk + _CHUNK_HEADER.pack(b"data", data_size)
    return _CHUNK_HEADER.pack(b"RIFF", len(body) + data_size) + body


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return _CHUNK_HEADER.pack(chunk_id, len(payload)) + payload


def parse_header(file: BinaryIO) -> WavLayout:
    """Read the chunks before the audio data of a WAV file and return their layout.

    The file position is left at the first audio byte. The declared data size is
    returned as stored, so a caller can compare it with the file length.
    Raises WavFormatError for a file that is not RIFF WAVE or whose encoding is not
    16-bit PCM or 8-bit mu-law in a format AudioFormat accepts.
    """
    riff_id, riff_size = _read_chunk_header(file)
    if riff_id != b"RIFF" or file.read(4) != b"WAVE":
        raise WavFormatError("not a WAV file: the RIFF WAVE signature is missing")
    audio_format: AudioFormat | None = None
    fact_offset: int | None = None
    while True:
        chunk_id, chunk_size = _read_chunk_header(file)
        payload_offset = file.tell()
        if chunk_id == b"data":
            if audio_format is None:
                raise WavFormatError("invalid WAV file: the data chunk comes before a fmt chunk")
            return WavLayout(audio_format, payload_offset, riff_size, chunk_size, fact_offset)
        if chunk_id == b"fmt ":
            audio_format = _parse_fmt_chunk(file.read(min(chunk_size, _MAX_FMT_CHUNK_SIZE)))
        elif chunk_id == b"fact":
            fact_offset = payload_offset
        # Chunks are padded to an even length.
        file.seek(payload_offset + chunk_size + chunk_size % 2)


def _read_chunk_header(file: BinaryIO) -> tuple[bytes, int]:
    header = file.read(_CHUNK_HEADER.size)
    if len(header) < _CHUNK_HEADER.size:
        raise WavFormatError("invalid WAV file: the file ends before the data chunk")
    return _CHUNK_HEADER.unpack(header)


def _parse_fmt_chunk(payload: bytes) -> AudioFormat:
    if len(payload) < _FMT_FIELDS.size:
        raise WavFormatError(
            f"invalid WAV file: the fmt chunk has {len(payload)} bytes, expected at least 16"
        )
    format_tag, channels, sample_rate, _, _, bits = _FMT_FIELDS.unpack_from(payload)
    # WAVE_FORMAT_EXTENSIBLE stores the real format tag in the first two bytes of its
    # SubFormat GUID, which starts at byte 24 of the fmt chunk.
    if format_tag == WAVE_FORMAT_EXTENSIBLE and len(payload) >= 26:
        (format_tag,) = struct.unpack_from("<H", payload, 24)
    if format_tag == WAVE_FORMAT_PCM and bits == 16:
        encoding = LINEAR16
    elif format_tag == WAVE_FORMAT_MULAW and bits == 8:
        encoding = MULAW
    else:
        raise WavFormatError(
            f"unsupported WAV encoding: format tag {format_tag:#06x} with {bits} bits per sample."
            " Supported are 16-bit PCM (0x0001) and 8-bit mu-law (0x0007)"
        )
    try:
        return AudioFormat(encoding, sample_rate, channels)
    except AudioFormatError as error:
        raise WavFormatError(f"unsupported WAV audio format: {error}") from error


def read_wav(path: str | Path) -> tuple[AudioFormat, bytes]:
    """Return the format and the audio data of the WAV file at `path`.

    A data size of 0 or one that runs past the end of the file, as streaming writers and
    interrupted recordings leave it, is replaced by the bytes up to the end of the file.
    A trailing partial sample frame is dropped.
    """
    with open(path, "rb") as file:
        layout = parse_header(file)
        available = file.seek(0, 2) - layout.data_offset
        data_size = layout.declared_data_size
        if data_size == 0 or data_size > available:
            data_size = available
        data_size -= data_size % layout.audio_format.frame_size
        file.seek(layout.data_offset)
        return layout.audio_format, file.read(data_size)
