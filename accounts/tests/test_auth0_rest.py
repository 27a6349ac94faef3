"""Auth0 tokens on the REST API: /auth/me and /auth/logout through the full DRF stack.

Requests go through Django's test client, and the JWKS comes over loopback HTTP
from the local issuer. The live-server cases are in streaming/tests/test_handshake_jwks.py.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.revocation import revoke_all_tokens
from testing.issuer import HOSTILE_CASES, hostile_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_http(settings) -> None:
    # The test client speaks plain HTTP; without this, a production-like
    # environment redirects every request to https.
    settings.SECURE_SSL_REDIRECT = False


def get_me(token: str):
    client = APIClient()
    return client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_valid_token_authenticates(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice", claims={"email": "alice@example.com"})

    response = get_me(token)

    assert response.status_code == 200
    assert response.json()["auth_method"] == "auth0"
    assert response.json()["email"] == "alice@example.com"
    assert get_user_model().objects.get(auth0_sub="auth0|alice").pk == response.json()["id"]


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_hostile_token_rejected(auth0_issuer, case):
    token, expected_code = hostile_tokens(auth0_issuer)[case]

    response = get_me(token)

    assert response.status_code == 401
    assert response.json()["error"] == expected_code
    assert token not in response.content.decode()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_missing_token_rejected(auth0_issuer):
    response = APIClient().get("/auth/me")

    assert response.status_code == 401


def test_logout_revokes_auth0_token(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    logout = client.post("/auth/logout", {}, format="json")
    after = client.get("/auth/me")
    fresh = get_me(auth0_issuer.mint("auth0|alice"))

    assert logout.status_code == 204
    assert after.status_code == 401
    assert after.json()["error"] == "token_revoked"
    assert fresh.status_code == 200


def test_logout_revokes_token_without_jti(auth0_issuer):
    token = auth0_issuer.mint_raw(auth0_issuer.header(), auth0_issuer.claims("auth0|alice", jti=None))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    logout = client.post("/auth/logout", {}, format="json")
    after = client.get("/auth/me")

    assert logout.status_code == 204
    assert after.json()["error"] == "token_revoked"


def test_logout_all_revokes_earlier_tokens(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice")
    user = get_user_model().objects.get(pk=get_me(token).json()["id"])

    revoke_all_tokens(user, reason="test")

    assert get_me(token).json()["error"] == "token_revoked"


def test_deactivated_user_rejected(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice")
    user_id = get_me(token).json()["id"]
    get_user_model().objects.filter(pk=user_id).update(is_active=False)

    response = get_me(token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"
    assert "deactivated" in response.json()["detail"]


def test_no_keys_returns_503(auth0_issuer):
    auth0_issuer.fail(503)
    token = auth0_issuer.mint("auth0|alice")

    response = get_me(token)

    assert response.status_code == 503
    assert response.json()["error"] == "auth_unavailable"


def test_local_token_still_uses_local_authentication(auth0_issuer):
    get_user_model().objects.create_user(username="bob", password="correct-horse-battery")
    login = APIClient().post(
        "/auth/login", {"username": "bob", "password": "correct-horse-battery"}, format="json"
    )

    response = get_me(login.json()["access"])

    assert login.status_code == 200
    assert response.status_code == 200
    assert response.json()["auth_method"] == "local"
    assert auth0_issuer.fetch_count == 0
