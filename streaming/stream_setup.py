"""Open a new or resumed stream at the handshake: parameters, limits, recording and engine."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from config.database import database_async

from streaming import conf, sessions
from streaming.audio.format import AudioFormat, AudioFormatError, parse_audio_format
from streaming.audio.wav import parse_header
from streaming.engines.registry import get_engine_class
from streaming.models import StreamSession
from streaming.protocol import CLOSE_BAD_REQUEST, CLOSE_TOO_MANY, CLOSE_TRY_AGAIN_LATER, StreamError
from streaming.recorder import run_io
from streaming.recording import get_recording_storage
from streaming.recording.base import RecordingBusyError, RecordingWriter

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"
# daphne drops a WebSocket that is not accepted within 5 s (--websocket_connect_timeout),
# so waiting for an older connection to let go must end well before that.
TAKEOVER_WAIT_SECONDS = 3.0
REPLAY_CHUNK_BYTES = 64 * 1024


@dataclass
class OpenedStream:
    session: StreamSession
    audio_format: AudioFormat
    language: str
    writer: RecordingWriter
    resumed: bool
    # Final transcript results the client already has; a resumed stream's
    # replay suppresses that many.
    delivered_finals: int = 0


def query_params(scope) -> dict[str, str]:
    raw = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {name: values[-1] for name, values in raw.items()}


def invalid_parameter(message: str) -> StreamError:
    return StreamError("invalid_parameter", message, CLOSE_BAD_REQUEST)


def check_language(params: dict[str, str], engine_name: str) -> str:
    language = params.get("language", DEFAULT_LANGUAGE)
    engine_class = get_engine_class(engine_name)
    if not engine_class.supports_language(language):
        allowed = ", ".join(engine_class.languages)
        raise invalid_parameter(
            f"language {language[:20]!r} is not supported by the {engine_name} engine: "
            f"use one of {allowed}"
        )
    return language


def parse_format(params: dict[str, str]) -> AudioFormat:
    try:
        return parse_audio_format(params)
    except AudioFormatError as exc:
        raise invalid_parameter(str(exc)) from None


async def open_new(user, params: dict[str, str], owner: str) -> OpenedStream:
    limits = conf.stream_limits()
    engine_name = conf.engine_name()
    language = check_language(params, engine_name)
    audio_format = parse_format(params)

    live = await database_async(sessions.count_live_streams)(
        user, stale_after_seconds=3 * limits.heartbeat_seconds
    )
    if live >= limits.max_concurrent_per_user:
        raise StreamError(
            "too_many_streams",
            f"{live} streams are open for this account and the limit is "
            f"{limits.max_concurrent_per_user}; close one (CloseStream) before opening another",
            CLOSE_TOO_MANY,
        )
    await check_quota(user, limits.monthly_quota_seconds)

    session = await database_async(sessions.create_session)(
        user, audio_format, language, engine_name, owner
    )
    storage = get_recording_storage()
    writer = await run_io(storage.create, str(session.id), audio_format)
    logger.info("Stream %s opened by user %s (%s)", session.id, user.pk, audio_format.describe())
    return OpenedStream(session, audio_format, language, writer, resumed=False)


async def check_quota(user, default_quota: int) -> None:
    quota = sessions.quota_seconds(user, default_quota)
    if quota is None:
        return
    used = await database_async(sessions.monthly_usage_seconds)(user)
    if used >= quota:
        raise StreamError(
            "quota_exceeded",
            f"this account has used {used:.0f} of its {quota} audio seconds this month; "
            "the quota resets on the first day of next month (UTC)",
            CLOSE_TOO_MANY,
        )


async def open_resumed(user, stream_id: str, params: dict[str, str], owner: str, channel_layer) -> OpenedStream:
    limits = conf.stream_limits()
    session = await database_async(sessions.find_resumable)(
        user, stream_id, limits.resume_window_seconds
    )
    audio_format = AudioFormat(session.encoding, session.sample_rate, session.channels)
    check_same_format(params, session, audio_format)
    await check_quota(user, limits.monthly_quota_seconds)

    await take_over(session, owner, channel_layer)
    delivered = await database_async(sessions.final_segment_count)(session.id)
    try:
        writer = await open_for_append(str(session.id), audio_format)
    except StreamError as error:
        # Let go of the claim so that the next attempt need not wait for this connection.
        await database_async(sessions.finish)(
            session.id, StreamSession.Status.INTERRUPTED, error.close_code, error.code, owner
        )
        raise
    logger.info(
        "Stream %s resumed by user %s at %d bytes", session.id, user.pk, writer.bytes_stored
    )
    return OpenedStream(
        session, audio_format, session.language, writer, resumed=True, delivered_finals=delivered
    )


def check_same_format(params: dict[str, str], session: StreamSession, audio_format: AudioFormat) -> None:
    declared = {
        "encoding": audio_format.encoding,
        "sample_rate": str(audio_format.sample_rate),
        "channels": str(audio_format.channels),
        "language": session.language,
    }
    for name, stored in declared.items():
        if name in params and params[name] != stored:
            raise invalid_parameter(
                f"{name} {params[name][:20]!r} differs from the stream's {stored!r}; "
                "resume with the parameters the stream started with, or omit them"
            )


async def take_over(session: StreamSession, owner: str, channel_layer) -> None:
    """Detach the stream from an older connection, which then closes with 4409."""
    status, old_owner = await database_async(sessions.owner_of)(session.id)
    if status == StreamSession.Status.ACTIVE and old_owner and channel_layer is not None:
        await channel_layer.send(old_owner, {"type": "stream.takeover"})
        deadline = asyncio.get_running_loop().time() + TAKEOVER_WAIT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            status, current = await database_async(sessions.owner_of)(session.id)
            if current != old_owner or status != StreamSession.Status.ACTIVE:
                break
        else:
            # The owner's process is gone (killed, or its connection is half-open
            # on a process that no longer responds): take the stream regardless.
            logger.warning("Stream %s: previous connection did not answer; taking over", session.id)
    await database_async(sessions.claim)(session.id, owner)


async def open_for_append(stream_id: str, audio_format: AudioFormat) -> RecordingWriter:
    storage = get_recording_storage()
    deadline = asyncio.get_running_loop().time() + TAKEOVER_WAIT_SECONDS
    while True:
        try:
            return await run_io(storage.open_append, stream_id, audio_format)
        except RecordingBusyError:
            if asyncio.get_running_loop().time() > deadline:
                logger.warning("Stream %s: recording still held by another connection", stream_id)
                raise StreamError(
                    "stream_busy",
                    "the previous connection of this stream has not released it yet; "
                    "retry in a few seconds",
                    CLOSE_TRY_AGAIN_LATER,
                ) from None
            await asyncio.sleep(0.1)


def read_stored_audio(stream_id: str, limit: int):
    """Yield the stored audio of a recording in chunks, up to ``limit`` bytes. Blocking."""
    storage = get_recording_storage()
    with storage.open_read(stream_id) as file:
        layout = parse_header(file)
        file.seek(layout.data_offset)
        remaining = limit
        while remaining > 0:
            chunk = file.read(min(REPLAY_CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
