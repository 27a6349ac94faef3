"""Close every open stream cleanly when daphne receives SIGTERM.

Each stream gets Error ``server_restarting``, its recording is flushed and it
closes with 1012, so that clients resume on another process. The signal
handler then passes the signal on to the handler that was installed before
(daphne's, through Twisted), which stops the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any, Protocol

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_SECONDS = 10.0
# Time for the close frames to complete their handshake before the reactor stops;
# without it clients see the connection drop (1006) instead of 1012.
CLOSE_HANDSHAKE_SECONDS = 1.0


class ShutdownTarget(Protocol):
    async def server_shutdown(self) -> None: ...


_open_streams: set[Any] = set()
_installed = False
_shutting_down = False


def shutting_down() -> bool:
    """Return whether SIGTERM arrived, after which new streams are turned away to another process."""
    return _shutting_down
_previous_handler: Any = None


def register(stream: ShutdownTarget) -> None:
    _install_handler()
    _open_streams.add(stream)


def unregister(stream: ShutdownTarget) -> None:
    _open_streams.discard(stream)


def _install_handler() -> None:
    global _installed, _previous_handler
    if _installed:
        return
    _installed = True
    loop = asyncio.get_running_loop()
    _previous_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame) -> None:
        loop.call_soon_threadsafe(lambda: loop.create_task(_shutdown(signum, frame)))

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:
        # Only the main thread may install signal handlers; under a server
        # that runs the event loop elsewhere, streams end with the process.
        logger.warning("SIGTERM handler not installed: the event loop is not on the main thread")


async def _shutdown(signum, frame) -> None:
    global _shutting_down
    _shutting_down = True
    streams = list(_open_streams)
    logger.info("SIGTERM: closing %d open streams", len(streams))
    if streams:
        done, pending = await asyncio.wait(
            [asyncio.ensure_future(stream.server_shutdown()) for stream in streams],
            timeout=SHUTDOWN_TIMEOUT_SECONDS,
        )
        if pending:
            logger.error("SIGTERM: %d streams did not close in time", len(pending))
        await asyncio.sleep(CLOSE_HANDSHAKE_SECONDS)
    handler = _previous_handler
    if callable(handler):
        handler(signum, frame)
    else:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
