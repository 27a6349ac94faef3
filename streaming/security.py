"""Reject WebSocket handshakes from origins that are not on the allowlist.

Browsers send an ``Origin`` header with every WebSocket handshake, and unlike
fetch requests they apply no CORS check to the response, so the server must
check it. The comparison is exact after normalization: the scheme and host are
lower-cased, and a default port (80 for http, 443 for https) is dropped on both
sides, so ``https://app.example.com:443`` and ``https://app.example.com`` are
the same origin, as RFC 6454 serializes them. There is no pattern or suffix
matching: ``https://app.example.com.evil.test`` does not match
``https://app.example.com``. The value ``null`` (sandboxed frames, ``file:``
pages) never matches.

A handshake without an ``Origin`` header comes from a non-browser client and
is allowed unless ``settings.WEBSOCKET_REQUIRE_ORIGIN`` is true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LOGGED_ORIGIN_LENGTH = 200


def normalize_origin(value: str) -> str | None:
    """Return ``scheme://host[:port]`` without a default port, or None if ``value`` is not an origin."""
    value = value.strip()
    if not value or value == "null":
        return None
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_origins(configured: Iterable[str]) -> frozenset[str]:
    return frozenset(
        normalized for origin in configured if (normalized := normalize_origin(origin)) is not None
    )


def _origin_headers(scope: dict) -> list[str]:
    return [
        value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"origin"
    ]


class OriginCheckMiddleware:
    """ASGI middleware that rejects WebSocket handshakes from origins not allowed with HTTP 403.

    The allowlist is read from ``settings.WEBSOCKET_ALLOWED_ORIGINS`` on every
    handshake. Other connection types pass through unchanged.
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)

        reason = self.rejection_reason(_origin_headers(scope))
        if reason is None:
            return await self.inner(scope, receive, send)

        client = scope.get("client") or ("-", "-")
        logger.warning(
            "Rejected WebSocket handshake to %s from %s:%s: %s",
            scope.get("path"), client[0], client[1], reason,
        )
        message = await receive()
        if message["type"] == "websocket.connect":
            # A close before the accept makes daphne respond to the handshake with HTTP 403.
            await send({"type": "websocket.close"})

    @staticmethod
    def rejection_reason(origins: list[str]) -> str | None:
        """Return why these Origin header values are rejected, or None to allow the handshake."""
        if not origins:
            if settings.WEBSOCKET_REQUIRE_ORIGIN:
                return "no Origin header, and WEBSOCKET_REQUIRE_ORIGIN is on"
            return None
        if len(origins) > 1:
            return f"{len(origins)} Origin headers"
        origin = origins[0]
        if normalize_origin(origin) in allowed_origins(settings.WEBSOCKET_ALLOWED_ORIGINS):
            return None
        shown = origin[:MAX_LOGGED_ORIGIN_LENGTH]
        return f"origin {shown!r} is not in WEBSOCKET_ALLOWED_ORIGINS"
