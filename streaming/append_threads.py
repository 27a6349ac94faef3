"""Threads that append the recording writes of many streams and report to the event loop in batches.

A stream at real-time pace writes ten frames a second, one write each.
Handing every write to a thread pool costs the event loop a concurrent
future and a wake-up per frame. These threads take writes from a queue,
perform all that are waiting, and resolve their asyncio futures with one
call into the event loop per batch.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections import defaultdict
from collections.abc import Callable

APPEND_THREADS = 4

_Job = tuple[asyncio.AbstractEventLoop, Callable[[bytes], int], bytes, asyncio.Future]


class AppendThread:
    """One daemon thread that runs queued append calls in order."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def append(self, append: Callable[[bytes], int], data: bytes) -> asyncio.Future:
        """Queue ``append(data)`` and return a future of its result, on the running loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((loop, append, data, future))
        return future

    def _serve(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while True:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            outcomes: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
            for loop, append, data, future in batch:
                try:
                    outcomes[loop].append((future, append(data), None))
                except Exception as exc:  # noqa: BLE001  (handed to the awaiting stream)
                    outcomes[loop].append((future, None, exc))
            for loop, results in outcomes.items():
                loop.call_soon_threadsafe(_resolve, results)


def _resolve(results: list) -> None:
    for future, value, error in results:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


_threads = [AppendThread(f"recording-append-{index}") for index in range(APPEND_THREADS)]
_next_thread = itertools.cycle(_threads)


def assign_append_thread() -> AppendThread:
    """Return the thread for a new stream; every write of one stream goes to the same thread."""
    return next(_next_thread)
