"""Authenticate WebSocket handshakes with an Auth0 access token.

The token comes from ``Authorization: Bearer <token>`` or, for browsers, which
cannot set headers on a WebSocket, from the ``Sec-WebSocket-Protocol`` list:
the client offers ``meeting-audio.v1`` and ``bearer.<token>``. The server
selects only ``meeting-audio.v1``, so the token is never echoed. A browser
client must offer ``meeting-audio.v1``, because a browser fails a handshake
whose response selects none of the offered subprotocols. A token in the query
string is rejected, because URLs end up in proxy and access logs. Local
(SimpleJWT) tokens are rejected: the WebSocket accepts Auth0 tokens only.

On success the inner application gets a scope with ``user``, ``token`` (a
``VerifiedToken``) and ``subprotocol`` (``meeting-audio.v1`` when offered, else
None), and without the token: the ``authorization`` and
``sec-websocket-protocol`` headers are removed and ``bearer.`` entries dropped
from ``subprotocols``.

On failure the handshake is accepted only to send one text frame
``{"type": "Error", "code": ..., "message": ...}`` and to close. The close code
is 4401 when the token is missing, invalid, expired or revoked, 4403 when it is
valid but not allowed, and 1013 (try again later) when the signing keys are
unavailable. The inner application never runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from config.database import database_async

from accounts.auth0.errors import (
    AuthError,
    AuthUnavailableError,
    TokenInvalidError,
    TokenMissingError,
)
from accounts.auth0.users import load_user
from accounts.auth0.verification import get_verifier, is_local_token
from accounts.identity import VerifiedToken
from streaming.protocol import SUBPROTOCOL

logger = logging.getLogger(__name__)

BEARER_SUBPROTOCOL_PREFIX = "bearer."
QUERY_TOKEN_PARAMETERS = ("token", "access_token")
# Daphne rejects a handshake that is not accepted within --websocket_connect_timeout
# (5 s by default) with HTTP 403, so authentication gives up earlier and closes with 1013.
HANDSHAKE_AUTH_TIMEOUT_SECONDS = 4.0
STRIPPED_HEADERS = (b"authorization", b"sec-websocket-protocol")


def find_token(scope: dict) -> str:
    """Return the bearer token of a WebSocket handshake.

    Raises ``TokenMissingError`` when none was sent, and ``TokenInvalidError``
    for a token in the query string, a malformed header, several tokens, or a
    local token.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if any(name in query for name in QUERY_TOKEN_PARAMETERS):
        raise TokenInvalidError(
            "Tokens in the URL are rejected because URLs are logged; remove the token "
            "parameter and send the token as 'Authorization: Bearer <token>' or as the "
            f"'{BEARER_SUBPROTOCOL_PREFIX}<token>' subprotocol next to '{SUBPROTOCOL}'."
        )

    found: list[str] = []
    for name, value in scope.get("headers", []):
        if name != b"authorization":
            continue
        scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip() or " " in credentials.strip():
            raise TokenInvalidError(
                "The Authorization header must have the form 'Bearer <token>'."
            )
        found.append(credentials.strip())
    found.extend(
        offered[len(BEARER_SUBPROTOCOL_PREFIX):]
        for offered in scope.get("subprotocols", [])
        if offered.startswith(BEARER_SUBPROTOCOL_PREFIX)
    )

    if not found:
        raise TokenMissingError(
            "No access token was sent; send it as 'Authorization: Bearer <token>' or, from "
            f"a browser, offer the subprotocols '{SUBPROTOCOL}' and "
            f"'{BEARER_SUBPROTOCOL_PREFIX}<token>'."
        )
    if len(found) > 1:
        raise TokenInvalidError(
            "More than one access token was sent; send exactly one, either in the "
            "Authorization header or as a subprotocol."
        )
    token = found[0]
    if is_local_token(token):
        raise TokenInvalidError(
            "This WebSocket accepts Auth0 access tokens only; sign in with Auth0 and send "
            "that access token, not a token from /auth/login."
        )
    return token


async def authenticate(scope: dict):
    """Return the user and verified token of a handshake, raising ``AuthError`` on failure.

    JWKS fetches run on the JWKS client's thread and the user lookup on a
    database thread (config.database), so the event loop never waits for I/O.
    """
    token = find_token(scope)
    verified = await get_verifier().averify(token)
    user = await database_async(load_user)(verified)
    return user, verified


def selected_subprotocol(scope: dict) -> str | None:
    return SUBPROTOCOL if SUBPROTOCOL in scope.get("subprotocols", []) else None


def authenticated_scope(scope: dict, user, token: VerifiedToken) -> dict:
    """Return a copy of the scope for the inner application, with the identity and without the token."""
    return {
        **scope,
        "headers": [(name, value) for name, value in scope.get("headers", []) if name not in STRIPPED_HEADERS],
        "subprotocols": [
            offered for offered in scope.get("subprotocols", [])
            if not offered.startswith(BEARER_SUBPROTOCOL_PREFIX)
        ],
        "user": user,
        "token": token,
        "subprotocol": selected_subprotocol(scope),
    }


def error_frame(error: AuthError) -> str:
    return json.dumps({"type": "Error", "code": error.code, "message": error.message})


async def reject_handshake(receive, send, error: AuthError, subprotocol: str | None) -> None:
    """Accept the handshake only to send the Error frame, then close with the error's code."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    await send({"type": "websocket.send", "text": error_frame(error)})
    await send({"type": "websocket.close", "code": error.close_code})


class WebSocketAuthMiddleware:
    """ASGI middleware that admits only WebSockets with a valid Auth0 access token."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)

        try:
            user, token = await asyncio.wait_for(authenticate(scope), HANDSHAKE_AUTH_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            error: AuthError = AuthUnavailableError(
                "Verifying the token took too long; retry in a minute."
            )
        except AuthError as exc:
            error = exc
        else:
            return await self.inner(authenticated_scope(scope, user, token), receive, send)

        client = scope.get("client") or ("-", "-")
        logger.info(
            "Rejected WebSocket handshake to %s from %s:%s: %s (close %s)",
            scope.get("path"), client[0], client[1], error.code, error.close_code,
        )
        await reject_handshake(receive, send, error, selected_subprotocol(scope))
