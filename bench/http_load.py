"""REST requests per second over keep-alive HTTP/1.1 connections.

The client is a few lines on asyncio streams rather than an HTTP library,
so that it costs far less CPU per request than the server and the rate it
reports is the server's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from bench.process_stats import sample_process
from bench.statistics import latency_summary

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
MAX_REPORTED_FAILURES = 5


class KeepAliveClient:
    """One HTTP/1.1 connection that sends the same GET request again and again."""

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.host = host
        self.port = port
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self) -> int:
        """Send the request and return the response status, reconnecting when the server closed."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)

        status_line = await self.reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])

        content_length = 0
        chunked = False
        keep_alive = True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == "content-length":
                content_length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                keep_alive = False

        if chunked:
            await self._read_chunked_body()
        else:
            await self.reader.readexactly(content_length)
        if not keep_alive:
            await self.close()
        return status

    async def _read_chunked_body(self) -> None:
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip(), 16)
            await self.reader.readexactly(size + 2)
            if size == 0:
                return

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


async def measure_requests(
    label: str,
    port: int,
    path: str,
    headers: dict[str, str],
    server_pid: int,
    seconds: float,
    concurrency: int,
) -> dict:
    """Send GET ``path`` from ``concurrency`` keep-alive connections for ``seconds``; return the rate of 200s."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures: Counter = Counter()
    deadline = loop.time() + seconds

    async def connection() -> None:
        client = KeepAliveClient("127.0.0.1", port, path, headers)
        try:
            while loop.time() < deadline:
                started = loop.time()
                try:
                    status = await asyncio.wait_for(client.get(), REQUEST_TIMEOUT_SECONDS)
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                    failures[type(exc).__name__] += 1
                    await client.close()
                    continue
                if status != 200:
                    failures[f"HTTP {status}"] += 1
                    continue
                latencies.append(loop.time() - started)
        finally:
            await client.close()

    before = sample_process(server_pid)
    started = loop.time()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = loop.time() - started
    after = sample_process(server_pid)
    server_cpu = after.cpu_seconds - before.cpu_seconds
    return {
        "endpoint": label,
        "path": path,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "latency": latency_summary(latencies),
        "failures": dict(failures.most_common(MAX_REPORTED_FAILURES)),
        "server_cpu_fraction": round(server_cpu / elapsed, 3),
        "server_cpu_ms_per_request": round(server_cpu / len(latencies) * 1000, 3) if latencies else None,
    }
