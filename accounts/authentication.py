"""DRF authentication for access tokens that this service issued itself."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.exceptions import TokenInvalid, TokenRevoked
from accounts.identity import VerifiedToken
from accounts.revocation import is_token_revoked
from accounts.tokens import (
    decode_access_token,
    expires_at,
    issued_at,
    local_issuer,
    peek_issuer,
    subject,
)

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = 'Bearer realm="api"'


def read_bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header, or None without one.

    Raises TokenInvalid when the scheme is Bearer but the value is not one token.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    if not credentials or " " in credentials:
        raise TokenInvalid("The Authorization header must have the form 'Bearer <token>'.")
    return credentials


def _load_user(user_pk: str):
    try:
        return get_user_model().objects.filter(pk=user_pk).first()
    except (ValueError, TypeError) as exc:
        raise TokenInvalid() from exc


def authenticate_local_token(encoded: str) -> tuple[object, VerifiedToken]:
    """Verify a local access token and return its user and identity.

    Raises TokenInvalid (bad signature, claims, issuer or type), TokenExpired,
    or TokenRevoked (revoked token, deleted or inactive user, or issued before
    the user's ``tokens_valid_after``). Synchronous: it queries the database.
    """
    if peek_issuer(encoded) != local_issuer():
        raise TokenInvalid()
    token = decode_access_token(encoded)
    user = _load_user(subject(token))
    identity = VerifiedToken(
        method="local",
        subject=subject(token),
        revocation_id=token["jti"],
        expires_at=expires_at(token),
        issued_at=issued_at(token),
        claims=dict(token.payload),
    )
    if is_token_revoked(user, identity):
        logger.info(
            "Rejected revoked access token %s of user %s", identity.revocation_id, identity.subject
        )
        raise TokenRevoked()
    return user, identity


class LocalJWTAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer`` access tokens signed by this service.

    Returns None without a Bearer header, and for tokens whose unverified
    ``iss`` is the Auth0 issuer, so that the Auth0 class after this one
    handles them. Any other issuer is rejected with ``token_invalid``.
    """

    def authenticate(self, request: Request) -> tuple[object, VerifiedToken] | None:
        encoded = read_bearer_token(request)
        if encoded is None:
            return None
        if peek_issuer(encoded) == settings.AUTH0["issuer"]:
            return None
        return authenticate_local_token(encoded)

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE
