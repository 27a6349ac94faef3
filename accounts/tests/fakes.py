"""A stand-in for the Auth0 authentication class, for testing logout of Auth0 callers.

The fake reads the token's claims without checking the signature, which is
enough here because these tests are about what happens after verification.
"""

from __future__ import annotations

import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.authentication import read_bearer_token
from accounts.exceptions import TokenRevoked
from accounts.identity import VerifiedToken
from accounts.revocation import is_revoked


def fake_auth0_token(username: str, jti: str, issued_seconds_ago: float = 60) -> str:
    """Return a JWT with the Auth0 issuer whose ``sub`` names a local username."""
    issued_at = time.time() - issued_seconds_ago
    claims = {
        "iss": settings.AUTH0["issuer"],
        "aud": settings.AUTH0["audience"],
        "sub": username,
        "jti": jti,
        "iat": issued_at,
        "exp": int(issued_at) + 3600,
    }
    return jwt.encode(claims, "fake-auth0-signing-key-of-32-bytes!", algorithm="HS256")


class FakeAuth0Authentication(BaseAuthentication):
    """Accept tokens from fake_auth0_token and check them with is_revoked."""

    def authenticate(self, request):
        encoded = read_bearer_token(request)
        if encoded is None:
            return None
        claims = jwt.decode(encoded, options={"verify_signature": False})
        if claims.get("iss") != settings.AUTH0["issuer"]:
            return None
        user = get_user_model().objects.filter(username=claims["sub"]).first()
        identity = VerifiedToken(
            method="auth0",
            subject=claims["sub"],
            revocation_id=claims["jti"],
            expires_at=datetime_from_epoch(claims["exp"]),
            issued_at=datetime_from_epoch(claims["iat"]),
            claims=claims,
        )
        revoked = is_revoked(
            user=user, revocation_id=identity.revocation_id, issued_at=identity.issued_at
        )
        if revoked:
            raise TokenRevoked()
        return user, identity

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
