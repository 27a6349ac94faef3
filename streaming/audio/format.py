"""The audio format a client declares for its stream, and whole-frame alignment of the bytes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

LINEAR16 = "linear16"
MULAW = "mulaw"
ENCODINGS = (LINEAR16, MULAW)

DEFAULT_ENCODING = LINEAR16
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_CHANNELS = 1

LINEAR16_MIN_RATE = 8000
LINEAR16_MAX_RATE = 48000
LINEAR16_CHANNELS = (1, 2)
# G.711 mu-law is telephone audio: 8 kHz, one channel.
MULAW_RATE = 8000
MULAW_CHANNELS = (1,)

_SAMPLE_WIDTHS = {LINEAR16: 2, MULAW: 1}
# Six digits cover every allowed rate. The limit also keeps int() away from huge strings.
_INTEGER_PATTERN = re.compile(r"[0-9]{1,6}")
_MAX_DISPLAYED_VALUE_LENGTH = 40


class AudioFormatError(ValueError):
    """An audio format parameter with a value that is not supported.

    `parameter` is the parameter name, `value` the rejected value as text and `allowed` a
    description of the allowed values. `encoding` names the encoding whose rules rejected
    the value, or is None when the rule is the same for every encoding.
    """

    def __init__(self, parameter: str, value: object, allowed: str, encoding: str | None = None):
        self.parameter = parameter
        self.value = str(value)
        self.allowed = allowed
        self.encoding = encoding
        super().__init__(self._message())

    def _message(self) -> str:
        displayed_value = self.value
        if len(displayed_value) > _MAX_DISPLAYED_VALUE_LENGTH:
            displayed_value = displayed_value[:_MAX_DISPLAYED_VALUE_LENGTH] + "..."
        context = f" for {self.encoding}" if self.encoding else ""
        return f"{self.parameter} '{displayed_value}' is not supported{context}: use {self.allowed}"


@dataclass(frozen=True)
class AudioFormat:
    """Encoding, sample rate in Hz and channel count of interleaved audio.

    Construction validates the values against the rules of the encoding and raises
    AudioFormatError for a combination that is not supported.
    """

    encoding: str
    sample_rate: int
    channels: int

    def __post_init__(self) -> None:
        _validate_encoding(self.encoding)
        _validate_sample_rate(self.encoding, self.sample_rate)
        _validate_channels(self.encoding, self.channels)

    @property
    def sample_width(self) -> int:
        """Bytes per sample of one channel."""
        return _SAMPLE_WIDTHS[self.encoding]

    @property
    def frame_size(self) -> int:
        """Bytes per sample frame: one sample of every channel."""
        return self.sample_width * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.frame_size * self.sample_rate

    def seconds(self, n_bytes: int) -> float:
        """Return the duration in seconds of `n_bytes` bytes of audio in this format."""
        return n_bytes / self.bytes_per_second

    def describe(self) -> str:
        """Return a short description for messages, e.g. "linear16, 16000 Hz, 1 channel"."""
        unit = "channel" if self.channels == 1 else "channels"
        return f"{self.encoding}, {self.sample_rate} Hz, {self.channels} {unit}"


def parse_audio_format(params: Mapping[str, str]) -> AudioFormat:
    """Build an AudioFormat from the query parameters encoding, sample_rate and channels.

    A missing parameter takes its default (linear16, 16000, 1). A parameter that is present
    but empty, not a plain decimal integer, or outside the rules of the encoding raises
    AudioFormatError.
    """
    encoding = str(params.get("encoding", DEFAULT_ENCODING))
    _validate_encoding(encoding)
    sample_rate = _parse_integer(params, "sample_rate", DEFAULT_SAMPLE_RATE, encoding)
    channels = _parse_integer(params, "channels", DEFAULT_CHANNELS, encoding)
    return AudioFormat(encoding=encoding, sample_rate=sample_rate, channels=channels)


def _parse_integer(params: Mapping[str, str], parameter: str, default: int, encoding: str) -> int:
    if parameter not in params:
        return default
    text = str(params[parameter])
    # int() would also accept signs, spaces, underscores and non-ASCII digits.
    if _INTEGER_PATTERN.fullmatch(text) is None:
        raise AudioFormatError(parameter, text, _allowed(parameter, encoding), encoding)
    return int(text)


def _allowed(parameter: str, encoding: str) -> str:
    if parameter == "sample_rate":
        if encoding == MULAW:
            return str(MULAW_RATE)
        return f"an integer from {LINEAR16_MIN_RATE} to {LINEAR16_MAX_RATE}"
    channel_counts = MULAW_CHANNELS if encoding == MULAW else LINEAR16_CHANNELS
    return " or ".join(str(count) for count in channel_counts)


def _validate_encoding(encoding: object) -> None:
    if encoding not in ENCODINGS:
        raise AudioFormatError("encoding", encoding, "one of " + ", ".join(ENCODINGS))


def _validate_sample_rate(encoding: str, sample_rate: object) -> None:
    if encoding == MULAW:
        valid = _is_int(sample_rate) and sample_rate == MULAW_RATE
    else:
        valid = _is_int(sample_rate) and LINEAR16_MIN_RATE <= sample_rate <= LINEAR16_MAX_RATE
    if not valid:
        allowed = _allowed("sample_rate", encoding)
        raise AudioFormatError("sample_rate", sample_rate, allowed, encoding)


def _validate_channels(encoding: str, channels: object) -> None:
    channel_counts = MULAW_CHANNELS if encoding == MULAW else LINEAR16_CHANNELS
    if not (_is_int(channels) and channels in channel_counts):
        raise AudioFormatError("channels", channels, _allowed("channels", encoding), encoding)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SampleAligner:
    """Splitter that passes on whole sample frames and holds back a partial frame.

    A network message may end in the middle of a sample frame. `push` returns the longest
    prefix of the held-back bytes plus the new data that is a whole number of frames, and
    keeps the rest for the next call.
    """

    def __init__(self, frame_size: int):
        if frame_size < 1:
            raise ValueError(f"frame_size must be at least 1, got {frame_size}")
        self.frame_size = frame_size
        self._pending = b""

    @property
    def pending(self) -> bytes:
        """Bytes of an incomplete sample frame held back for the next push."""
        return self._pending

    def push(self, data: bytes) -> bytes:
        """Return the whole sample frames of the held-back bytes plus `data`."""
        combined = self._pending + bytes(data)
        whole_length = len(combined) - len(combined) % self.frame_size
        self._pending = combined[whole_length:]
        return combined[:whole_length]
