import time

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIRequestFactory

from accounts.authentication import LocalJWTAuthentication
from accounts.identity import VerifiedToken
from accounts.tests.helpers import bearer, me, refresh, signed_token

pytestmark = pytest.mark.django_db


def test_me_reports_local_identity(api_client, user, tokens):
    response = me(api_client, tokens["access"])

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "username": "ann",
        "email": "Ann@example.com",
        "auth_method": "local",
    }


def test_me_without_header_is_401(api_client):
    response = api_client.get("/auth/me")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not.a.jwt", "bearer xyz"])
def test_malformed_bearer_is_token_invalid(api_client, header):
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_other_scheme_is_not_authenticated(api_client):
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION="Basic YW5uOnB3")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_refresh_token_refused_as_access(api_client, tokens):
    response = me(api_client, tokens["refresh"])

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_access_token_refused_as_refresh(api_client, tokens):
    response = refresh(api_client, tokens["access"])

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://elsewhere.example/"},
        {"iss": None},
        {"aud": "another-api"},
        {"aud": None},
        {"token_type": None},
        {"token_type": "refresh"},
        {"jti": None},
        {"iat": None},
        {"sub": None},
    ],
    ids=["wrong-iss", "no-iss", "wrong-aud", "no-aud", "no-type", "refresh-type", "no-jti",
         "no-iat", "no-sub"],
)
def test_bad_claims_are_token_invalid(api_client, user, claims):
    token = signed_token(**{"sub": str(user.pk), **claims})

    response = me(api_client, token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_valid_handmade_token_accepted(api_client, user):
    response = me(api_client, signed_token(sub=str(user.pk)))

    assert response.status_code == 200


def test_expired_token_is_token_expired(api_client, user):
    now = int(time.time())
    token = signed_token(sub=str(user.pk), iat=now - 7200, exp=now - 3600)

    response = me(api_client, token)

    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


def test_token_signed_with_other_key_invalid(api_client, user):
    claims = jwt.decode(signed_token(sub=str(user.pk)), options={"verify_signature": False})
    forged = jwt.encode(claims, "x" * 64, algorithm="HS256")

    response = me(api_client, forged)

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_unsigned_token_invalid(api_client, user):
    claims = jwt.decode(signed_token(sub=str(user.pk)), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")

    response = me(api_client, unsigned)

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_non_numeric_sub_invalid(api_client, user):
    response = me(api_client, signed_token(sub="ann"))

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_auth0_issuer_left_to_next_class(user):
    token = signed_token(iss=settings.AUTH0["issuer"], sub="auth0|123")
    request = APIRequestFactory().get("/auth/me", **bearer(token))

    assert LocalJWTAuthentication().authenticate(request) is None


def test_local_identity_is_verified_token(user, tokens):
    request = APIRequestFactory().get("/auth/me", **bearer(tokens["access"]))

    authenticated_user, identity = LocalJWTAuthentication().authenticate(request)

    assert authenticated_user == user
    assert isinstance(identity, VerifiedToken)
    assert identity.method == "local"
    assert identity.subject == str(user.pk)
    assert identity.revocation_id == identity.claims["jti"]
    assert identity.issued_at is not None
    assert identity.expires_at > identity.issued_at
