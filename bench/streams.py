"""Concurrent real-time audio streams and the latency of their Acks.

Each stream sends one 100 ms frame every 100 ms on its own schedule, with
starts staggered over the frame period. A frame's Ack latency is the time
from sending it to receiving the first ``Ack`` whose ``bytes`` reaches the
byte offset at the end of that frame, since one Ack may cover several frames.
Only frames sent inside the measurement window count; a frame still without
its Ack when the stream stops counts as infinitely late.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.audio import FRAME_SECONDS, AudioLoop

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class StreamEndpoint:
    """The URL streams connect to, and whether it needs a token and sends Ready first (the product does)."""

    name: str
    url: str
    token_for: Callable[[int], str] | None = None
    expects_ready: bool = True

    def headers(self, index: int) -> dict[str, str]:
        if self.token_for is None:
            return {}
        return {"Authorization": f"Bearer {self.token_for(index)}"}


class MeasurementWindow:
    """Whether a frame sent now is inside the measurement window."""

    def __init__(self) -> None:
        self.open = False
        self.start = 0.0
        self.end = 0.0


@dataclass
class StreamClient:
    """One stream: connects, sends frames at real-time pace and matches Acks to frames."""

    index: int
    endpoint: StreamEndpoint
    audio: AudioLoop
    window: MeasurementWindow
    stop_sending: asyncio.Event
    record_transcripts: bool = False
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    finished_connecting: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None
    closing: bool = False
    socket: ClientConnection | None = None
    # (byte offset at the end of the frame, monotonic send time, inside the window)
    pending: deque = field(default_factory=deque)
    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)
    frames_in_window: int = 0
    # Send time of every frame, by frame number, kept only to place transcripts on the clock.
    frame_send_times: list[float] = field(default_factory=list)
    # (monotonic receive time, Transcript.end in stream seconds)
    finals: list[tuple[float, float]] = field(default_factory=list)
    warnings: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    async def run(self, connect_slots: asyncio.Semaphore, start_delay: float, phase: float) -> None:
        await asyncio.sleep(start_delay)
        try:
            async with connect_slots:
                await self._connect()
        except (OSError, asyncio.TimeoutError, InvalidHandshake, ConnectionClosed, ValueError) as exc:
            self.failure = f"connect failed: {type(exc).__name__}"
            return
        finally:
            self.finished_connecting.set()
        if self.failure is not None:
            return
        self.connected.set()

        receiver = asyncio.get_running_loop().create_task(self._receive())
        try:
            await self._send(phase)
        except ConnectionClosed:
            pass
        await receiver

    async def _connect(self) -> None:
        self.socket = await connect(
            self.endpoint.url,
            additional_headers=self.endpoint.headers(self.index),
            open_timeout=CONNECT_TIMEOUT_SECONDS,
            close_timeout=CLOSE_TIMEOUT_SECONDS,
            ping_interval=None,
            compression=None,
            max_size=2**20,
        )
        if not self.endpoint.expects_ready:
            return
        first = json.loads(await asyncio.wait_for(self.socket.recv(), CONNECT_TIMEOUT_SECONDS))
        if first.get("type") != "Ready":
            self.failure = f"rejected: {first.get('code', first.get('type'))}"
            await self.socket.close()

    async def _send(self, phase: float) -> None:
        loop = asyncio.get_running_loop()
        socket = self.socket
        next_send = loop.time() + phase
        offset = 0
        frame_number = 0
        while not self.stop_sending.is_set():
            delay = next_send - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stop_sending.is_set():
                return
            frame = self.audio.frame(self.index, frame_number)
            offset += len(frame)
            now = loop.time()
            in_window = self.window.open
            self.pending.append((offset, now, in_window))
            if self.record_transcripts:
                self.frame_send_times.append(now)
            if in_window:
                self.frames_in_window += 1
                self.send_lags.append(now - next_send)
            await socket.send(frame)
            frame_number += 1
            next_send += FRAME_SECONDS

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for raw in self.socket:
                received_at = loop.time()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "Ack":
                    self._match_ack(message["bytes"], received_at)
                elif kind == "Transcript" and message.get("is_final") and self.record_transcripts:
                    self.finals.append((received_at, float(message["end"])))
                elif kind == "Warning":
                    self.warnings[message.get("code", "?")] += 1
                elif kind == "Error":
                    self.errors[message.get("code", "?")] += 1
        except ConnectionClosed:
            pass
        if not self.closing and self.failure is None:
            self.failure = f"closed by the server ({self.socket.close_code})"

    def _match_ack(self, acked_bytes: int, received_at: float) -> None:
        pending = self.pending
        while pending and pending[0][0] <= acked_bytes:
            _, sent_at, in_window = pending.popleft()
            if in_window:
                self.latencies.append(received_at - sent_at)

    def unacked_in_window(self) -> int:
        return sum(1 for _, _, in_window in self.pending if in_window)

    def final_lags(self) -> list[float]:
        """Return, for finals that end inside the window, the time from sending that audio to receiving the final."""
        lags = []
        for received_at, end_seconds in self.finals:
            # The frame that carries the final's last sample; the epsilon absorbs rounding of "end".
            frame_number = max(0, math.ceil(end_seconds / FRAME_SECONDS - 1e-6) - 1)
            if frame_number >= len(self.frame_send_times):
                continue
            sent_at = self.frame_send_times[frame_number]
            if self.window.start <= sent_at < self.window.end:
                lags.append(received_at - sent_at)
        return lags

    async def close(self) -> None:
        self.closing = True
        if self.socket is not None:
            try:
                await self.socket.close()
            except (OSError, ConnectionClosed):
                pass
