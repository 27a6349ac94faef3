import jwt
import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts import views
from accounts.authentication import LocalJWTAuthentication
from accounts.models import RevokedToken
from accounts.tests.fakes import FakeAuth0Authentication, fake_auth0_token
from accounts.tests.helpers import bearer, login, me, refresh

pytestmark = pytest.mark.django_db


def jti(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def logout(api_client, access: str, body: dict | None = None):
    return api_client.post("/auth/logout", body or {}, format="json", **bearer(access))


def test_logout_revokes_access_and_refresh(api_client, tokens):
    response = logout(api_client, tokens["access"], {"refresh": tokens["refresh"]})

    assert response.status_code == 204
    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"
    assert RevokedToken.objects.get(revocation_id=jti(tokens["access"])).reason == "logout"
    assert BlacklistedToken.objects.filter(token__jti=jti(tokens["refresh"])).exists()


def test_logout_without_body_ends_login(api_client, tokens):
    response = logout(api_client, tokens["access"])

    assert response.status_code == 204
    assert me(api_client, tokens["access"]).status_code == 401
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"


def test_logout_revokes_rotated_access_tokens(api_client, tokens):
    rotated = refresh(api_client, tokens["refresh"]).json()

    logout(api_client, rotated["access"])

    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"


def test_logout_keeps_other_logins(api_client, tokens, user):
    other = login(api_client, user.username)

    logout(api_client, tokens["access"], {"refresh": tokens["refresh"]})

    assert me(api_client, other["access"]).status_code == 200
    assert refresh(api_client, other["refresh"]).status_code == 200


def test_logout_twice_is_401(api_client, tokens):
    logout(api_client, tokens["access"])

    response = logout(api_client, tokens["access"])

    assert response.status_code == 401
    assert response.json()["error"] == "token_revoked"


def test_logout_foreign_refresh_forbidden(api_client, tokens, make_user):
    bob = make_user("bob")
    bob_tokens = login(api_client, bob.username)

    response = logout(api_client, tokens["access"], {"refresh": bob_tokens["refresh"]})

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert not RevokedToken.objects.exists()
    assert not BlacklistedToken.objects.exists()
    assert me(api_client, tokens["access"]).status_code == 200
    assert refresh(api_client, bob_tokens["refresh"]).status_code == 200


def test_logout_invalid_refresh_is_400(api_client, tokens):
    response = logout(api_client, tokens["access"], {"refresh": "not-a-token"})

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "refresh" in response.json()["fields"]
    assert not RevokedToken.objects.exists()


def test_logout_without_authorization_is_401(api_client, tokens):
    response = api_client.post("/auth/logout", {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert "WWW-Authenticate" in response
    assert refresh(api_client, tokens["refresh"]).status_code == 200


def test_logout_with_bad_authorization_is_401(api_client, tokens):
    response = logout(api_client, "garbage", {"refresh": tokens["refresh"]})

    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"
    assert refresh(api_client, tokens["refresh"]).status_code == 200


@pytest.fixture
def with_fake_auth0(monkeypatch):
    classes = [LocalJWTAuthentication, FakeAuth0Authentication]
    for view in (views.LogoutView, views.LogoutAllView, views.MeView):
        monkeypatch.setattr(view, "authentication_classes", classes)


def test_logout_with_auth0_token(api_client, user, with_fake_auth0):
    token = fake_auth0_token(user.username, "sha256:" + "a" * 64)
    assert me(api_client, token).json()["auth_method"] == "auth0"

    response = logout(api_client, token)

    assert response.status_code == 204
    row = RevokedToken.objects.get(revocation_id="sha256:" + "a" * 64)
    assert row.token_type == "auth0"
    assert row.user == user
    assert me(api_client, token).json()["error"] == "token_revoked"


def test_logout_with_auth0_and_local_refresh(api_client, user, tokens, with_fake_auth0):
    token = fake_auth0_token(user.username, "auth0-jti-1")

    response = logout(api_client, token, {"refresh": tokens["refresh"]})

    assert response.status_code == 204
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"


def test_logout_all_covers_auth0_tokens(api_client, user, tokens, with_fake_auth0):
    token = fake_auth0_token(user.username, "auth0-jti-2")

    response = api_client.post("/auth/logout-all", **bearer(tokens["access"]))

    assert response.status_code == 204
    assert me(api_client, token).json()["error"] == "token_revoked"
    fresh = fake_auth0_token(user.username, "auth0-jti-3", issued_seconds_ago=-1)
    assert me(api_client, fresh).status_code == 200
