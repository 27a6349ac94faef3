"""The interface every speech engine implements, and the results it delivers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from streaming.audio.format import AudioFormat

# An entry of SpeechEngine.languages that accepts every language code.
ANY_LANGUAGE = "*"


@dataclass(frozen=True)
class TranscriptResult:
    """Transcript of one stretch of audio.

    `start` and `end` are seconds from the start of the audio fed to the engine. An
    interim result (`is_final` False) may be revised by later results for the same
    stretch. A final one will not be. `confidence` is between 0 and 1.
    """

    is_final: bool
    text: str
    confidence: float
    start: float
    end: float


ResultCallback = Callable[[TranscriptResult], None]


class EngineError(Exception):
    """A speech engine failed or was used out of order."""


class SpeechEngine(ABC):
    """Speech recognizer for one stream.

    The caller calls `start` once, then `feed` and `finalize` any number of times, then
    `close`. Every method may block, so async callers run them in a worker thread, one
    call at a time. Results go to the `on_result` callback, which the engine may call
    from any thread, also between calls (a cloud engine's receiving thread, say). An
    engine calls it for the last time before `close` returns.
    """

    name: ClassVar[str]
    languages: ClassVar[tuple[str, ...]]

    def __init__(self, audio_format: AudioFormat, language: str):
        if not self.supports_language(language):
            raise EngineError(
                f"language {language!r} is not supported by the {self.name} engine:"
                f" use one of {', '.join(self.languages)}"
            )
        self.audio_format = audio_format
        self.language = language

    @classmethod
    def supports_language(cls, language: str) -> bool:
        """Return whether the engine accepts `language`.

        A code with a region ("en-US") matches an entry for its primary language ("en").
        """
        if ANY_LANGUAGE in cls.languages:
            return True
        primary_language = language.split("-", 1)[0].lower()
        return language in cls.languages or primary_language in cls.languages

    @abstractmethod
    def start(self, on_result: ResultCallback) -> None:
        """Prepare the engine (load a model, open a connection) and set the result callback."""

    @abstractmethod
    def feed(self, audio: bytes) -> None:
        """Pass audio in the stream's declared format. Chunks hold whole sample frames."""

    @abstractmethod
    def finalize(self) -> None:
        """Deliver the pending recognition as final results now. The stream continues."""

    @abstractmethod
    def close(self) -> None:
        """End the stream: deliver everything pending as final results, then release resources."""
