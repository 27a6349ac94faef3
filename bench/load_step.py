"""One step of the capacity ladder: N streams for a measured window, with server CPU and memory."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass

from bench.audio import FRAME_SECONDS, AudioLoop
from bench.process_stats import sample_process
from bench.statistics import latency_summary, percentile
from bench.streams import MeasurementWindow, StreamClient, StreamEndpoint

logger = logging.getLogger(__name__)

CONNECT_CONCURRENCY = 32
# Streams start at this rate, as callers joining meetings do, rather than in one burst.
CONNECT_RATE_PER_SECOND = 50.0
# Maximum time for all N streams to connect beyond the ramp; a server that
# cannot open them in this time fails the step rather than stalling the run.
CONNECT_PHASE_TIMEOUT_SECONDS = 60.0
CLOSE_CONCURRENCY = 64
# A step passes when the p99 Ack latency stays under this and no stream fails.
P99_ACK_LIMIT_SECONDS = 0.200
# Between steps the server must fall below this CPU share before the next starts.
QUIET_CPU_FRACTION = 0.10
QUIET_TIMEOUT_SECONDS = 20.0
QUIET_SAMPLE_SECONDS = 0.5
MAX_REPORTED_FAILURES = 5


@dataclass(frozen=True)
class StepTiming:
    warmup_seconds: float = 3.0
    window_seconds: float = 8.0
    # Streams go on sending this long after the window, so the window's last
    # frames are acknowledged under the same load and transcripts can finish.
    tail_seconds: float = 2.0
    # After the senders stop, time left for outstanding Acks.
    grace_seconds: float = 2.0


async def wait_until_quiet(pid: int) -> float:
    """Wait until the server process uses less than QUIET_CPU_FRACTION of a core; return the seconds waited."""
    started = time.monotonic()
    previous = sample_process(pid).cpu_seconds
    while time.monotonic() - started < QUIET_TIMEOUT_SECONDS:
        await asyncio.sleep(QUIET_SAMPLE_SECONDS)
        current = sample_process(pid).cpu_seconds
        if current - previous < QUIET_CPU_FRACTION * QUIET_SAMPLE_SECONDS:
            return time.monotonic() - started
        previous = current
    logger.warning("Server %d still busy after %.0f s; starting the next step anyway", pid, QUIET_TIMEOUT_SECONDS)
    return time.monotonic() - started


async def run_stream_step(
    endpoint: StreamEndpoint,
    streams: int,
    audio: AudioLoop,
    server_pid: int,
    idle_rss_bytes: int,
    timing: StepTiming,
    *,
    record_transcripts: bool = False,
    seed: int = 0,
) -> dict:
    """Open ``streams`` streams, measure one window of real-time load and close them; return the figures."""
    window = MeasurementWindow()
    stop_sending = asyncio.Event()
    connect_slots = asyncio.Semaphore(CONNECT_CONCURRENCY)
    phases = random.Random(seed)
    clients = [
        StreamClient(index, endpoint, audio, window, stop_sending, record_transcripts=record_transcripts)
        for index in range(streams)
    ]
    loop = asyncio.get_running_loop()

    connect_started = loop.time()
    tasks = [
        loop.create_task(
            client.run(connect_slots, client.index / CONNECT_RATE_PER_SECOND, phases.uniform(0.0, FRAME_SECONDS))
        )
        for client in clients
    ]
    connect_timeout = streams / CONNECT_RATE_PER_SECOND + CONNECT_PHASE_TIMEOUT_SECONDS
    try:
        await asyncio.wait_for(
            asyncio.gather(*(client.finished_connecting.wait() for client in clients)), connect_timeout
        )
    except asyncio.TimeoutError:
        logger.warning("%s: not every stream connected within %.0f s", endpoint.name, connect_timeout)
    connect_seconds = loop.time() - connect_started

    await asyncio.sleep(timing.warmup_seconds)
    server_before = sample_process(server_pid)
    own_before = os.times()
    window.start = loop.time()
    window.open = True
    await asyncio.sleep(timing.window_seconds)
    window.open = False
    window.end = loop.time()
    server_after = sample_process(server_pid)
    own_after = os.times()

    await asyncio.sleep(timing.tail_seconds)
    stop_sending.set()
    await _wait_for_acks(clients, timing.grace_seconds)
    await _close_all(clients)
    await asyncio.wait(tasks, timeout=connect_timeout)
    for task in tasks:
        task.cancel()

    result = summarize_step(
        endpoint.name, clients, window, connect_seconds, server_before.cpu_seconds,
        server_after.cpu_seconds, server_after.rss_bytes, idle_rss_bytes,
        (own_after.user + own_after.system) - (own_before.user + own_before.system),
    )
    if record_transcripts:
        result["transcripts"] = summarize_transcripts(clients)
    return result


async def _wait_for_acks(clients: list[StreamClient], grace_seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + grace_seconds
    while asyncio.get_running_loop().time() < deadline:
        if not any(client.unacked_in_window() for client in clients if client.failure is None):
            return
        await asyncio.sleep(0.05)


async def _close_all(clients: list[StreamClient]) -> None:
    slots = asyncio.Semaphore(CLOSE_CONCURRENCY)

    async def close(client: StreamClient) -> None:
        async with slots:
            await client.close()

    await asyncio.gather(*(close(client) for client in clients))


def summarize_step(
    name: str,
    clients: list[StreamClient],
    window: MeasurementWindow,
    connect_seconds: float,
    server_cpu_before: float,
    server_cpu_after: float,
    server_rss_bytes: int,
    idle_rss_bytes: int,
    own_cpu_seconds: float,
) -> dict:
    streams = len(clients)
    window_seconds = window.end - window.start
    latencies = [latency for client in clients for latency in client.latencies]
    unacked = sum(client.unacked_in_window() for client in clients)
    frames = sum(client.frames_in_window for client in clients)
    send_lags = sorted(lag for client in clients for lag in client.send_lags)
    failures = Counter(client.failure for client in clients if client.failure)
    errors = sum((client.errors for client in clients), Counter())
    warnings = sum((client.warnings for client in clients), Counter())
    server_cpu = server_cpu_after - server_cpu_before
    ack = latency_summary(latencies, missing=unacked)
    passed = (
        not failures
        and not errors
        and ack["p99_ms"] is not None
        and ack["p99_ms"] < P99_ACK_LIMIT_SECONDS * 1000
    )
    p99_lag = percentile(send_lags, 0.99)
    return {
        "variant": name,
        "streams": streams,
        "passed": passed,
        "connect_seconds": round(connect_seconds, 2),
        "window_seconds": round(window_seconds, 2),
        "frames_sent": frames,
        "frames_unacked": unacked,
        "ack_latency": ack,
        "failed_streams": sum(failures.values()),
        "failures": dict(failures.most_common(MAX_REPORTED_FAILURES)),
        "errors": dict(errors),
        "warnings": dict(warnings),
        "server_cpu_seconds": round(server_cpu, 3),
        "server_cpu_fraction": round(server_cpu / window_seconds, 3),
        "server_cpu_seconds_per_stream_minute": round(server_cpu / (streams * window_seconds / 60), 4),
        "server_cpu_us_per_frame": round(server_cpu / frames * 1e6, 1) if frames else None,
        "server_rss_mib": round(server_rss_bytes / 2**20, 1),
        "rss_per_stream_kib": round((server_rss_bytes - idle_rss_bytes) / streams / 1024, 1),
        "load_generator_cpu_fraction": round(own_cpu_seconds / window_seconds, 3),
        "send_lag_p99_ms": round(p99_lag * 1000, 2) if p99_lag is not None else None,
    }


def summarize_transcripts(clients: list[StreamClient]) -> dict:
    """Return how late final transcripts arrived after their audio was sent."""
    lags = [lag for client in clients for lag in client.final_lags()]
    return {
        "finals": sum(len(client.finals) for client in clients),
        "final_lag": latency_summary(lags),
        "lagging_warnings": sum(client.warnings["transcription_lagging"] for client in clients),
    }
