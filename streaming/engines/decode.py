"""Whole-file transcription: the reference that streamed transcripts are compared with."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from streaming.audio.wav import read_wav
from streaming.engines.base import TranscriptResult
from streaming.engines.registry import get_engine_class


def transcribe_file(
    path: str | Path, engine_name: str = "pocketsphinx", language: str = "en"
) -> list[TranscriptResult]:
    """Run a PCM or mu-law WAV file through the named engine in one call and return all results."""
    audio_format, audio = read_wav(path)
    engine = get_engine_class(engine_name)(audio_format, language)
    results: list[TranscriptResult] = []
    engine.start(results.append)
    try:
        engine.feed(audio)
    finally:
        engine.close()
    return results


def final_text(results: Iterable[TranscriptResult]) -> str:
    """Join the texts of the final results with single spaces, skipping empty ones."""
    return " ".join(result.text for result in results if result.is_final and result.text)
