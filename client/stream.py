"""Stream a WAV file to the audio WebSocket, resuming after dropped connections."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import websockets
from websockets.exceptions import ConnectionClosed, InvalidMessage

from streaming.audio.format import AudioFormat

logger = logging.getLogger(__name__)

FRAME_SECONDS = 0.1
# Close codes after which the same stream can be resumed on a new connection.
RESUMABLE_CLOSE_CODES = {1001, 1006, 1011, 1012, 1013, 4409}


# Handshake errors after which the same stream can be tried again shortly.
RETRYABLE_ERROR_CODES = {"server_restarting", "stream_busy", "auth_unavailable"}


class StreamFailed(Exception):
    """The server ended the stream with an error that resuming cannot fix."""


class RetryableRejection(Exception):
    """The server turned the connection away for now (restarting, busy or unavailable)."""


@dataclass
class StreamOutcome:
    stream_id: str
    summary: dict
    finals: list[dict] = field(default_factory=list)
    reconnects: int = 0


@dataclass
class AudioStreamClient:
    """Send ``audio`` (raw samples in ``audio_format``) at ``speed`` times real time."""

    url: str
    token: str
    audio: bytes
    audio_format: AudioFormat
    language: str = "en"
    speed: float = 1.0
    max_reconnects: int = 5
    on_message: Callable[[dict], None] = lambda message: None
    stream_id: str | None = None
    # Test hook: called with the byte offset of each frame before it is sent.
    before_frame: Callable[[int], None] | None = None
    finals: list[dict] = field(default_factory=list)
    socket: object | None = None

    def connect_url(self) -> str:
        params = {
            "language": self.language,
            "encoding": self.audio_format.encoding,
            "sample_rate": self.audio_format.sample_rate,
            "channels": self.audio_format.channels,
        }
        if self.stream_id:
            params["stream_id"] = self.stream_id
        return f"{self.url.rstrip('/')}/ws/audio/?{urlencode(params)}"

    async def run(self) -> StreamOutcome:
        reconnects = 0
        while True:
            try:
                summary = await self._one_connection()
                return StreamOutcome(self.stream_id or "", summary, self.finals, reconnects)
            except (
                ConnectionClosed, InvalidMessage, OSError, asyncio.TimeoutError, RetryableRejection
            ) as exc:
                code = getattr(getattr(exc, "rcvd", None), "code", 1006)
                retryable = isinstance(exc, RetryableRejection) or code in RESUMABLE_CLOSE_CODES
                if self.stream_id is None or not retryable:
                    raise
                if reconnects >= self.max_reconnects:
                    raise StreamFailed(f"gave up after {reconnects} reconnects") from exc
                reconnects += 1
                logger.warning("Connection lost (code %s); resuming stream %s", code, self.stream_id)
                # Back off 0.2 s, 0.4 s, ... up to 5 s: a restarting server needs a few seconds.
                await asyncio.sleep(min(5.0, 0.2 * 2 ** (reconnects - 1)))

    async def _one_connection(self) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with websockets.connect(
            self.connect_url(), additional_headers=headers, max_size=2**22, open_timeout=20
        ) as socket:
            self.socket = socket
            ready = await self._expect_ready(socket)
            offset = ready["bytes"]
            sender = asyncio.create_task(self._send_audio(socket, offset))
            try:
                return await self._receive(socket)
            finally:
                sender.cancel()

    async def _expect_ready(self, socket) -> dict:
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
        self.on_message(message)
        if message.get("type") != "Ready":
            description = f"{message.get('code')}: {message.get('message')}"
            if message.get("code") in RETRYABLE_ERROR_CODES:
                raise RetryableRejection(description)
            raise StreamFailed(description)
        self.stream_id = message["stream_id"]
        return message

    async def _send_audio(self, socket, offset: int) -> None:
        frame_bytes = int(self.audio_format.bytes_per_second * FRAME_SECONDS)
        frame_bytes -= frame_bytes % self.audio_format.frame_size
        delay = FRAME_SECONDS / self.speed if self.speed > 0 else 0.0
        loop = asyncio.get_running_loop()
        next_send = loop.time()
        for start in range(offset, len(self.audio), frame_bytes):
            if self.before_frame is not None:
                self.before_frame(start)
            await socket.send(self.audio[start : start + frame_bytes])
            if delay:
                next_send += delay
                await asyncio.sleep(max(0.0, next_send - loop.time()))
        await socket.send(json.dumps({"type": "CloseStream"}))

    async def _receive(self, socket) -> dict:
        summary: dict | None = None
        async for raw in socket:
            message = json.loads(raw)
            self.on_message(message)
            kind = message.get("type")
            if kind == "Transcript" and message.get("is_final"):
                self.finals.append(message)
            elif kind == "Summary":
                summary = message
            elif kind == "Error" and message.get("code") not in ("server_restarting", "stream_taken_over"):
                logger.error("Server error %s: %s", message.get("code"), message.get("message"))
        if summary is not None:
            return summary
        # The iterator ends quietly on a normal close; anything else is a drop.
        raise ConnectionClosed(socket.close_rcvd, socket.close_sent)


def download_url(base_url: str, stream_id: str) -> str:
    http_url = base_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
    return f"{http_url.rstrip('/')}/api/streams/{stream_id}/recording"

