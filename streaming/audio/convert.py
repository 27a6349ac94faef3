"""Streaming conversion of declared-format audio to 16-bit mono PCM at an engine's sample rate."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import soxr

from streaming.audio.format import MULAW, AudioFormat, SampleAligner

with warnings.catch_warnings():
    # The standard library's audioop is deprecated since Python 3.11 and removed in 3.13.
    # The audioop-lts package installs a module of the same name on 3.13 and newer.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

logger = logging.getLogger(__name__)

PCM_DTYPE = np.dtype("<i2")
# soxr.h defines the "HQ" preset as 20-bit quality, more than 16-bit output can carry.
RESAMPLE_QUALITY = "HQ"
_FULL_SCALE = 32768.0


class PcmConverter:
    """Converter from a stream in `source` format to 16-bit little-endian mono PCM at `target_rate`.

    It decodes mu-law, averages stereo channels and resamples with libsoxr. Chunks may end
    in the middle of a sample frame because the converter holds back the partial frame.
    The concatenated output does not depend on how the input was split into chunks (the
    tests check this for several chunk sizes). Resampling runs in float32 because the
    int16 interface of soxr 1.1.0 gave outputs that differed by up to 2 LSB between
    chunkings.
    """

    def __init__(self, source: AudioFormat, target_rate: int):
        if target_rate < 1:
            raise ValueError(f"target_rate must be a positive number of Hz, got {target_rate}")
        self.source = source
        self.target_rate = target_rate
        self._aligner = SampleAligner(source.frame_size)
        self._resampler = self._new_resampler()

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self.source.sample_rate == self.target_rate:
            return None
        return soxr.ResampleStream(
            self.source.sample_rate, self.target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )

    def convert(self, chunk: bytes) -> bytes:
        """Return the PCM for `chunk` that is ready now. The resampler may hold some back."""
        frames = self._aligner.push(chunk)
        if not frames and self._resampler is None:
            return b""
        return self._resample(self._to_mono(frames), last=False)

    def flush(self) -> bytes:
        """Return the PCM still held back at the end of the stream.

        A later convert() starts a new stream. A trailing partial sample frame is dropped.
        """
        if self._aligner.pending:
            logger.warning(
                "Dropped %d bytes of an incomplete sample frame at the end of a %s stream",
                len(self._aligner.pending),
                self.source.describe(),
            )
        self._aligner = SampleAligner(self.source.frame_size)
        tail = self._resample(np.zeros(0, dtype=PCM_DTYPE), last=True)
        self._resampler = self._new_resampler()
        return tail

    def _to_mono(self, frames: bytes) -> np.ndarray:
        if self.source.encoding == MULAW:
            frames = audioop.ulaw2lin(frames, 2)
        samples = np.frombuffer(frames, dtype=PCM_DTYPE)
        if self.source.channels == 1:
            return samples
        stereo = samples.reshape(-1, self.source.channels).astype(np.int32)
        return np.rint(stereo.mean(axis=1)).astype(PCM_DTYPE)

    def _resample(self, samples: np.ndarray, last: bool) -> bytes:
        if self._resampler is None:
            return samples.astype(PCM_DTYPE, copy=False).tobytes()
        floats = samples.astype(np.float32) / _FULL_SCALE
        resampled = self._resampler.resample_chunk(floats, last=last)
        scaled = np.rint(resampled.astype(np.float64) * _FULL_SCALE)
        return np.clip(scaled, -_FULL_SCALE, _FULL_SCALE - 1).astype(PCM_DTYPE).tobytes()
