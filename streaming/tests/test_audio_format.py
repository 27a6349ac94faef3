"""Tests of the declared stream format, whole-frame alignment and conversion to engine PCM."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from streaming.audio.convert import PcmConverter
from streaming.audio.format import AudioFormat, AudioFormatError, SampleAligner, parse_audio_format
from streaming.audio.wav import read_wav
from streaming.tests import audio_file

LINEAR16_16K = AudioFormat("linear16", 16000, 1)
MULAW_8K = AudioFormat("mulaw", 8000, 1)


def split(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[offset : offset + chunk_size] for offset in range(0, len(data), chunk_size)]


def convert_in_chunks(source: AudioFormat, target_rate: int, data: bytes, chunk_size: int) -> bytes:
    converter = PcmConverter(source, target_rate)
    output = b"".join(converter.convert(chunk) for chunk in split(data, chunk_size))
    return output + converter.flush()


def pcm_samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


def noise_pcm(sample_count: int, seed: int = 7) -> bytes:
    generator = np.random.default_rng(seed)
    return generator.integers(-20000, 20000, sample_count, dtype=np.int16).astype("<i2").tobytes()


def sine_pcm(
    frequency: float, sample_rate: int, seconds: float, amplitude: float = 10000.0
) -> bytes:
    times = np.arange(int(sample_rate * seconds)) / sample_rate
    return np.rint(amplitude * np.sin(2 * np.pi * frequency * times)).astype("<i2").tobytes()


# AudioFormat


@pytest.mark.parametrize(
    ("fmt", "sample_width", "frame_size", "bytes_per_second"),
    [
        (AudioFormat("linear16", 16000, 1), 2, 2, 32000),
        (AudioFormat("linear16", 48000, 2), 2, 4, 192000),
        (AudioFormat("linear16", 8000, 1), 2, 2, 16000),
        (AudioFormat("mulaw", 8000, 1), 1, 1, 8000),
    ],
)
def test_format_sizes(
    fmt: AudioFormat, sample_width: int, frame_size: int, bytes_per_second: int
) -> None:
    assert fmt.sample_width == sample_width
    assert fmt.frame_size == frame_size
    assert fmt.bytes_per_second == bytes_per_second
    assert fmt.seconds(bytes_per_second) == 1.0
    assert fmt.seconds(bytes_per_second // 4) == 0.25
    assert fmt.seconds(0) == 0.0


def test_format_is_hashable_value() -> None:
    assert AudioFormat("mulaw", 8000, 1) == MULAW_8K
    assert len({AudioFormat("mulaw", 8000, 1), MULAW_8K}) == 1


def test_format_describe() -> None:
    assert LINEAR16_16K.describe() == "linear16, 16000 Hz, 1 channel"
    assert AudioFormat("linear16", 44100, 2).describe() == "linear16, 44100 Hz, 2 channels"


@pytest.mark.parametrize(
    ("encoding", "sample_rate", "channels", "parameter"),
    [
        ("opus", 16000, 1, "encoding"),
        ("linear16", 7999, 1, "sample_rate"),
        ("linear16", 48001, 1, "sample_rate"),
        ("linear16", 16000.0, 1, "sample_rate"),
        ("linear16", "16000", 1, "sample_rate"),
        ("linear16", 16000, 3, "channels"),
        ("linear16", 16000, True, "channels"),
        ("mulaw", 16000, 1, "sample_rate"),
        ("mulaw", 8000, 2, "channels"),
    ],
)
def test_format_constructor_validates(encoding, sample_rate, channels, parameter: str) -> None:
    with pytest.raises(AudioFormatError) as caught:
        AudioFormat(encoding, sample_rate, channels)
    assert caught.value.parameter == parameter


# parse_audio_format


def test_parse_defaults() -> None:
    assert parse_audio_format({}) == LINEAR16_16K


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"encoding": "linear16"}, AudioFormat("linear16", 16000, 1)),
        ({"sample_rate": "8000"}, AudioFormat("linear16", 8000, 1)),
        ({"sample_rate": "48000", "channels": "2"}, AudioFormat("linear16", 48000, 2)),
        ({"sample_rate": "44100", "channels": "1"}, AudioFormat("linear16", 44100, 1)),
        ({"sample_rate": "016000"}, AudioFormat("linear16", 16000, 1)),
        ({"encoding": "mulaw", "sample_rate": "8000", "channels": "1"}, MULAW_8K),
        ({"encoding": "mulaw", "sample_rate": "8000"}, MULAW_8K),
        ({"encoding": "linear16", "unrelated": "x"}, AudioFormat("linear16", 16000, 1)),
    ],
)
def test_parse_valid(params: dict[str, str], expected: AudioFormat) -> None:
    assert parse_audio_format(params) == expected


def test_parse_mulaw_without_rate_rejects_default() -> None:
    # The default sample rate belongs to linear16, so mu-law needs sample_rate=8000.
    with pytest.raises(AudioFormatError) as caught:
        parse_audio_format({"encoding": "mulaw"})
    assert caught.value.parameter == "sample_rate"
    assert caught.value.value == "16000"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"encoding": "opus"}, "encoding"),
        ({"encoding": ""}, "encoding"),
        ({"encoding": "LINEAR16"}, "encoding"),
        ({"encoding": "linear16 "}, "encoding"),
        ({"encoding": "mulaw\x00"}, "encoding"),
        ({"sample_rate": "7000"}, "sample_rate"),
        ({"sample_rate": "48001"}, "sample_rate"),
        ({"sample_rate": "0"}, "sample_rate"),
        ({"sample_rate": ""}, "sample_rate"),
        ({"sample_rate": "abc"}, "sample_rate"),
        ({"sample_rate": "16000.0"}, "sample_rate"),
        ({"sample_rate": "1e4"}, "sample_rate"),
        ({"sample_rate": " 16000"}, "sample_rate"),
        ({"sample_rate": "+16000"}, "sample_rate"),
        ({"sample_rate": "-16000"}, "sample_rate"),
        ({"sample_rate": "16_000"}, "sample_rate"),
        ({"sample_rate": "0x3e80"}, "sample_rate"),
        ({"sample_rate": "\u0661\u0666\u0660\u0660\u0660"}, "sample_rate"),
        ({"sample_rate": "9" * 5000}, "sample_rate"),
        ({"sample_rate": "16000abc16000abc"}, "sample_rate"),
        ({"channels": "0"}, "channels"),
        ({"channels": "3"}, "channels"),
        ({"channels": ""}, "channels"),
        ({"channels": "two"}, "channels"),
        ({"channels": "1.0"}, "channels"),
        ({"encoding": "mulaw", "sample_rate": "16000"}, "sample_rate"),
        ({"encoding": "mulaw", "sample_rate": "8000", "channels": "2"}, "channels"),
    ],
)
def test_parse_invalid(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(AudioFormatError) as caught:
        parse_audio_format(params)
    assert caught.value.parameter == parameter


def test_parse_error_message_names_value_and_range() -> None:
    with pytest.raises(AudioFormatError) as caught:
        parse_audio_format({"sample_rate": "7000"})
    assert str(caught.value) == (
        "sample_rate '7000' is not supported for linear16: use an integer from 8000 to 48000"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"encoding": "opus"}, "encoding 'opus' is not supported: use one of linear16, mulaw"),
        ({"channels": "3"}, "channels '3' is not supported for linear16: use 1 or 2"),
        (
            {"encoding": "mulaw", "sample_rate": "16000"},
            "sample_rate '16000' is not supported for mulaw: use 8000",
        ),
        (
            {"encoding": "mulaw", "sample_rate": "8000", "channels": "2"},
            "channels '2' is not supported for mulaw: use 1",
        ),
    ],
)
def test_parse_error_messages(params: dict[str, str], message: str) -> None:
    with pytest.raises(AudioFormatError) as caught:
        parse_audio_format(params)
    assert str(caught.value) == message


def test_parse_error_shortens_long_value() -> None:
    with pytest.raises(AudioFormatError) as caught:
        parse_audio_format({"sample_rate": "9" * 5000})
    assert len(str(caught.value)) < 150
    assert caught.value.value == "9" * 5000


# SampleAligner


def test_aligner_holds_back_partial_frame() -> None:
    aligner = SampleAligner(4)
    assert aligner.push(b"abc") == b""
    assert aligner.pending == b"abc"
    assert aligner.push(b"defgh") == b"abcdefgh"
    assert aligner.pending == b""
    assert aligner.push(b"ijklmn") == b"ijkl"
    assert aligner.pending == b"mn"
    assert aligner.push(b"") == b""
    assert aligner.pending == b"mn"


def test_aligner_random_chunks_preserve_stream() -> None:
    data = bytes(range(256)) * 40
    generator = random.Random(3)
    for frame_size in (1, 2, 4):
        aligner = SampleAligner(frame_size)
        output = bytearray()
        offset = 0
        while offset < len(data):
            size = generator.randint(0, 23)
            aligned = aligner.push(data[offset : offset + size])
            assert len(aligned) % frame_size == 0
            output += aligned
            offset += size
        assert bytes(output) + aligner.pending == data
        assert len(aligner.pending) < frame_size


def test_aligner_rejects_zero_frame_size() -> None:
    with pytest.raises(ValueError):
        SampleAligner(0)


# PcmConverter


def test_convert_same_rate_mono_is_identity() -> None:
    data = noise_pcm(16000)
    for chunk_size in (len(data), 37, 3200):
        assert convert_in_chunks(LINEAR16_16K, 16000, data, chunk_size) == data


def test_convert_mulaw_matches_g711_table() -> None:
    codes = bytes(range(256))
    output = pcm_samples(convert_in_chunks(MULAW_8K, 8000, codes, 5))
    assert len(output) == 256
    # Reference points of the G.711 mu-law table: 0x00 and 0x80 decode to the extremes,
    # 0xFF and 0x7F to zero.
    assert output[0x00] == -32124
    assert output[0x80] == 32124
    assert output[0xFF] == 0
    assert output[0x7F] == 0
    assert np.all(np.diff(output[:0x80].astype(np.int32)) > 0)
    assert np.all(np.diff(output[0x80:].astype(np.int32)) < 0)


def test_convert_stereo_averages_channels() -> None:
    left = [1000, -32768, 32767, 100, 7]
    right = [3000, -32768, 32767, -300, 8]
    interleaved = np.array([left, right], dtype="<i2").T.reshape(-1).tobytes()
    fmt = AudioFormat("linear16", 16000, 2)
    output = pcm_samples(convert_in_chunks(fmt, 16000, interleaved, 3))
    # 7.5 rounds to the even neighbour 8.
    assert output.tolist() == [2000, -32768, 32767, -100, 8]


@pytest.mark.parametrize(
    ("source", "expected_ratio"),
    [
        (AudioFormat("linear16", 8000, 1), 2.0),
        (AudioFormat("linear16", 48000, 2), 1 / 3),
        (AudioFormat("linear16", 44100, 1), 16000 / 44100),
        (MULAW_8K, 2.0),
    ],
)
def test_convert_resampled_length(source: AudioFormat, expected_ratio: float) -> None:
    frame_count = source.sample_rate * 3
    data = bytes(source.frame_size * frame_count)
    output_samples = len(convert_in_chunks(source, 16000, data, 3200)) // 2
    assert abs(output_samples - frame_count * expected_ratio) <= 1


def test_convert_resampling_keeps_tone() -> None:
    source = AudioFormat("linear16", 8000, 1)
    output = pcm_samples(convert_in_chunks(source, 16000, sine_pcm(440.0, 8000, 1.0), 1000))
    expected = 10000.0 * np.sin(2 * np.pi * 440.0 * np.arange(len(output)) / 16000)
    # Skip the filter's start-up and end at the stream edges.
    middle = slice(800, len(output) - 800)
    assert np.max(np.abs(output[middle] - expected[middle])) < 30


@pytest.mark.parametrize(
    "source",
    [
        AudioFormat("linear16", 8000, 1),
        AudioFormat("linear16", 44100, 2),
        AudioFormat("linear16", 48000, 1),
        MULAW_8K,
    ],
    ids=lambda fmt: fmt.describe(),
)
def test_convert_chunking_invariant(source: AudioFormat) -> None:
    data = noise_pcm(source.sample_rate * source.channels * 2)
    if source.encoding == "mulaw":
        data = data[: len(data) // 2]
    whole = convert_in_chunks(source, 16000, data, len(data))
    assert len(whole) > 0
    assert convert_in_chunks(source, 16000, data, 37) == whole
    assert convert_in_chunks(source, 16000, data, 3200) == whole
    # Byte-by-byte feeding is slow, so it runs on a shorter stream.
    short = data[:4000]
    short_whole = convert_in_chunks(source, 16000, short, len(short))
    assert convert_in_chunks(source, 16000, short, 1) == short_whole


def test_convert_recorded_mulaw_chunking_invariant() -> None:
    source, data = read_wav(audio_file("testing-123-mulaw-8k.wav"))
    whole = convert_in_chunks(source, 16000, data, len(data))
    assert len(whole) == 4 * len(data)
    assert convert_in_chunks(source, 16000, data, 37) == whole
    assert convert_in_chunks(source, 16000, data, 3200) == whole


def test_convert_flush_drops_partial_frame(caplog: pytest.LogCaptureFixture) -> None:
    converter = PcmConverter(AudioFormat("linear16", 16000, 2), 16000)
    assert converter.convert(b"\x01\x00\x03\x00\x05") == b"\x02\x00"
    with caplog.at_level(logging.WARNING, logger="streaming.audio.convert"):
        assert converter.flush() == b""
    assert "Dropped 1 bytes" in caplog.text


def test_convert_after_flush_starts_new_stream() -> None:
    source = AudioFormat("linear16", 8000, 1)
    data = noise_pcm(4000)
    converter = PcmConverter(source, 16000)
    first = converter.convert(data) + converter.flush()
    second = converter.convert(data) + converter.flush()
    assert first == second


def test_convert_rejects_invalid_target_rate() -> None:
    with pytest.raises(ValueError):
        PcmConverter(LINEAR16_16K, 0)
