"""Verify Auth0 access tokens: size, header, issuer, signature and claims.

The checks run in this order, so that a token that cannot be an Auth0 token of
this API never causes a JWKS fetch:

1. The token is at most ``MAX_TOKEN_BYTES`` long and has three dot-separated parts.
2. The header's ``alg`` is in ``settings.AUTH0_ALGORITHMS`` and it has a ``kid``.
   The algorithms passed to PyJWT come from that setting, never from the token.
3. The unverified ``iss`` equals ``settings.AUTH0["issuer"]`` exactly.
4. The key for the ``kid`` comes from the JWKS (see ``accounts.auth0.jwks``).
5. PyJWT checks the signature, ``exp`` (required), ``nbf`` and ``iat`` with
   ``settings.AUTH0_LEEWAY_SECONDS``, ``iss`` and ``aud`` (a string, or a list
   that contains the audience).
6. ``sub`` must be a non-empty string, the time claims numbers, and ``jti``
   (optional) a string of at most 255 characters.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import jwt
from django.conf import settings
from jwt import exceptions as jwt_errors

from accounts.auth0.errors import AuthError, TokenExpiredError, TokenInvalidError
from accounts.auth0.jwks import JWKSClient, SigningKey, get_jwks_client
from accounts.identity import VerifiedToken

logger = logging.getLogger(__name__)

# Auth0 access tokens are typically under 2 KB (an estimate: custom claims add to
# that). The limit is checked before any parsing, so an oversized token costs a
# length comparison.
MAX_TOKEN_BYTES = 8 * 1024
# The length of the revocation_id column in accounts.models.RevokedToken.
MAX_JTI_LENGTH = 255
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")


def read_unverified_claims(token: str) -> dict[str, Any] | None:
    """Return the token's claims without checking anything, or None if it is not a JWT.

    Use this only to choose how to verify a token, never to trust it.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt_errors.PyJWTError:
        return None
    return claims


def read_unverified_header(token: str) -> dict[str, Any] | None:
    """Return the token's header without checking anything, or None if it is not a JWT."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        return None
    try:
        return jwt.get_unverified_header(token)
    except jwt_errors.PyJWTError:
        return None


def read_unverified_issuer(token: str) -> str | None:
    """Return the token's ``iss`` claim without verifying it, or None."""
    claims = read_unverified_claims(token)
    if claims is None or not isinstance(claims.get("iss"), str):
        return None
    return claims["iss"]


def is_auth0_token(token: str) -> bool:
    """Tell whether the token claims to come from the configured Auth0 tenant."""
    return read_unverified_issuer(token) == settings.AUTH0["issuer"]


def is_local_token(token: str) -> bool:
    """Tell whether the token claims to come from this service's own SimpleJWT issuer."""
    return read_unverified_issuer(token) == settings.SIMPLE_JWT["ISSUER"]


def revocation_id_for(token: str, claims: Mapping[str, Any]) -> str:
    """Return the jti, or ``sha256:<hex>`` of the whole token when it has none."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        return jti
    return "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()


class TokenVerifier:
    """Verify Auth0 access tokens against one issuer, audience and JWKS."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        leeway_seconds: float,
        jwks: JWKSClient,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway_seconds = leeway_seconds
        self.jwks = jwks

    @classmethod
    def from_settings(cls) -> TokenVerifier:
        return cls(
            issuer=settings.AUTH0["issuer"],
            audience=settings.AUTH0["audience"],
            algorithms=settings.AUTH0_ALGORITHMS,
            leeway_seconds=settings.AUTH0_LEEWAY_SECONDS,
            jwks=get_jwks_client(),
        )

    def verify(self, token: str) -> VerifiedToken:
        """Verify the token, blocking this thread if the JWKS must be fetched."""
        try:
            header = self._check_header_and_issuer(token)
            signing_key = self.jwks.get_signing_key(header["kid"])
            return self._check_signature_and_claims(token, header, signing_key)
        except AuthError as exc:
            self._log_rejection(token, exc)
            raise

    async def averify(self, token: str) -> VerifiedToken:
        """Verify the token without blocking the event loop.

        A needed JWKS fetch runs on the fetch thread and is awaited. The
        signature and claim checks run here, because they are CPU work of
        about 0.1 ms for RS256 (measured on a 2-core x86_64 machine), less
        than a hop to a worker thread costs.
        """
        try:
            header = self._check_header_and_issuer(token)
            signing_key = await self.jwks.aget_signing_key(header["kid"])
            return self._check_signature_and_claims(token, header, signing_key)
        except AuthError as exc:
            self._log_rejection(token, exc)
            raise

    def _check_header_and_issuer(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise TokenInvalidError(
                f"The token is longer than {MAX_TOKEN_BYTES} bytes, so it is not an access "
                "token of this API; send the access token, not an ID token or a cookie."
            )
        if token.count(".") != 2:
            raise TokenInvalidError(
                "The token is not a JWT; send the Auth0 access token issued for this API."
            )
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError as exc:
            raise TokenInvalidError(
                "The token is not a well-formed JWT; send the Auth0 access token issued for this API."
            ) from exc
        if not isinstance(header.get("alg"), str) or header["alg"] not in self.algorithms:
            raise TokenInvalidError(
                f"The token is signed with an algorithm this API does not accept; "
                f"it accepts {', '.join(self.algorithms)}."
            )
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise TokenInvalidError(
                "The token header has no key id (kid); send an access token issued by Auth0."
            )
        if read_unverified_issuer(token) != self.issuer:
            raise TokenInvalidError(
                "The token was not issued by this API's Auth0 tenant; "
                "request an access token for this API."
            )
        return header

    def _check_signature_and_claims(
        self, token: str, header: Mapping[str, Any], signing_key: SigningKey
    ) -> VerifiedToken:
        if signing_key.algorithm is not None and signing_key.algorithm != header["alg"]:
            raise TokenInvalidError(
                "The token's algorithm does not match its signing key; get a new token from Auth0."
            )
        claims = self._decode(token, signing_key)
        self._check_claim_types(claims)
        issued_at = claims.get("iat")
        return VerifiedToken(
            method="auth0",
            subject=claims["sub"],
            revocation_id=revocation_id_for(token, claims),
            expires_at=_from_timestamp(claims["exp"], "exp"),
            issued_at=None if issued_at is None else _from_timestamp(issued_at, "iat"),
            claims=claims,
        )

    def _decode(self, token: str, signing_key: SigningKey) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                signing_key.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt_errors.ExpiredSignatureError as exc:
            raise TokenExpiredError() from exc
        except jwt_errors.ImmatureSignatureError as exc:
            raise TokenInvalidError(
                "The token is not valid yet (its nbf or iat is in the future); "
                "check the clock of the machine that requested it."
            ) from exc
        except jwt_errors.MissingRequiredClaimError as exc:
            raise TokenInvalidError(
                f"The token has no '{exc.claim}' claim; send an Auth0 access token for this API."
            ) from exc
        except jwt_errors.InvalidAudienceError as exc:
            raise TokenInvalidError(
                "The token's audience is not this API; request the token with this API's "
                "identifier as the audience."
            ) from exc
        except jwt_errors.InvalidSubjectError as exc:
            raise TokenInvalidError("The token's 'sub' claim is not a string.") from exc
        except jwt_errors.InvalidSignatureError as exc:
            raise TokenInvalidError(
                "The token's signature is invalid; get a new token from Auth0."
            ) from exc
        except jwt_errors.PyJWTError as exc:
            raise TokenInvalidError(
                "The token is invalid; get a new access token from Auth0."
            ) from exc

    @staticmethod
    def _check_claim_types(claims: Mapping[str, Any]) -> None:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise TokenInvalidError("The token's 'sub' claim must be a non-empty string.")
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise TokenInvalidError(f"The token's '{name}' claim must be a number of seconds.")
        jti = claims.get("jti")
        if jti is not None and (not isinstance(jti, str) or len(jti) > MAX_JTI_LENGTH):
            raise TokenInvalidError(
                f"The token's 'jti' claim must be a string of at most {MAX_JTI_LENGTH} characters."
            )

    @staticmethod
    def _log_rejection(token: str, exc: AuthError) -> None:
        # PyJWT's own text names the failed check and never contains the token.
        reason = str(exc.__cause__) if exc.__cause__ is not None else exc.message
        header = read_unverified_header(token) or {}
        claims = read_unverified_claims(token) or {}
        logger.info(
            "Rejected Auth0 token (code=%s, kid=%.64r, unverified sub=%.128r, jti=%.64r): %s",
            exc.code, header.get("kid"), claims.get("sub"), claims.get("jti"), reason,
        )


def _from_timestamp(value: float, claim: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise TokenInvalidError(f"The token's '{claim}' claim is out of range.") from exc


def get_verifier() -> TokenVerifier:
    """Return a verifier for the current settings, sharing the process-wide JWKS client."""
    return TokenVerifier.from_settings()
