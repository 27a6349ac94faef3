"""Offline US English recognition with PocketSphinx, segmented into utterances by its endpointer."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pocketsphinx

from streaming.audio.convert import PcmConverter
from streaming.audio.format import AudioFormat
from streaming.engines.base import EngineError, ResultCallback, SpeechEngine, TranscriptResult

logger = logging.getLogger(__name__)

# The acoustic model shipped with the pocketsphinx package is trained on 16 kHz audio.
SAMPLE_RATE = 16000
PCM_SAMPLE_WIDTH = 2
INTERIM_INTERVAL_SAMPLES = SAMPLE_RATE // 2
# Word posteriors come from the lattice that the decoder builds at the end of an
# utterance, so interim results have none and carry this value.
INTERIM_CONFIDENCE = 0.0

# Filler words of the en-US model: <s>, </s>, <sil>, [NOISE], [SPEECH].
_FILLER_WORD = re.compile(r"<[^>]*>|\[[^\]]*\]")
# Alternate pronunciations are dictionary entries such as "brooklyn(2)".
_PRONUNCIATION_SUFFIX = re.compile(r"\(\d+\)$")


@dataclass
class _Utterance:
    """Decoder state of the utterance in progress, counted in samples at SAMPLE_RATE."""

    start_sample: int
    samples: int = 0
    samples_at_last_interim: int = 0
    last_interim_text: str = ""

    def seconds(self) -> tuple[float, float]:
        return self.start_sample / SAMPLE_RATE, (self.start_sample + self.samples) / SAMPLE_RATE


class PocketSphinxEngine(SpeechEngine):
    """PocketSphinx decoder fed with the speech regions its Endpointer detects.

    Each speech region becomes one utterance and one final result. While a region
    continues, an interim result follows every 0.5 s of its audio when the text has
    changed. The endpointer and decoder receive the same 30 ms frames whatever the
    chunking of `feed`, so the results depend only on the audio and on when `finalize`
    was called. The endpointer decides 0.3 s (its default window) after the audio, so
    results lag the audio by at least that much.

    The confidence of a final result is the mean posterior probability of its words,
    taken from the word lattice the decoder builds at the end of the utterance.
    """

    name = "pocketsphinx"
    languages = ("en",)

    def __init__(self, audio_format: AudioFormat, language: str):
        super().__init__(audio_format, language)
        self._converter = PcmConverter(audio_format, SAMPLE_RATE)
        self._on_result: ResultCallback | None = None
        self._decoder: pocketsphinx.Decoder | None = None
        self._endpointer: pocketsphinx.Endpointer | None = None
        self._closed = False
        # Converted PCM not yet given to the endpointer.
        self._pcm = bytearray()
        # Stream positions in samples at SAMPLE_RATE: the samples given to endpointers,
        # the sample where the current endpointer's clock starts, and the next sample
        # the endpointer will return as speech.
        self._pushed_samples = 0
        self._endpointer_origin = 0
        self._speech_sample = 0
        self._utterance: _Utterance | None = None

    def start(self, on_result: ResultCallback) -> None:
        if self._decoder is not None or self._closed:
            raise EngineError("start() may be called only once per engine")
        try:
            self._decoder = pocketsphinx.Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
            self._endpointer = pocketsphinx.Endpointer(sample_rate=SAMPLE_RATE)
        except (RuntimeError, ValueError) as error:
            raise EngineError(f"failed to load the pocketsphinx model: {error}") from error
        self._on_result = on_result

    def feed(self, audio: bytes) -> None:
        self._require_started()
        self._pcm += self._converter.convert(audio)
        self._process_frames()

    def finalize(self) -> None:
        self._require_started()
        if self._flush_speech():
            # After a mid-stream end_stream() the endpointer's clock misses the samples it
            # discarded (seen with pocketsphinx 5.1.1), so a new endpointer with a known
            # origin takes over. Its 30 ms frame grid starts after the flushed audio.
            self._endpointer = pocketsphinx.Endpointer(sample_rate=SAMPLE_RATE)
            self._endpointer_origin = self._pushed_samples

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._decoder is None:
            return
        try:
            self._pcm += self._converter.flush()
            self._process_frames()
            self._flush_speech()
        finally:
            self._decoder = None
            self._endpointer = None
            self._pcm.clear()

    def _require_started(self) -> None:
        if self._closed:
            raise EngineError("the engine is closed")
        if self._decoder is None:
            raise EngineError("start() must be called before feed() or finalize()")

    def _process_frames(self) -> None:
        # At least one sample stays behind, because end_stream() in _flush_speech()
        # rejects an empty frame.
        endpointer = self._endpointer
        frame_bytes = endpointer.frame_bytes
        offset = 0
        while len(self._pcm) - offset > frame_bytes:
            frame = bytes(self._pcm[offset : offset + frame_bytes])
            offset += frame_bytes
            was_in_speech = endpointer.in_speech
            speech = endpointer.process(frame)
            self._pushed_samples += frame_bytes // PCM_SAMPLE_WIDTH
            if speech is None:
                continue
            if not was_in_speech:
                start_offset = round(endpointer.speech_start * SAMPLE_RATE)
                self._speech_sample = self._endpointer_origin + start_offset
            self._decode_speech(speech, region_ended=not endpointer.in_speech)
        del self._pcm[:offset]

    def _flush_speech(self) -> bool:
        """Decode the speech the endpointer holds back and end the utterance in progress.

        Returns whether the endpointer was flushed with end_stream().
        """
        flushed = False
        if self._endpointer.in_speech and self._pcm:
            speech = self._endpointer.end_stream(bytes(self._pcm))
            self._pushed_samples += len(self._pcm) // PCM_SAMPLE_WIDTH
            self._pcm.clear()
            flushed = True
            if speech:
                self._decode_speech(speech, region_ended=True)
        if self._utterance is not None:
            self._end_utterance()
        return flushed

    def _decode_speech(self, speech: bytes, region_ended: bool) -> None:
        if self._utterance is None:
            self._decoder.start_utt()
            self._utterance = _Utterance(start_sample=self._speech_sample)
        self._decoder.process_raw(speech)
        sample_count = len(speech) // PCM_SAMPLE_WIDTH
        self._speech_sample += sample_count
        self._utterance.samples += sample_count
        if region_ended:
            self._end_utterance()
        else:
            self._send_interim()

    def _send_interim(self) -> None:
        utterance = self._utterance
        if utterance.samples - utterance.samples_at_last_interim < INTERIM_INTERVAL_SAMPLES:
            return
        utterance.samples_at_last_interim = utterance.samples
        hypothesis = self._decoder.hyp()
        text = " ".join(_spoken_words(hypothesis.hypstr.split())) if hypothesis else ""
        if not text or text == utterance.last_interim_text:
            return
        utterance.last_interim_text = text
        start, end = utterance.seconds()
        self._on_result(TranscriptResult(False, text, INTERIM_CONFIDENCE, start, end))

    def _end_utterance(self) -> None:
        utterance = self._utterance
        self._utterance = None
        self._decoder.end_utt()
        segments = [
            segment
            for segment in self._decoder.seg()
            if _FILLER_WORD.fullmatch(segment.word) is None
        ]
        words = _spoken_words(segment.word for segment in segments)
        # An empty final result still replaces the interim text a client may show.
        if not words and not utterance.last_interim_text:
            return
        confidence = _mean([segment.prob for segment in segments])
        start, end = utterance.seconds()
        logger.debug("Utterance %.2f-%.2f s: %r", start, end, " ".join(words))
        self._on_result(TranscriptResult(True, " ".join(words), confidence, start, end))


def _spoken_words(tokens: Iterable[str]) -> list[str]:
    """Return the tokens without filler words and with pronunciation suffixes removed."""
    return [
        _PRONUNCIATION_SUFFIX.sub("", token)
        for token in tokens
        if _FILLER_WORD.fullmatch(token) is None
    ]


def _mean(values: list[float]) -> float:
    """Return the mean of `values` clamped to 0..1, or 0.0 for no values."""
    if not values:
        return 0.0
    return min(1.0, max(0.0, sum(values) / len(values)))
