"""Helpers for tests that stream audio to a live daphne with a real WebSocket client."""

from __future__ import annotations

import asyncio
import io
import json
from functools import cache
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from client.stream import AudioStreamClient, StreamOutcome
from streaming.audio.format import AudioFormat
from streaming.audio.wav import parse_header, read_wav
from streaming.engines.decode import final_text, transcribe_file
from streaming.tests import audio_file

TIMEOUT_SECONDS = 30.0


def load_audio(name: str) -> tuple[AudioFormat, bytes]:
    return read_wav(audio_file(name))


@cache
def direct_transcript(name: str) -> str:
    """Decode a recording with the engine directly (once per test run), the reference for streams."""
    return final_text(transcribe_file(audio_file(name)))


def run(coroutine, timeout: float = 120.0):
    """Run a coroutine from a synchronous test, bounded in time."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def stream_url(server, **params) -> str:
    return f"{server.ws_url}/ws/audio/?{urlencode(params)}"


def format_params(audio_format: AudioFormat) -> dict[str, str]:
    return {
        "encoding": audio_format.encoding,
        "sample_rate": str(audio_format.sample_rate),
        "channels": str(audio_format.channels),
    }


async def open_stream(server, token: str, **params) -> tuple[ClientConnection, dict]:
    """Connect and return the socket and its first message (Ready, or an Error)."""
    socket = await connect(
        stream_url(server, **params),
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=TIMEOUT_SECONDS,
        max_size=2**22,
    )
    first = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS))
    return socket, first


async def read_until_close(socket: ClientConnection) -> list[dict]:
    """Read every message until the server closes the socket."""
    messages = []
    try:
        while True:
            raw = await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
            messages.append(json.loads(raw))
    except ConnectionClosed:
        return messages


async def wait_for_message(socket: ClientConnection, message_type: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS))
        if message["type"] == message_type:
            return message


def stream_file(server, token: str, name: str, speed: float = 0.0, **kwargs) -> tuple[StreamOutcome, bytes]:
    """Stream a recording with the project's client and return the outcome and the audio sent."""
    audio_format, audio = load_audio(name)
    client = AudioStreamClient(server.ws_url, token, audio, audio_format, speed=speed, **kwargs)
    return run(client.run()), audio


def download_recording(server, token: str, stream_id: str) -> tuple[AudioFormat, bytes]:
    response = httpx.get(
        f"{server.http_url}/api/streams/{stream_id}/recording",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 200, response.text
    file = io.BytesIO(response.content)
    layout = parse_header(file)
    file.seek(layout.data_offset)
    return layout.audio_format, file.read()


def api_get(server, token: str, path: str) -> httpx.Response:
    return httpx.get(
        f"{server.http_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS
    )
