"""The verified identity of a request or WebSocket, whichever issuer signed its token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AuthMethod = Literal["local", "auth0"]


@dataclass(frozen=True)
class VerifiedToken:
    """An access token whose signature and claims have been checked.

    ``revocation_id`` is the key that revocations are stored under: the jti,
    or ``sha256:<hex>`` of the token for an Auth0 token without a jti.
    """

    method: AuthMethod
    subject: str
    revocation_id: str
    expires_at: datetime
    issued_at: datetime | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
