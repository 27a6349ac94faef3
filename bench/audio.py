"""The speech the benchmark streams: 100 ms frames of 16 kHz 16-bit mono PCM, looped."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from streaming.audio.format import LINEAR16, AudioFormat
from streaming.audio.wav import WavFormatError, read_wav

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_RECORDING = PROJECT_ROOT / "demo" / "meeting-sample-16k.wav"
AUDIO_DIR_VARIABLE = "MEETING_AUDIO_DIR"
AUDIO_FORMAT = AudioFormat(LINEAR16, 16000, 1)
FRAME_SECONDS = 0.1
FRAME_BYTES = int(AUDIO_FORMAT.bytes_per_second * FRAME_SECONDS)  # 3,200
# Streams start this many frames apart in the loop, so that they do not all
# speak the same sentence at the same moment.
START_OFFSET_STRIDE_FRAMES = 37


class AudioLoop:
    """Frames of a recording that repeats forever; each stream starts at its own offset."""

    def __init__(self, pcm: bytes, sources: list[str]) -> None:
        usable = len(pcm) - len(pcm) % FRAME_BYTES
        if usable == 0:
            raise ValueError("the benchmark audio is shorter than one 100 ms frame")
        self.frames = [pcm[start : start + FRAME_BYTES] for start in range(0, usable, FRAME_BYTES)]
        self.sources = sources

    @property
    def seconds(self) -> float:
        return len(self.frames) * FRAME_SECONDS

    def frame(self, stream_index: int, frame_number: int) -> bytes:
        start = stream_index * START_OFFSET_STRIDE_FRAMES
        return self.frames[(start + frame_number) % len(self.frames)]


def recording_paths(audio_file: Path | None) -> list[Path]:
    """Return the recordings to loop: ``audio_file``, else the WAV files of $MEETING_AUDIO_DIR, else the demo."""
    if audio_file is not None:
        return [audio_file]
    directory = os.environ.get(AUDIO_DIR_VARIABLE)
    if directory:
        paths = sorted(Path(directory).glob("*.wav"))
        if paths:
            return paths
        logger.warning("%s=%s contains no .wav file; using the demo recording", AUDIO_DIR_VARIABLE, directory)
    return [DEMO_RECORDING]


def load_audio(audio_file: Path | None = None) -> AudioLoop:
    """Concatenate the 16 kHz mono PCM recordings among ``recording_paths`` into one loop.

    Recordings in another format are skipped with a log line, because the
    benchmark's frame size and pace assume 16 kHz 16-bit mono.
    """
    pcm = bytearray()
    sources = []
    for path in recording_paths(audio_file):
        try:
            audio_format, data = read_wav(path)
        except (OSError, WavFormatError) as exc:
            logger.warning("Skipping %s: %s", path, exc)
            continue
        if audio_format != AUDIO_FORMAT:
            logger.info("Skipping %s: %s, not %s", path.name, audio_format.describe(), AUDIO_FORMAT.describe())
            continue
        pcm += data
        sources.append(path.name)
    if not sources:
        raise ValueError(f"no 16 kHz 16-bit mono WAV recording found among {recording_paths(audio_file)}")
    return AudioLoop(bytes(pcm), sources)
