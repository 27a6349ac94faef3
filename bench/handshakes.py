"""WebSocket handshakes per second: connect, wait until the stream is open, close, repeat."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.process_stats import sample_process
from bench.statistics import latency_summary
from bench.streams import StreamEndpoint

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_SECONDS = 10.0
MAX_REPORTED_FAILURES = 5


async def _one_handshake(endpoint: StreamEndpoint, index: int) -> None:
    """Open one connection and close it; for the product, only after its Ready message."""
    socket = await connect(
        endpoint.url,
        additional_headers=endpoint.headers(index),
        open_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        close_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        ping_interval=None,
        compression=None,
    )
    try:
        if endpoint.expects_ready:
            first = json.loads(await asyncio.wait_for(socket.recv(), HANDSHAKE_TIMEOUT_SECONDS))
            if first.get("type") != "Ready":
                raise ValueError(f"rejected: {first.get('code', first.get('type'))}")
    finally:
        await socket.close()


async def measure_handshakes(
    endpoint: StreamEndpoint, server_pid: int, seconds: float, concurrency: int
) -> dict:
    """Run ``concurrency`` clients that open and close connections for ``seconds``; return the rate.

    Client ``k`` always uses stream index ``k``, so the product has at most one
    open stream per user and never reaches the per-user limit.
    """
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures: Counter = Counter()
    deadline = loop.time() + seconds

    async def client(index: int) -> None:
        while loop.time() < deadline:
            started = loop.time()
            try:
                await _one_handshake(endpoint, index)
            except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed, ValueError) as exc:
                failures[str(exc) if isinstance(exc, ValueError) else type(exc).__name__] += 1
                continue
            latencies.append(loop.time() - started)

    before = sample_process(server_pid)
    started = loop.time()
    await asyncio.gather(*(client(index) for index in range(concurrency)))
    elapsed = loop.time() - started
    after = sample_process(server_pid)
    server_cpu = after.cpu_seconds - before.cpu_seconds
    return {
        "variant": endpoint.name,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "handshakes": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "latency": latency_summary(latencies),
        "failures": dict(failures.most_common(MAX_REPORTED_FAILURES)),
        "server_cpu_fraction": round(server_cpu / elapsed, 3),
        "server_cpu_ms_per_handshake": round(server_cpu / len(latencies) * 1000, 3) if latencies else None,
    }
