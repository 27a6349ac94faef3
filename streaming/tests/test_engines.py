"""Tests of the speech engines on real speech recordings, without mocks."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from streaming.audio.convert import PcmConverter
from streaming.audio.format import AudioFormat
from streaming.audio.wav import read_wav
from streaming.engines.base import EngineError, TranscriptResult
from streaming.engines.decode import final_text, transcribe_file
from streaming.engines.none import NullEngine
from streaming.engines.pocketsphinx_engine import INTERIM_CONFIDENCE, PocketSphinxEngine
from streaming.engines.registry import ENGINES, UnknownEngineError, get_engine_class
from streaming.tests import audio_file

BROOKLYN = "brooklyn-bridge-16k.wav"
JFK = "jfk-16k.wav"
COMMERCIAL_CALL = "commercial-call-8k.wav"
TESTING_MULAW = "testing-123-mulaw-8k.wav"
PREAMBLE_MULAW = "preamble-mulaw-8k.wav"
ALL_RECORDINGS = [BROOKLYN, JFK, COMMERCIAL_CALL, TESTING_MULAW, PREAMBLE_MULAW]
LINEAR16_16K = AudioFormat("linear16", 16000, 1)
# Characters of filler words (<sil>, [NOISE]) and pronunciation suffixes (brooklyn(2)).
MARKUP_CHARACTERS = re.compile(r"[<>\[\]()]")


@functools.cache
def reference_results(name: str) -> list[TranscriptResult]:
    return transcribe_file(audio_file(name))


def split(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[offset : offset + chunk_size] for offset in range(0, len(data), chunk_size)]


def stream_audio(fmt: AudioFormat, audio: bytes, chunk_size: int) -> list[TranscriptResult]:
    results: list[TranscriptResult] = []
    engine = PocketSphinxEngine(fmt, "en")
    engine.start(results.append)
    for chunk in split(audio, chunk_size):
        engine.feed(chunk)
    engine.close()
    return results


def group_utterances(results: list[TranscriptResult]) -> list[list[TranscriptResult]]:
    """Split results after each final one, giving the interims and the final of each utterance."""
    groups: list[list[TranscriptResult]] = [[]]
    for result in results:
        groups[-1].append(result)
        if result.is_final:
            groups.append([])
    return [group for group in groups if group]


# PocketSphinx transcripts


def test_brooklyn_exact_transcript() -> None:
    assert final_text(reference_results(BROOKLYN)) == "how old is the brooklyn bridge"


@pytest.mark.parametrize("name", [TESTING_MULAW, PREAMBLE_MULAW, COMMERCIAL_CALL])
def test_telephone_audio_gives_text(name: str) -> None:
    text = final_text(reference_results(name))
    assert text.strip() != ""
    assert len(text.split()) >= 2


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_text_has_no_fillers_or_suffixes(name: str) -> None:
    for result in reference_results(name):
        assert MARKUP_CHARACTERS.search(result.text) is None, result
        assert result.text == " ".join(result.text.split()), result


@pytest.mark.parametrize("name", [BROOKLYN, TESTING_MULAW])
@pytest.mark.parametrize("chunk_size", [3200, 1000, 37 * 2])
def test_streaming_matches_reference(name: str, chunk_size: int) -> None:
    fmt, audio = read_wav(audio_file(name))
    assert stream_audio(fmt, audio, chunk_size) == reference_results(name)


def test_interim_results_precede_final() -> None:
    results = reference_results(BROOKLYN)
    assert results[0].is_final is False
    assert results[-1].is_final is True
    for group in group_utterances(results):
        assert [result.is_final for result in group[:-1]] == [False] * (len(group) - 1)
        assert group[-1].is_final is True


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_interim_results_every_half_second(name: str) -> None:
    for group in group_utterances(reference_results(name)):
        interim_ends = [result.end for result in group if not result.is_final]
        gaps = np.diff(interim_ends)
        assert np.all(gaps >= 0.5 - 1e-9), interim_ends


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_result_times_monotonic_within_audio(name: str) -> None:
    fmt, audio = read_wav(audio_file(name))
    duration = fmt.seconds(len(audio))
    results = reference_results(name)
    assert any(result.is_final for result in results)
    previous_final_end = 0.0
    for group in group_utterances(results):
        final = group[-1]
        assert final.is_final
        assert previous_final_end <= final.start < final.end <= duration + 1e-9
        for interim in group[:-1]:
            assert interim.start == final.start
            assert final.start < interim.end <= final.end
        interim_ends = [result.end for result in group[:-1]]
        assert interim_ends == sorted(interim_ends)
        previous_final_end = final.end


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_confidence_in_unit_range(name: str) -> None:
    for result in reference_results(name):
        assert 0.0 <= result.confidence <= 1.0
        if not result.is_final:
            assert result.confidence == INTERIM_CONFIDENCE


def test_final_confidence_positive_for_clear_speech() -> None:
    finals = [result for result in reference_results(BROOKLYN) if result.is_final]
    assert finals[0].confidence > 0.1


def test_stereo_48k_input_transcribes() -> None:
    _, audio = read_wav(audio_file(BROOKLYN))
    upsampler = PcmConverter(LINEAR16_16K, 48000)
    mono_48k = np.frombuffer(upsampler.convert(audio) + upsampler.flush(), dtype="<i2")
    stereo_48k = np.repeat(mono_48k, 2).astype("<i2").tobytes()
    results = stream_audio(AudioFormat("linear16", 48000, 2), stereo_48k, 4800)
    assert final_text(results) == "how old is the brooklyn bridge"


def test_finalize_ends_utterance_midstream() -> None:
    fmt, audio = read_wav(audio_file(JFK))
    split_at = 5 * fmt.bytes_per_second
    results: list[TranscriptResult] = []
    engine = PocketSphinxEngine(fmt, "en")
    engine.start(results.append)
    for chunk in split(audio[:split_at], 3200):
        engine.feed(chunk)
    assert not any(result.is_final for result in results)

    engine.finalize()
    finals = [result for result in results if result.is_final]
    assert len(finals) == 1
    assert finals[0].text != ""
    assert finals[0].end == pytest.approx(5.0, abs=0.05)

    for chunk in split(audio[split_at:], 3200):
        engine.feed(chunk)
    engine.close()
    later = results[results.index(finals[0]) + 1 :]
    later_finals = [result for result in later if result.is_final]
    assert later_finals
    assert all(result.start >= finals[0].end for result in later)
    assert later_finals[-1].end <= fmt.seconds(len(audio)) + 1e-9


def test_finalize_in_silence_delivers_nothing() -> None:
    results: list[TranscriptResult] = []
    engine = PocketSphinxEngine(LINEAR16_16K, "en")
    engine.start(results.append)
    engine.feed(bytes(LINEAR16_16K.bytes_per_second))
    engine.finalize()
    engine.finalize()
    engine.close()
    assert results == []


# Engine life cycle and languages


def test_pocketsphinx_call_order_enforced() -> None:
    engine = PocketSphinxEngine(LINEAR16_16K, "en")
    with pytest.raises(EngineError, match="start"):
        engine.feed(b"\x00\x00")
    with pytest.raises(EngineError, match="start"):
        engine.finalize()
    engine.start(lambda result: None)
    with pytest.raises(EngineError, match="only once"):
        engine.start(lambda result: None)
    engine.close()
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.feed(b"\x00\x00")


def test_close_without_start_is_allowed() -> None:
    PocketSphinxEngine(LINEAR16_16K, "en").close()


@pytest.mark.parametrize("language", ["en", "en-US", "en-GB"])
def test_pocketsphinx_accepts_english(language: str) -> None:
    assert PocketSphinxEngine.supports_language(language)
    PocketSphinxEngine(LINEAR16_16K, language)


@pytest.mark.parametrize("language", ["de", "fr-FR", "", "english"])
def test_pocketsphinx_rejects_other_languages(language: str) -> None:
    assert not PocketSphinxEngine.supports_language(language)
    expected_message = "not supported by the pocketsphinx engine: use one of en"
    with pytest.raises(EngineError, match=expected_message):
        PocketSphinxEngine(LINEAR16_16K, language)


def test_null_engine_delivers_nothing() -> None:
    def fail(result: TranscriptResult) -> None:
        raise AssertionError(f"NullEngine delivered {result}")

    engine = NullEngine(AudioFormat("mulaw", 8000, 1), "xx-YY")
    engine.start(fail)
    engine.feed(b"\xff" * 8000)
    engine.finalize()
    engine.close()


def test_null_engine_transcribes_file_to_nothing() -> None:
    assert transcribe_file(audio_file(TESTING_MULAW), engine_name="none", language="de") == []


# Registry and helpers


def test_registry_names() -> None:
    assert ENGINES == {"pocketsphinx": PocketSphinxEngine, "none": NullEngine}
    assert get_engine_class("pocketsphinx") is PocketSphinxEngine
    assert get_engine_class("none") is NullEngine


def test_registry_unknown_name_lists_choices() -> None:
    with pytest.raises(UnknownEngineError) as caught:
        get_engine_class("deepgram")
    assert str(caught.value) == "engine 'deepgram' is not supported: use one of none, pocketsphinx"
    assert isinstance(caught.value, EngineError)


def test_transcribe_file_unknown_engine() -> None:
    with pytest.raises(UnknownEngineError):
        transcribe_file(audio_file(BROOKLYN), engine_name="whisper")


def test_final_text_joins_final_results() -> None:
    results = [
        TranscriptResult(False, "how", 0.0, 0.0, 0.5),
        TranscriptResult(True, "how old", 0.8, 0.0, 1.0),
        TranscriptResult(True, "", 0.0, 1.5, 2.0),
        TranscriptResult(False, "is", 0.0, 2.5, 3.0),
        TranscriptResult(True, "is it", 0.7, 2.5, 3.2),
    ]
    assert final_text(results) == "how old is it"
    assert final_text([]) == ""
