"""How many streams one process transcribes in real time with the pocketsphinx engine."""

from __future__ import annotations

import logging

from bench.audio import AudioLoop
from bench.load_step import StepTiming, run_stream_step, wait_until_quiet
from bench.streams import StreamEndpoint

logger = logging.getLogger(__name__)

# A step transcribes in real time when 90% of final transcripts arrive within
# this time of sending the audio they end with. The engine's endpointer alone
# waits 0.3 s of silence before it ends an utterance.
FINAL_LAG_P90_LIMIT_SECONDS = 2.0


def is_real_time(step: dict) -> bool:
    transcripts = step["transcripts"]
    p90 = transcripts["final_lag"]["p90_ms"]
    return (
        step["failed_streams"] == 0
        and transcripts["lagging_warnings"] == 0
        and p90 is not None
        and p90 <= FINAL_LAG_P90_LIMIT_SECONDS * 1000
    )


async def run_transcription_ladder(
    endpoint: StreamEndpoint,
    server_pid: int,
    idle_rss_bytes: int,
    audio: AudioLoop,
    steps: list[int],
    timing: StepTiming,
) -> list[dict]:
    """Step up the number of transcribed streams until one step is not real time."""
    results = []
    for streams in steps:
        await wait_until_quiet(server_pid)
        step = await run_stream_step(
            endpoint, streams, audio, server_pid, idle_rss_bytes, timing,
            record_transcripts=True, seed=streams,
        )
        step["real_time"] = is_real_time(step)
        # CPU seconds of the whole process per second of audio, per stream.
        step["real_time_factor_per_stream"] = round(step["server_cpu_fraction"] / streams, 4)
        results.append(step)
        lag = step["transcripts"]["final_lag"]
        logger.info(
            "pocketsphinx %3d streams: final lag p50 %s ms p90 %s ms, RTF/stream %.3f, %s",
            streams, lag["p50_ms"], lag["p90_ms"], step["real_time_factor_per_stream"],
            "real time" if step["real_time"] else "NOT real time",
        )
        if not step["real_time"]:
            break
    return results
