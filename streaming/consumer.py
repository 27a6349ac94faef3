"""The audio WebSocket: record every byte, transcribe it and send transcripts back."""

from __future__ import annotations

import asyncio
import logging
import time

from config.database import database_async
from channels.generic.websocket import AsyncWebsocketConsumer

from streaming import conf, sessions, shutdown
from streaming.audio.format import SampleAligner
from streaming.engines.base import TranscriptResult
from streaming.engines.none import NullEngine
from streaming.engines.registry import get_engine_class
from streaming.limits import RealTimeRateLimit
from streaming.models import StreamSession
from streaming.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_SERVICE_RESTART,
    CLOSE_TAKEN_OVER,
    CLOSE_TIMEOUT,
    CLOSE_TOO_LARGE,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    StreamError,
    encode,
    error_message,
    parse_control,
)
from streaming.recorder import RecordingPipe, run_io
from streaming.stream_setup import OpenedStream, open_new, open_resumed, query_params, read_stored_audio
from streaming.token_watch import TokenWatchMixin
from streaming.transcriber import (
    Transcriber,
    acquire_engine_slot,
    engine_executor,
    release_engine_slot,
)

logger = logging.getLogger(__name__)

# Each open stream wakes this often to check its idle timeout and heartbeat.
WATCHDOG_INTERVAL_SECONDS = 1.0
# How long a stream waits for the recording to catch up before it gives up.
STORAGE_STALL_SECONDS = 10.0
SERVER_RESTARTING = StreamError(
    "server_restarting",
    "the server is restarting; reconnect with stream_id to resume",
    CLOSE_SERVICE_RESTART,
)


class AudioStreamConsumer(TokenWatchMixin, AsyncWebsocketConsumer):
    """One client's audio stream.

    Binary frames are recorded through a RecordingPipe and acknowledged once
    stored; stored audio then goes to the speech engine. Audio never crosses
    the channel layer: only control events (revocation, takeover) do.
    """

    stream: OpenedStream | None = None
    ending = False
    engine_slot = False
    startup_warning: tuple[str, str] | None = None

    async def dispatch(self, message):
        # Channels closes stale database connections (a thread hop) before every
        # handler. Audio frames touch no database, so they skip that hop, which
        # is about half of Channels' per-frame cost. Every database call here
        # goes through database_async, which closes connections itself.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    # Connection lifecycle

    async def connect(self):
        self.user = self.scope.get("user")
        self.subprotocol = self.scope.get("subprotocol")
        if self.user is None or self.scope.get("token") is None:
            await self.reject(StreamError("token_missing", "authenticate first", CLOSE_UNAUTHORIZED))
            return
        if shutdown.shutting_down():
            await self.reject(SERVER_RESTARTING)
            return
        params = query_params(self.scope)
        try:
            if params.get("stream_id"):
                self.stream = await open_resumed(
                    self.user, params["stream_id"], params, self.channel_name, self.channel_layer
                )
            else:
                self.stream = await open_new(self.user, params, self.channel_name)
        except StreamError as error:
            logger.info("Stream rejected for user %s: %s", self.user.pk, error.code)
            await self.reject(error)
            return
        await self.accept(subprotocol=self.subprotocol)
        await self.start_stream()

    async def reject(self, error: StreamError) -> None:
        self.ending = True
        await self.accept(subprotocol=self.subprotocol)
        await self.send(text_data=error_message(error.code, error.message))
        await self.close(error.close_code)

    async def start_stream(self) -> None:
        stream = self.stream
        limits = conf.stream_limits()
        fmt = stream.audio_format
        self.limits = limits
        self.stream_id = str(stream.session.id)
        self.aligner = SampleAligner(fmt.frame_size)
        self.received_bytes = stream.writer.bytes_stored
        self.max_frame_bytes = max(fmt.frame_size, int(limits.max_frame_seconds * fmt.bytes_per_second))
        self.max_stream_bytes = int(limits.max_duration_seconds * fmt.bytes_per_second)
        self.quota_bytes = await self.remaining_quota_bytes()
        # Fixed for the connection, so the frame path only compares numbers.
        self.byte_limit, self.byte_limit_error = self.stream_byte_limit()
        started = time.monotonic() - (time.time() - stream.session.started_at.timestamp())
        self.rate_limit = RealTimeRateLimit(
            fmt.bytes_per_second, limits.rate_limit_factor, limits.rate_burst_seconds, started
        )
        self.last_activity = time.monotonic()
        self.final_index = 0
        self.provisional_results = False
        self.results: asyncio.Queue[tuple[TranscriptResult, bool]] = asyncio.Queue()

        self.pipe = RecordingPipe(
            stream.writer, self.on_stored, int(limits.write_backlog_seconds * fmt.bytes_per_second)
        )
        self.pipe.start()
        self.transcriber = await self.start_transcriber()
        self.result_task = asyncio.get_running_loop().create_task(self.send_results())
        self.watchdog_task = asyncio.get_running_loop().create_task(self.watchdog())
        await self.start_token_watch()
        shutdown.register(self)

        await self.send_json_message(
            "Ready",
            stream_id=self.stream_id,
            resumed=stream.resumed,
            bytes=stream.writer.bytes_stored,
            config={
                "language": stream.language,
                "encoding": fmt.encoding,
                "sample_rate": fmt.sample_rate,
                "channels": fmt.channels,
                "engine": stream.session.engine,
            },
        )
        if self.startup_warning is not None:
            code, message = self.startup_warning
            await self.send_json_message("Warning", code=code, message=message)

    async def remaining_quota_bytes(self) -> int | None:
        quota = sessions.quota_seconds(self.user, self.limits.monthly_quota_seconds)
        if quota is None:
            return None
        used = await database_async(sessions.monthly_usage_seconds)(self.user)
        counted = self.stream.session.usage_counted_seconds
        stored = self.stream.audio_format.seconds(self.received_bytes)
        # Usage already includes what this stream counted; its uncounted part is still due.
        remaining = quota - used - max(0.0, stored - counted)
        return self.received_bytes + max(0, int(remaining * self.stream.audio_format.bytes_per_second))

    async def start_transcriber(self) -> Transcriber | None:
        stream = self.stream
        engine_class = get_engine_class(stream.session.engine)
        if engine_class is NullEngine:
            # It never delivers a result, so feeding it would only cost a thread hop per Ack.
            return None
        if not acquire_engine_slot(conf.engine_max_streams()):
            logger.warning("Stream %s recorded without transcription: engine limit reached", self.stream_id)
            # Sent after Ready, which must be the first message.
            self.startup_warning = (
                "transcription_unavailable",
                "this server is transcribing as many streams as it can; this stream "
                "is recorded without live transcripts",
            )
            return None
        self.engine_slot = True
        transcriber = Transcriber(
            engine_class(stream.audio_format, stream.language),
            engine_executor(conf.engine_workers()),
            stream.audio_format.bytes_per_second,
            int(self.limits.engine_backlog_seconds * stream.audio_format.bytes_per_second),
            on_result=lambda result, replayed: self.results.put_nowait((result, replayed)),
            on_skip=self.on_transcription_skipped,
            on_failure=self.on_transcription_failed,
        )
        replay = None
        stored = stream.writer.bytes_stored
        if stream.resumed and stored and stream.session.engine != "none":
            def replay():
                return read_stored_audio(self.stream_id, stored)
        try:
            await transcriber.start(replay)
        except Exception as exc:  # noqa: BLE001  (recording goes on without transcripts)
            logger.exception("Stream %s: speech engine did not start", self.stream_id)
            self.on_transcription_failed(exc)
            self.engine_slot = False
            release_engine_slot()
            return None
        return transcriber

    async def disconnect(self, code):
        if self.stream is None:
            return
        await self.end_stream(
            StreamSession.Status.INTERRUPTED, code, "client_disconnected", notify=False
        )

    # Client frames

    async def receive(self, text_data=None, bytes_data=None):
        if self.ending or self.stream is None:
            return
        if text_data is not None:
            await self.receive_control(text_data)
        else:
            await self.receive_audio(bytes_data)

    async def receive_audio(self, frame: bytes) -> None:
        if not frame:
            await self.send_error("empty_frame", "binary frames must contain audio; send KeepAlive to keep an idle stream open")
            return
        if len(frame) > self.max_frame_bytes:
            await self.fail(StreamError(
                "frame_too_large",
                f"a frame of {len(frame)} bytes exceeds the maximum of {self.max_frame_bytes} "
                f"bytes ({self.limits.max_frame_seconds:g} s of audio); send smaller frames",
                CLOSE_TOO_LARGE,
            ))
            return
        self.last_activity = time.monotonic()
        if not self.rate_limit.allows(self.received_bytes + len(frame)):
            await self.fail(StreamError(
                "rate_limited",
                f"audio arrives faster than {self.limits.rate_limit_factor:g} times real time; "
                "send audio at the pace it is captured",
                CLOSE_TOO_MANY,
            ))
            return

        limit, limit_error = self.byte_limit, self.byte_limit_error
        frame = frame[: max(0, limit - self.received_bytes - len(self.aligner.pending))]
        data = self.aligner.push(frame)
        self.received_bytes += len(data)
        try:
            if data:
                self.pipe.put(data)
            if self.pipe.is_full:
                await self.pipe.wait_for_room(STORAGE_STALL_SECONDS)
        except StreamError as error:
            await self.fail(error)
            return
        if limit_error is not None and self.received_bytes >= limit:
            await self.end_stream(
                StreamSession.Status.COMPLETED, limit_error.close_code, limit_error.code,
                error=limit_error, summary=True,
            )

    def stream_byte_limit(self) -> tuple[int, StreamError | None]:
        """Return the stream's byte limit and the error to send on reaching it."""
        limit, error = self.max_stream_bytes, StreamError(
            "max_duration",
            f"the stream reached its maximum duration of {self.limits.max_duration_seconds:g} s; "
            "start a new stream to continue",
            CLOSE_TIMEOUT,
        )
        if self.quota_bytes is not None and self.quota_bytes < limit:
            limit, error = self.quota_bytes, StreamError(
                "quota_exceeded",
                "this account reached its monthly audio quota; "
                "the quota resets on the first day of next month (UTC)",
                CLOSE_TOO_MANY,
            )
        return limit, error

    async def receive_control(self, text: str) -> None:
        try:
            message = parse_control(text)
        except StreamError as error:
            await self.send_error(error.code, error.message)
            return
        kind = message["type"]
        self.last_activity = time.monotonic()
        if kind == "Finalize" and self.transcriber is not None:
            self.transcriber.finalize()
        elif kind == "CloseStream":
            await self.end_stream(
                StreamSession.Status.COMPLETED, CLOSE_NORMAL, "client_closed", summary=True
            )
        elif kind == "Authorize":
            await self.handle_authorize(message)

    # Stored audio and results

    async def on_stored(self, data: bytes, bytes_stored: int) -> None:
        # Sending fails when the client has gone; the audio is stored regardless.
        await self.send_json_message("Ack", bytes=bytes_stored)
        if self.transcriber is not None:
            self.transcriber.feed(data)

    async def send_results(self) -> None:
        while True:
            result, replayed = await self.results.get()
            try:
                await self.deliver_result(result, replayed)
            except Exception:  # noqa: BLE001  (a lost result must not stop the others)
                logger.exception("Stream %s: transcript result not delivered", self.stream_id)
            finally:
                self.results.task_done()

    async def deliver_result(self, result: TranscriptResult, replayed: bool) -> None:
        """Store a final result and send it, unless the client already has it.

        Results of a replay are not sent again. Results flushed while an
        interrupted stream ends are stored as provisional and not sent: the
        client resumes and then receives the whole utterance.
        """
        if result.is_final:
            index = self.final_index
            self.final_index += 1
            if index < self.stream.delivered_finals:
                return
            await database_async(sessions.add_segment)(
                self.stream.session.id, index, result, self.provisional_results
            )
        if replayed or self.provisional_results:
            return
        await self.send_json_message(
            "Transcript",
            is_final=result.is_final,
            text=result.text,
            confidence=round(result.confidence, 4),
            start=round(result.start, 3),
            end=round(result.end, 3),
        )

    def on_transcription_skipped(self, seconds: float) -> None:
        asyncio.get_running_loop().create_task(self.send_json_message(
            "Warning",
            code="transcription_lagging",
            message=f"the speech engine fell behind; {seconds:.1f} s of audio were recorded "
            "but not transcribed",
        ))

    def on_transcription_failed(self, exc: BaseException) -> None:
        asyncio.get_running_loop().create_task(self.send_error(
            "transcription_failed",
            "transcription stopped for this stream; the audio is still recorded",
        ))

    # Timers and server-side events

    async def watchdog(self) -> None:
        next_heartbeat = time.monotonic() + self.limits.heartbeat_seconds
        while not self.ending:
            await asyncio.sleep(WATCHDOG_INTERVAL_SECONDS)
            now = time.monotonic()
            if now - self.last_activity > self.limits.idle_timeout_seconds:
                asyncio.get_running_loop().create_task(self.fail(StreamError(
                    "idle_timeout",
                    f"no audio and no KeepAlive for {self.limits.idle_timeout_seconds:g} s; "
                    "send KeepAlive while muted",
                    CLOSE_TIMEOUT,
                )))
                return
            if now >= next_heartbeat:
                next_heartbeat = now + self.limits.heartbeat_seconds
                await self.save_progress()

    async def save_progress(self) -> None:
        stored = self.pipe.bytes_stored
        try:
            await database_async(sessions.record_progress)(
                self.stream.session.id, stored, self.stream.audio_format.seconds(stored)
            )
        except Exception:  # noqa: BLE001  (the next heartbeat retries)
            logger.exception("Stream %s: progress not saved", self.stream_id)

    async def stream_takeover(self, event) -> None:
        await self.end_stream(
            StreamSession.Status.INTERRUPTED, CLOSE_TAKEN_OVER, "taken_over",
            error=StreamError(
                "stream_taken_over", "a newer connection resumed this stream", CLOSE_TAKEN_OVER
            ),
        )

    async def server_shutdown(self) -> None:
        await self.end_stream(
            StreamSession.Status.INTERRUPTED, CLOSE_SERVICE_RESTART, "server_restarting",
            error=SERVER_RESTARTING,
        )

    # Ending

    async def fail(self, error: StreamError) -> None:
        """End the stream after a limit or error; the client may resume unless the stream is used up."""
        used_up = error.code in ("max_duration", "quota_exceeded", "rate_limited")
        await self.end_stream(
            StreamSession.Status.COMPLETED if used_up else StreamSession.Status.INTERRUPTED,
            error.close_code or CLOSE_INTERNAL_ERROR,
            error.code,
            error=error,
            summary=error.code in ("max_duration", "quota_exceeded"),
        )

    async def close_for_auth(self, code: int) -> None:
        await self.end_stream(StreamSession.Status.INTERRUPTED, code, "token_rejected")

    async def end_stream(
        self,
        status: str,
        close_code: int,
        reason: str,
        *,
        error: StreamError | None = None,
        summary: bool = False,
        notify: bool = True,
    ) -> None:
        """Store everything received, flush the engine, record the outcome and close.

        Runs once per connection, whichever event ends it first.
        """
        if self.ending:
            return
        self.ending = True
        if error is not None and notify:
            await self.send_error(error.code, error.message)
        await self.pipe.drain()
        if self.aligner.pending:
            logger.info("Stream %s: dropped %d bytes of a partial sample", self.stream_id, len(self.aligner.pending))
        if self.transcriber is not None:
            self.provisional_results = status == StreamSession.Status.INTERRUPTED
            await self.transcriber.close(discard_pending=self.provisional_results)
        if self.engine_slot:
            self.engine_slot = False
            release_engine_slot()
        await self.results.join()
        self.result_task.cancel()
        self.watchdog_task.cancel()
        await self.save_progress()
        session = await database_async(sessions.finish)(
            self.stream.session.id, status, close_code, reason, self.channel_name
        )
        await run_io(self.stream.writer.close)
        await self.stop_token_watch()
        shutdown.unregister(self)
        logger.info(
            "Stream %s ended (%s, code %s, %d bytes)", self.stream_id, reason, close_code,
            self.pipe.bytes_stored,
        )
        if summary and notify:
            await self.send_json_message(
                "Summary",
                stream_id=self.stream_id,
                audio_seconds=round(self.stream.audio_format.seconds(self.pipe.bytes_stored), 3),
                bytes=self.pipe.bytes_stored,
                transcript=session.transcript,
            )
        if notify:
            await self.safe_close(close_code)

    # Sending, tolerant of a client that has gone

    async def send_json_message(self, message_type: str, **fields) -> None:
        await self.safe_send(encode(message_type, **fields))

    async def send_error(self, code: str, message: str) -> None:
        await self.safe_send(error_message(code, message))

    async def safe_send(self, text: str) -> None:
        try:
            await self.send(text_data=text)
        except Exception:  # noqa: BLE001  (daphne raises once the client has closed)
            logger.debug("Stream %s: send after the client closed", getattr(self, "stream_id", "-"))

    async def safe_close(self, code: int) -> None:
        try:
            await self.close(code)
        except Exception:  # noqa: BLE001  (already closed)
            pass
