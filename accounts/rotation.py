"""Refresh-token rotation with reuse detection.

Each refresh swaps the presented token for a new one in the same family and
blacklists the old one in the same transaction (unless
``SIMPLE_JWT["ROTATE_REFRESH_TOKENS"]`` is off, when the refresh token is
returned unchanged). Presenting a token that was
already rotated away means two parties hold the family, so every token of
the family is revoked.
"""

from __future__ import annotations

import enum
import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.exceptions import TokenRevoked
from accounts.models import RevokedToken
from accounts.revocation import is_revoked, revoke_family
from accounts.tokens import (
    FAMILY_CLAIM,
    LocalAccessToken,
    LocalRefreshToken,
    TokenPair,
    decode_refresh_token,
    issue_token_pair,
    issued_at,
    subject,
)

logger = logging.getLogger(__name__)

ROTATED = "rotated"
REUSE = "reuse"


class Verdict(enum.Enum):
    VALID = "valid"
    REVOKED = "revoked"
    REUSED = "reused"


def rotate_refresh_token(encoded: str) -> TokenPair:
    """Return a new token pair for a valid refresh token and blacklist the presented one.

    Raises TokenInvalid or TokenExpired for a bad token and TokenRevoked for a
    revoked one. A token that was already rotated revokes its family first.
    """
    token = decode_refresh_token(encoded)
    with transaction.atomic():
        user = _lock_user(subject(token))
        verdict = _verdict_for(user, token)
        if verdict is Verdict.VALID:
            verdict, pair = _rotate(user, token)
        if verdict is Verdict.REUSED:
            revoke_family(user, token[FAMILY_CLAIM], REUSE)
    if verdict is Verdict.REUSED:
        logger.warning(
            "Refresh token reuse by user %s: jti %s was already rotated; revoked family %s",
            user.pk,
            token["jti"],
            token[FAMILY_CLAIM],
        )
    if verdict is not Verdict.VALID:
        raise TokenRevoked()
    return pair


def _lock_user(user_pk: str):
    # Every change to a user's refresh tokens (rotation, family revocation,
    # logout everywhere) takes this row lock first, which serializes them.
    try:
        return get_user_model().objects.select_for_update().filter(pk=user_pk).first()
    except (ValueError, TypeError):
        return None


def _verdict_for(user, token: LocalRefreshToken) -> Verdict:
    if user is None:
        return Verdict.REVOKED
    jti = token["jti"]
    state = OutstandingToken.objects.filter(jti=jti).values("user_id", "blacklistedtoken").first()
    if state is None or state["user_id"] != user.pk:
        # Never recorded, purged after expiry, or recorded for another user.
        return Verdict.REVOKED
    if state["blacklistedtoken"] is not None:
        return Verdict.REUSED if _was_rotated(jti) and user.is_active else Verdict.REVOKED
    revoked = is_revoked(
        user=user, revocation_id=jti, issued_at=issued_at(token), family_id=token[FAMILY_CLAIM]
    )
    return Verdict.REVOKED if revoked else Verdict.VALID


def _was_rotated(jti: str) -> bool:
    return RevokedToken.objects.filter(revocation_id=jti, reason=ROTATED).exists()


def _rotate(user, token: LocalRefreshToken) -> tuple[Verdict, TokenPair | None]:
    if not jwt_settings.api_settings.ROTATE_REFRESH_TOKENS:
        return Verdict.VALID, _access_only(token)
    outstanding = OutstandingToken.objects.get(jti=token["jti"])
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        # Only reachable without the row lock (SQLite ignores FOR UPDATE): a
        # concurrent request blacklisted the token first.
        return Verdict.REUSED, None
    RevokedToken.objects.create(
        revocation_id=outstanding.jti,
        user=user,
        token_type=RevokedToken.TokenType.REFRESH,
        issued_at=outstanding.created_at,
        expires_at=outstanding.expires_at,
        reason=ROTATED,
    )
    pair = issue_token_pair(user, family_id=token[FAMILY_CLAIM])
    logger.info("Rotated refresh token %s of user %s", outstanding.jti, user.pk)
    return Verdict.VALID, pair


def _access_only(token: LocalRefreshToken) -> TokenPair:
    """Return a new access token and the same refresh token, for ROTATE_REFRESH_TOKENS=False."""
    return TokenPair(
        access=str(token.access_token),
        refresh=str(token.token),
        expires_in=int(LocalAccessToken.lifetime.total_seconds()),
    )
