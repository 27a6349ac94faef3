"""Per-stream guards against clients that send too much, too fast or nothing at all."""

from __future__ import annotations

import time


class RealTimeRateLimit:
    """Reject audio sustained faster than ``factor`` times real time.

    The allowance is measured from the stream's start, not the connection's,
    so a resumed stream may resend the audio it captured while disconnected:
    audio captured live never exceeds the wall-clock time since the start.
    ``burst_seconds`` of audio may arrive ahead of that at any moment.
    """

    def __init__(
        self,
        bytes_per_second: int,
        factor: float,
        burst_seconds: float,
        started_at: float,
        clock=time.monotonic,
    ) -> None:
        self._bytes_per_second = bytes_per_second
        self._factor = factor
        self._burst_bytes = burst_seconds * bytes_per_second
        self._started_at = started_at
        self._clock = clock

    def allows(self, total_bytes: int) -> bool:
        elapsed = self._clock() - self._started_at
        allowed = elapsed * self._bytes_per_second * self._factor + self._burst_bytes
        return total_bytes <= allowed
