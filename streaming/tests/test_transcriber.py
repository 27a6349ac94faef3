"""The Transcriber's ordering, backlog limit and failure handling, with real and failing engines."""

from __future__ import annotations

import asyncio
import threading

import pytest

from streaming.audio.format import AudioFormat
from streaming.engines.base import EngineError, SpeechEngine, TranscriptResult
from streaming.engines.pocketsphinx_engine import PocketSphinxEngine
from streaming.tests.live import direct_transcript, load_audio
from streaming.transcriber import Transcriber, engine_executor

PCM_16K = AudioFormat("linear16", 16000, 1)


class FailingEngine(SpeechEngine):
    """An engine whose feed fails on the second call, as a crashed decoder would."""

    name = "failing"
    languages = ("en",)

    def start(self, on_result):
        self.calls = 0

    def feed(self, audio: bytes) -> None:
        self.calls += 1
        if self.calls == 2:
            raise EngineError("decoder crashed")

    def finalize(self) -> None:
        pass

    def close(self) -> None:
        pass


class BlockingEngine(SpeechEngine):
    """An engine that reports each chunk's length and blocks until released."""

    name = "blocking"
    languages = ("en",)

    def __init__(self, audio_format, language):
        super().__init__(audio_format, language)
        self.release = threading.Event()
        self.fed: list[int] = []

    def start(self, on_result):
        self.on_result = on_result

    def feed(self, audio: bytes) -> None:
        self.release.wait(10)
        start = sum(self.fed) / 32000
        self.fed.append(len(audio))
        self.on_result(TranscriptResult(True, "chunk", 1.0, start, start + len(audio) / 32000))

    def finalize(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_transcriber(engine, backlog_bytes=10**9):
    events = {"results": [], "skips": [], "failures": []}
    transcriber = Transcriber(
        engine,
        engine_executor(2),
        PCM_16K.bytes_per_second,
        backlog_bytes,
        on_result=lambda result, replayed: events["results"].append((result, replayed)),
        on_skip=events["skips"].append,
        on_failure=events["failures"].append,
    )
    return transcriber, events


def test_failure_stops_transcription_only():
    async def scenario():
        transcriber, events = make_transcriber(FailingEngine(PCM_16K, "en"))
        await transcriber.start()
        for _ in range(4):
            transcriber.feed(b"\x00\x00" * 160)
        await transcriber.close()
        return transcriber, events

    transcriber, events = asyncio.run(scenario())
    assert transcriber.failed
    assert len(events["failures"]) == 1
    assert isinstance(events["failures"][0], EngineError)


def test_backlog_skips_oldest_audio():
    engine = BlockingEngine(PCM_16K, "en")

    async def scenario():
        transcriber, events = make_transcriber(engine, backlog_bytes=32000)
        await transcriber.start()
        chunk = b"\x00\x00" * 1600
        for _ in range(30):
            transcriber.feed(chunk)
        engine.release.set()
        await transcriber.close()
        return events

    events = asyncio.run(scenario())
    assert events["skips"]
    assert sum(engine.fed) < 30 * 3200
    results = [result for result, _ in events["results"]]
    last = results[-1]
    # Times stay on the stream clock: the last chunk ends at the stream's 3.0 s.
    assert last.end == pytest.approx(3.0)


def test_replay_results_flagged_and_ordered():
    _, audio = load_audio("brooklyn-bridge-16k.wav")
    split = len(audio) // 2 - (len(audio) // 2) % 2

    async def scenario():
        transcriber, events = make_transcriber(PocketSphinxEngine(PCM_16K, "en"))
        await transcriber.start(lambda: iter([audio[:split]]))
        for start in range(split, len(audio), 3200):
            transcriber.feed(audio[start : start + 3200])
        await transcriber.close()
        return events

    events = asyncio.run(scenario())
    finals = [result.text for result, _ in events["results"] if result.is_final]
    assert " ".join(finals) == direct_transcript("brooklyn-bridge-16k.wav")
    flags = [replayed for result, replayed in events["results"] if not result.is_final]
    assert flags == sorted(flags, reverse=True)
