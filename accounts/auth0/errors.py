"""Authentication failures with a stable code, an HTTP status and a WebSocket close code.

The REST and WebSocket boundaries convert these into their own responses. The
message is safe to show to a client: it names the problem and the fix, and never
contains the token or the text of a PyJWT or httpx exception.

Codes:

- ``token_missing`` (401, 4401): no bearer token was sent.
- ``token_invalid`` (401, 4401): the token is malformed, signed by an unknown
  key, or has a wrong issuer, audience, algorithm or claim.
- ``token_expired`` (401, 4401): the token's ``exp`` has passed.
- ``token_revoked`` (401, 4401): the token was revoked (logout), or its user is
  deactivated. A deactivated user must sign in again once reactivated, so this
  is a 401 and not a 403.
- ``forbidden`` (403, 4403): the token is valid and its user is active, but it
  may not be used for this request. Today that is a re-authorization on an open
  WebSocket with a token for a different subject.
- ``auth_unavailable`` (503, 1013): no signing keys are available because the
  JWKS endpoint cannot be reached and no cached keys are left. Retry later.
"""

from __future__ import annotations

from typing import ClassVar

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
# "Try again later". Autobahn, under daphne, rejects this code unless
# config.close_codes.allow_server_close_codes() has run, as config/asgi.py does.
CLOSE_TRY_AGAIN_LATER = 1013


class AuthError(Exception):
    """Base class: a rejected credential, with its client-safe message."""

    code: ClassVar[str] = "token_invalid"
    http_status: ClassVar[int] = 401
    close_code: ClassVar[int] = CLOSE_UNAUTHORIZED
    default_message: ClassVar[str] = "The access token is invalid; sign in again."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class TokenMissingError(AuthError):
    code = "token_missing"
    default_message = (
        "No access token was sent; send it as 'Authorization: Bearer <token>'."
    )


class TokenInvalidError(AuthError):
    code = "token_invalid"


class TokenExpiredError(AuthError):
    code = "token_expired"
    default_message = "The access token has expired; get a new one and retry."


class TokenRevokedError(AuthError):
    code = "token_revoked"
    default_message = "The access token was revoked; sign in again."


class ForbiddenError(AuthError):
    code = "forbidden"
    http_status = 403
    close_code = CLOSE_FORBIDDEN
    default_message = "The access token is valid but may not be used for this request."


class AuthUnavailableError(AuthError):
    code = "auth_unavailable"
    http_status = 503
    close_code = CLOSE_TRY_AGAIN_LATER
    default_message = (
        "Tokens cannot be verified right now because the signing keys are unavailable; "
        "retry in a minute."
    )
