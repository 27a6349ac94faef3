"""Local JWTs: issuing access/refresh pairs and verifying them.

Both token types carry ``iss``, ``aud``, ``jti``, ``token_type``, ``sub`` (the
user pk as a string) and ``iat``. Refresh tokens, and the access tokens made
from them, also carry ``fam``: the id shared by every refresh token rotated
from one login, so that reuse of an old one can revoke the whole family.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

import jwt
from django.db import transaction
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.exceptions import TokenExpired, TokenInvalid
from accounts.models import TokenFamilyMember
from accounts.revocation import FAMILY_CLAIM



class _LocalClaimsMixin:
    """Float ``iat`` and required claims, shared by both local token types."""

    payload: dict[str, Any]
    current_time: datetime
    required_claims: tuple[str, ...] = ("iat",)

    def set_iat(self, claim: str = "iat", at_time: datetime | None = None) -> None:
        # Seconds with a fraction, so that a login right after "log out
        # everywhere" in the same second still yields a valid token.
        self.payload[claim] = (at_time or self.current_time).timestamp()

    def verify(self) -> None:
        # Token.verify, not the blacklist mixin's: rotation checks the
        # blacklist itself while it holds the user's row lock.
        Token.verify(self)  # type: ignore[arg-type]
        user_claim = jwt_settings.api_settings.USER_ID_CLAIM
        for claim in (user_claim, *self.required_claims):
            if claim not in self.payload:
                raise TokenError(f"Token has no {claim!r} claim")


class LocalAccessToken(_LocalClaimsMixin, AccessToken):
    pass


class LocalRefreshToken(_LocalClaimsMixin, RefreshToken):
    access_token_class = LocalAccessToken
    required_claims = ("iat", FAMILY_CLAIM)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    """Seconds until the access token expires."""


def token_fingerprint(encoded: str) -> str:
    """Return ``sha256:<hex>`` of an encoded token.

    OutstandingToken.token is a required column. Storing this digest there in
    place of the token means that a database dump yields no usable refresh token.
    """
    return "sha256:" + hashlib.sha256(encoded.encode()).hexdigest()


def issued_at(token: Token) -> datetime:
    return datetime_from_epoch(token["iat"])


def expires_at(token: Token) -> datetime:
    return datetime_from_epoch(token["exp"])


def subject(token: Token) -> str:
    return str(token[jwt_settings.api_settings.USER_ID_CLAIM])


def issue_token_pair(user, family_id: str | None = None) -> TokenPair:
    """Create a refresh token in ``family_id`` (a new family when None) and an access token.

    The refresh token is recorded as an OutstandingToken with its family, in
    the caller's transaction when there is one.
    """
    refresh = LocalRefreshToken()
    refresh[jwt_settings.api_settings.USER_ID_CLAIM] = str(user.pk)
    refresh[FAMILY_CLAIM] = family_id or uuid4().hex
    encoded_refresh = str(refresh)
    with transaction.atomic():
        outstanding = OutstandingToken.objects.create(
            user=user,
            jti=refresh[jwt_settings.api_settings.JTI_CLAIM],
            token=token_fingerprint(encoded_refresh),
            created_at=issued_at(refresh),
            expires_at=expires_at(refresh),
        )
        TokenFamilyMember.objects.create(token=outstanding, family_id=refresh[FAMILY_CLAIM])
    access = refresh.access_token
    return TokenPair(
        access=str(access),
        refresh=encoded_refresh,
        expires_in=int(LocalAccessToken.lifetime.total_seconds()),
    )


def _decode(token_class: type[Token], encoded: str) -> Token:
    try:
        return token_class(encoded)
    except ExpiredTokenError as exc:
        raise TokenExpired() from exc
    except TokenError as exc:
        raise TokenInvalid() from exc


def decode_access_token(encoded: str) -> LocalAccessToken:
    """Verify signature, ``exp``, ``iss``, ``aud`` and ``token_type`` of a local access token.

    Raises TokenExpired or TokenInvalid. Revocation is not checked here.
    """
    return _decode(LocalAccessToken, encoded)  # type: ignore[return-value]


def decode_refresh_token(encoded: str) -> LocalRefreshToken:
    """Verify a local refresh token like decode_access_token, without checking revocation."""
    return _decode(LocalRefreshToken, encoded)  # type: ignore[return-value]


def peek_issuer(encoded: str) -> str | None:
    """Return the ``iss`` claim without verifying the signature, to pick the verifier.

    Raises TokenInvalid when the token is not a decodable JWT.
    """
    try:
        claims = jwt.decode(encoded, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid() from exc
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def local_issuer() -> str:
    return jwt_settings.api_settings.ISSUER
