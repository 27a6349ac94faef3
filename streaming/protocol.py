"""The audio WebSocket protocol: close codes, error codes and message shapes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUBPROTOCOL = "meeting-audio.v1"

CLOSE_NORMAL = 1000
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TIMEOUT = 4408
CLOSE_TAKEN_OVER = 4409
CLOSE_TOO_LARGE = 4413
CLOSE_TOO_MANY = 4429

CONTROL_TYPES = ("KeepAlive", "Finalize", "CloseStream", "Authorize")
MAX_CONTROL_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class StreamError(Exception):
    """A protocol error sent to the client as an Error message.

    ``close_code`` is None when the stream stays open after the message.
    """

    code: str
    message: str
    close_code: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def encode(message_type: str, **fields: Any) -> str:
    return json.dumps({"type": message_type, **fields}, separators=(",", ":"))


def error_message(code: str, message: str) -> str:
    return encode("Error", code=code, message=message)


def parse_control(text: str) -> dict[str, Any]:
    """Parse a text frame into a control message, raising StreamError when it is not one."""
    if len(text) > MAX_CONTROL_MESSAGE_BYTES:
        raise StreamError(
            "invalid_message",
            f"text frames are limited to {MAX_CONTROL_MESSAGE_BYTES} bytes; "
            "send audio as binary frames",
        )
    try:
        message = json.loads(text)
    except ValueError:
        raise StreamError(
            "invalid_json",
            'text frames must be JSON control messages such as {"type": "KeepAlive"}; '
            "send audio as binary frames",
        ) from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise StreamError(
            "invalid_message", 'a control message is a JSON object with a string "type" field'
        )
    if message["type"] not in CONTROL_TYPES:
        shown = message["type"][:40]
        raise StreamError(
            "unknown_message_type",
            f"unknown message type {shown!r}: use one of {', '.join(CONTROL_TYPES)}",
        )
    return message
