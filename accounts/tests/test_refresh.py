import logging
import time

import jwt
import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RevokedToken
from accounts.tests.helpers import login, me, refresh, signed_token

pytestmark = pytest.mark.django_db


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_refresh_rotates_pair(api_client, tokens):
    response = refresh(api_client, tokens["refresh"])

    assert response.status_code == 200
    body = response.json()
    assert body["refresh"] != tokens["refresh"]
    assert body["access"] != tokens["access"]
    assert body["token_type"] == "Bearer"
    assert claims(body["refresh"])["fam"] == claims(tokens["refresh"])["fam"]
    assert me(api_client, body["access"]).status_code == 200


def test_refresh_blacklists_presented_token(api_client, tokens):
    refresh(api_client, tokens["refresh"])

    jti = claims(tokens["refresh"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=jti).exists()
    assert RevokedToken.objects.get(revocation_id=jti).reason == "rotated"


def test_rotated_chain_keeps_working(api_client, tokens):
    current = tokens["refresh"]
    for _ in range(3):
        response = refresh(api_client, current)
        assert response.status_code == 200
        current = response.json()["refresh"]


def test_reuse_revokes_family(api_client, tokens, user, caplog):
    rotated = refresh(api_client, tokens["refresh"]).json()

    with caplog.at_level(logging.WARNING, logger="accounts.rotation"):
        reuse = refresh(api_client, tokens["refresh"])

    assert reuse.status_code == 401
    assert reuse.json()["error"] == "token_revoked"
    assert refresh(api_client, rotated["refresh"]).status_code == 401
    assert me(api_client, rotated["access"]).json()["error"] == "token_revoked"
    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"
    warnings = [
        r for r in caplog.records if r.name == "accounts.rotation" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    warning = warnings[0]
    assert str(user.pk) in warning.getMessage()
    assert claims(tokens["refresh"])["jti"] in warning.getMessage()


def test_reuse_leaves_other_logins_alone(api_client, tokens, user):
    other = login(api_client, user.username)
    refresh(api_client, tokens["refresh"])

    refresh(api_client, tokens["refresh"])

    assert me(api_client, other["access"]).status_code == 200
    assert refresh(api_client, other["refresh"]).status_code == 200


def test_family_rows_listed_as_revoked(api_client, tokens):
    rotated = refresh(api_client, tokens["refresh"]).json()
    refresh(api_client, tokens["refresh"])

    family = claims(tokens["refresh"])["fam"]
    row = RevokedToken.objects.get(revocation_id=f"family:{family}")
    assert row.token_type == "family"
    assert row.reason == "reuse"
    new_jti = claims(rotated["refresh"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=new_jti).exists()


def test_refresh_logged_out_token_not_reuse(api_client, tokens, caplog):
    api_client.post(
        "/auth/logout",
        {"refresh": tokens["refresh"]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {tokens['access']}",
    )

    with caplog.at_level(logging.WARNING, logger="accounts.rotation"):
        response = refresh(api_client, tokens["refresh"])

    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"
    assert not [
        r for r in caplog.records if r.name == "accounts.rotation" and r.levelno == logging.WARNING
    ]


def test_expired_refresh_is_token_expired(api_client, user):
    now = int(time.time())
    token = signed_token(
        sub=str(user.pk), token_type="refresh", fam="f" * 32, iat=now - 100, exp=now - 10
    )

    response = refresh(api_client, token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


def test_unrecorded_refresh_is_revoked(api_client, user):
    token = signed_token(sub=str(user.pk), token_type="refresh", fam="f" * 32)

    response = refresh(api_client, token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"


def test_refresh_without_family_invalid(api_client, user):
    token = signed_token(sub=str(user.pk), token_type="refresh")

    response = refresh(api_client, token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_refresh_missing_field(api_client):
    response = api_client.post("/auth/refresh", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "refresh" in response.json()["fields"]


def test_refresh_without_rotation_returns_same(api_client, tokens, settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}

    response = refresh(api_client, tokens["refresh"])

    assert response.status_code == 200
    assert response.json()["refresh"] == tokens["refresh"]
    assert me(api_client, response.json()["access"]).status_code == 200
    assert refresh(api_client, tokens["refresh"]).status_code == 200
    assert not BlacklistedToken.objects.exists()


def test_refresh_of_deleted_user_revoked(api_client, tokens, user):
    user.delete()

    response = refresh(api_client, tokens["refresh"])

    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"
    assert OutstandingToken.objects.filter(user=None).exists()
