"""Run a stream's speech engine on a bounded pool of worker threads."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from streaming.engines.base import SpeechEngine, TranscriptResult

logger = logging.getLogger(__name__)

_FINALIZE = object()
_executor: ThreadPoolExecutor | None = None


_engines_in_use = 0


def acquire_engine_slot(limit: int) -> bool:
    """Reserve one of the process's ``limit`` engine slots; call from the event loop only.

    Every pocketsphinx engine loads its own copy of the model (about 90 MB,
    measured with pocketsphinx 5.1.1), so the number of engines per process
    bounds the memory transcription takes.
    """
    global _engines_in_use
    if _engines_in_use >= limit:
        return False
    _engines_in_use += 1
    return True


def release_engine_slot() -> None:
    global _engines_in_use
    _engines_in_use = max(0, _engines_in_use - 1)


def engine_executor(workers: int) -> ThreadPoolExecutor:
    """Return the process-wide engine pool, created on first use with ``workers`` threads."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speech-engine")
    return _executor


class Transcriber:
    """Feed stored audio to one engine in order and deliver its results on the event loop.

    The backlog of audio waiting for the engine is bounded: when the engine
    falls behind by more than ``max_backlog_bytes``, the oldest waiting audio
    is skipped (it is still recorded) and ``on_skip(seconds)`` is called.
    Result times stay on the stream's clock across skips. ``on_result``
    receives each result and whether it came from replayed audio.
    """

    def __init__(
        self,
        engine: SpeechEngine,
        executor: ThreadPoolExecutor,
        bytes_per_second: int,
        max_backlog_bytes: int,
        on_result: Callable[[TranscriptResult, bool], None],
        on_skip: Callable[[float], None],
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._engine = engine
        self._executor = executor
        self._bytes_per_second = bytes_per_second
        self._max_backlog_bytes = max_backlog_bytes
        self._on_result = on_result
        self._on_skip = on_skip
        self._on_failure = on_failure
        self._queue: deque = deque()
        self._backlog_bytes = 0
        self._replaying = False
        self._fed_bytes = 0
        # (engine seconds at which a skip happened, total seconds skipped so far)
        self._skips: list[tuple[float, float]] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._discarding = False
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.failed = False

    async def start(self, replay: Callable[[], Iterable[bytes]] | None = None) -> None:
        """Start the engine, first feeding it the chunks ``replay()`` yields, if given.

        A resumed stream replays its stored audio so that the engine reaches the
        state an uninterrupted stream would have; live audio waits behind it.
        """
        self._loop = asyncio.get_running_loop()
        await self._call(self._engine.start, self._deliver_from_thread)
        self._replaying = replay is not None
        self._task = self._loop.create_task(self._run(replay))

    @property
    def replaying(self) -> bool:
        """Whether the engine is still transcribing a resumed stream's stored audio again."""
        return self._replaying

    def feed(self, audio: bytes) -> None:
        if self.failed or self._closing:
            return
        self._queue.append(audio)
        self._backlog_bytes += len(audio)
        if self._backlog_bytes > self._max_backlog_bytes:
            self._skip_backlog()
        self._wakeup.set()

    def finalize(self) -> None:
        if not self.failed and not self._closing:
            self._queue.append(_FINALIZE)
            self._wakeup.set()

    async def close(self, *, discard_pending: bool = False) -> None:
        """Transcribe what is queued, flush the engine's final results and release it.

        With ``discard_pending`` the audio still waiting (including a replay in
        progress) is dropped, so that an interrupted stream is released at once:
        its transcript is produced again from the recording when it resumes.
        """
        self._closing = True
        if discard_pending:
            self._discarding = True
            self._queue.clear()
            self._backlog_bytes = 0
        self._wakeup.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        if not self.failed:
            try:
                await self._call(self._engine.close)
            except Exception as exc:  # noqa: BLE001  (an engine failure must not end the stream)
                self._fail(exc)
        # Results the engine delivered during close() are queued on the loop
        # ahead of this point; yield once so they are handled before returning.
        await asyncio.sleep(0)

    def _skip_backlog(self) -> None:
        """Drop the oldest audio until the backlog is half the limit."""
        skipped = 0
        while self._queue and self._backlog_bytes > self._max_backlog_bytes // 2:
            item = self._queue.popleft()
            if item is _FINALIZE:
                continue
            self._backlog_bytes -= len(item)
            skipped += len(item)
        seconds = skipped / self._bytes_per_second
        total = (self._skips[-1][1] if self._skips else 0.0) + seconds
        self._skips.append((self._fed_bytes / self._bytes_per_second, total))
        logger.warning("Speech engine behind: skipped %.1f s of audio", seconds)
        self._on_skip(seconds)

    async def _replay(self, replay: Callable[[], Iterable[bytes]]) -> None:
        # NOTE: replay runs at the engine's speed (pocketsphinx: several times
        # real time), so live audio of a long resumed stream may wait behind
        # it long enough to be skipped by the backlog limit.
        chunks = iter(await self._call(replay))
        while not self.failed and not self._discarding:
            chunk = await self._call(next, chunks, None)
            if chunk is None:
                break
            await self._call(self._engine.feed, chunk)
            self._fed_bytes += len(chunk)

    async def _run(self, replay: Callable[[], Iterable[bytes]] | None) -> None:
        if replay is not None:
            try:
                await self._replay(replay)
            except Exception as exc:  # noqa: BLE001  (an engine failure must not end the stream)
                self._fail(exc)
            # Results of the last replayed chunk are queued ahead of this point.
            await asyncio.sleep(0)
            self._replaying = False
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and not self.failed:
                item = self._queue.popleft()
                try:
                    if item is _FINALIZE:
                        await self._call(self._engine.finalize)
                        continue
                    self._backlog_bytes -= len(item)
                    await self._call(self._engine.feed, item)
                    self._fed_bytes += len(item)
                except Exception as exc:  # noqa: BLE001  (an engine failure must not end the stream)
                    self._fail(exc)
            if self._closing or self.failed:
                return

    async def _call(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _fail(self, exc: BaseException) -> None:
        self.failed = True
        self._queue.clear()
        logger.error("Speech engine failed: %s", type(exc).__name__, exc_info=exc)
        self._on_failure(exc)

    def _deliver_from_thread(self, result: TranscriptResult) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(
            self._on_result, self._to_stream_time(result), self._replaying
        )

    def _to_stream_time(self, result: TranscriptResult) -> TranscriptResult:
        offset = 0.0
        for engine_seconds, total_skipped in self._skips:
            if result.start >= engine_seconds:
                offset = total_skipped
        if not offset:
            return result
        return TranscriptResult(
            is_final=result.is_final,
            text=result.text,
            confidence=result.confidence,
            start=result.start + offset,
            end=result.end + offset,
        )
