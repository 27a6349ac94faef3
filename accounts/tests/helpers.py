"""Request helpers shared by the accounts tests."""

from __future__ import annotations

import time

import jwt
from django.conf import settings
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"


def login(client: APIClient, username: str, password: str = PASSWORD, **extra) -> dict:
    """Log in and return the token body, failing the test unless the login succeeds."""
    body = {"username": username, "password": password}
    response = client.post("/auth/login", body, format="json", **extra)
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def refresh(client: APIClient, refresh_token: str, **extra):
    return client.post("/auth/refresh", {"refresh": refresh_token}, format="json", **extra)


def me(client: APIClient, access: str):
    return client.get("/auth/me", **bearer(access))


def signed_token(**overrides) -> str:
    """Return an HS256 token signed with JWT_SECRET_KEY, with valid local claims unless overridden.

    A claim overridden with None is left out.
    """
    now = time.time()
    claims = {
        "token_type": "access",
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "aud": settings.SIMPLE_JWT["AUDIENCE"],
        "sub": "1",
        "jti": "0" * 32,
        "iat": now,
        "exp": int(now) + 600,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, settings.JWT_SECRET_KEY, algorithm="HS256")
