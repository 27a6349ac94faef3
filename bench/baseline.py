"""A bare Channels consumer that acknowledges audio frames, the reference the benchmark compares with.

``BaselineConsumer`` does what any Channels WebSocket consumer does for a
binary frame and nothing more: no authentication, no storage, no speech
engine. It sends one ``{"type": "Ack", "bytes": n}`` per frame, where ``n``
counts the bytes received so far, in the product's message format.

``config/asgi.py`` serves it at ``/ws/baseline/``, outside the origin and
authentication middleware, only when ``baseline_route_enabled`` says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

BASELINE_PATH = "/ws/baseline/"
ENABLE_VARIABLE = "BENCHMARK_BASELINE"
# A second switch, so that a stray BENCHMARK_BASELINE cannot open an
# unauthenticated WebSocket on a production server by itself.
WITHOUT_DEBUG_VARIABLE = "BENCHMARK_BASELINE_WITHOUT_DEBUG"
TRUE_VALUES = ("1", "true", "yes", "on")


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in TRUE_VALUES


def baseline_route_enabled(environ: Mapping[str, str], debug: bool) -> bool:
    """Return whether to serve the baseline consumer, raising ImproperlyConfigured when not allowed.

    Off unless ``BENCHMARK_BASELINE`` is true. With ``DEBUG`` off, it also
    needs ``BENCHMARK_BASELINE_WITHOUT_DEBUG``, which the benchmark harness sets
    for the daphne process it starts.
    """
    if not _flag(environ, ENABLE_VARIABLE):
        return False
    if not debug and not _flag(environ, WITHOUT_DEBUG_VARIABLE):
        raise ImproperlyConfigured(
            f"{ENABLE_VARIABLE} opens an unauthenticated WebSocket at {BASELINE_PATH} and is "
            f"rejected while DEBUG is off; unset it, or also set {WITHOUT_DEBUG_VARIABLE}=true "
            "on a benchmark server that nobody else can reach"
        )
    return True


class BaselineConsumer(AsyncWebsocketConsumer):
    """Acknowledge every binary frame with the number of bytes received so far."""

    received_bytes = 0

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is None:
            return
        self.received_bytes += len(bytes_data)
        await self.send(text_data=json.dumps({"type": "Ack", "bytes": self.received_bytes}))


class BaselineRoute:
    """ASGI application that sends ``/ws/baseline/`` WebSockets to the baseline and the rest to ``inner``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.baseline = BaselineConsumer.as_asgi()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope.get("path") == BASELINE_PATH:
            await self.baseline(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def with_baseline_route(websocket_app: Any) -> BaselineRoute:
    logger.warning("Benchmark baseline WebSocket enabled at %s without authentication", BASELINE_PATH)
    return BaselineRoute(websocket_app)
