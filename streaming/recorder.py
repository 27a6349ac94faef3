"""Append a stream's audio to its recording off the event loop, batching frames under load."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from streaming.append_threads import assign_append_thread
from streaming.protocol import CLOSE_INTERNAL_ERROR, StreamError
from streaming.recording.base import RecordingWriter

logger = logging.getLogger(__name__)

StoredCallback = Callable[[bytes, int], Awaitable[None]]

# Opening, closing and reading recordings get threads of their own so that a
# slow disk cannot starve the default executor, which database calls and health
# checks also use. Appends go to streaming.append_threads.
_io_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="recording-io")


class RecordingPipe:
    """Feed received audio to a RecordingWriter on an append thread.

    Frames that arrive while a write is in flight are joined into the next
    write, so one write serves many frames when the server is busy. After
    each write ``on_stored(data, bytes_stored)`` runs on the event loop; it
    must not raise.
    """

    def __init__(
        self, writer: RecordingWriter, on_stored: StoredCallback, max_pending_bytes: int
    ) -> None:
        self.writer = writer
        self._on_stored = on_stored
        self._max_pending_bytes = max_pending_bytes
        self._pending = bytearray()
        self._append_thread = assign_append_thread()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self.failure: BaseException | None = None

    @property
    def bytes_stored(self) -> int:
        return self.writer.bytes_stored

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, data: bytes) -> None:
        """Queue whole sample frames for writing."""
        if self.failure is not None:
            raise StreamError(
                "storage_failed",
                "the recording could not be written; reconnect with stream_id to resume",
                CLOSE_INTERNAL_ERROR,
            )
        self._pending += data
        self._wakeup.set()

    @property
    def is_full(self) -> bool:
        return len(self._pending) > self._max_pending_bytes

    async def wait_for_room(self, timeout: float) -> None:
        """Wait until the queued audio is below half the limit.

        The caller stops reading frames meanwhile, so a client that sends
        faster than the disk writes is slowed down instead of cut off. Raises
        StreamError when the storage makes no room within ``timeout`` seconds.
        """
        self._room.clear()
        try:
            await asyncio.wait_for(self._room.wait(), timeout)
        except asyncio.TimeoutError:
            logger.error("Recording writes stalled for %.0f s", timeout)
            raise StreamError(
                "storage_backlog",
                "the recording cannot keep up with the audio sent; reconnect with stream_id "
                "to resume from the last Ack",
                CLOSE_INTERNAL_ERROR,
            ) from None

    async def drain(self) -> None:
        """Write everything queued, then stop. Safe to call more than once."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending and self.failure is None:
                data = bytes(self._pending)
                self._pending.clear()
                try:
                    total = await self._append_thread.append(self.writer.append, data)
                except Exception as exc:  # noqa: BLE001  (any storage failure ends the stream)
                    logger.exception("Recording write failed (%d bytes lost)", len(data))
                    self.failure = exc
                    self._room.set()
                    break
                await self._on_stored(data, total)
                if len(self._pending) <= self._max_pending_bytes // 2:
                    self._room.set()
            if self._closing or self.failure is not None:
                return


async def run_io(function, *args):
    """Run a blocking recording call on the recording I/O threads."""
    return await asyncio.get_running_loop().run_in_executor(_io_executor, function, *args)
