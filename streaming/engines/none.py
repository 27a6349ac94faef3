"""The engine for streams that are recorded without transcription."""

from __future__ import annotations

from streaming.engines.base import ANY_LANGUAGE, ResultCallback, SpeechEngine


class NullEngine(SpeechEngine):
    """Engine that accepts audio and never delivers a result."""

    name = "none"
    languages = (ANY_LANGUAGE,)

    def start(self, on_result: ResultCallback) -> None:
        pass

    def feed(self, audio: bytes) -> None:
        pass

    def finalize(self) -> None:
        pass

    def close(self) -> None:
        pass
