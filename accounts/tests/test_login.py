import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import TokenFamilyMember
from accounts.tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db


def decode(token: str) -> dict:
    return jwt.decode(
        token,
        settings.JWT_SECRET_KEY,
        algorithms=["HS256"],
        audience=settings.SIMPLE_JWT["AUDIENCE"],
        issuer=settings.SIMPLE_JWT["ISSUER"],
    )


def test_login_by_username_returns_pair(api_client, user):
    response = api_client.post(
        "/auth/login", {"username": "ann", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_login_tokens_carry_claims(api_client, user):
    body = login(api_client, "ann")
    access = decode(body["access"])
    refresh = decode(body["refresh"])

    assert access["token_type"] == "access"
    assert refresh["token_type"] == "refresh"
    assert access["sub"] == str(user.pk)
    assert refresh["sub"] == str(user.pk)
    assert access["jti"] != refresh["jti"]
    assert access["fam"] == refresh["fam"]
    # exp is whole seconds and iat is not, so the difference is up to 1 s short.
    assert access["exp"] - access["iat"] == pytest.approx(3600, abs=2)
    assert refresh["exp"] - refresh["iat"] == pytest.approx(30 * 24 * 3600, abs=2)


def test_login_records_refresh_without_raw_token(api_client, user):
    body = login(api_client, "ann")
    jti = decode(body["refresh"])["jti"]

    outstanding = OutstandingToken.objects.get(jti=jti)
    assert outstanding.user == user
    assert body["refresh"] not in outstanding.token
    assert outstanding.token.startswith("sha256:")
    family_id = TokenFamilyMember.objects.get(token=outstanding).family_id
    assert family_id == decode(body["refresh"])["fam"]


@pytest.mark.parametrize(
    "field, value",
    [("email", "ann@example.com"), ("username", "ann@example.com"), ("email", "ANN@EXAMPLE.COM")],
)
def test_login_by_email(api_client, user, field, value):
    response = api_client.post("/auth/login", {field: value, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert decode(response.json()["access"])["sub"] == str(user.pk)


def test_login_username_with_at_sign(api_client, make_user):
    owner = make_user("bob@example.org", email="other@example.org")

    response = api_client.post(
        "/auth/login", {"username": "bob@example.org", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert decode(response.json()["access"])["sub"] == str(owner.pk)


def test_login_shared_email_rejected(api_client, make_user):
    make_user("twin1", email="twin@example.com")
    make_user("twin2", email="twin@example.com")

    response = api_client.post(
        "/auth/login", {"email": "twin@example.com", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


def test_login_failures_look_alike(api_client, user):
    wrong_password = api_client.post(
        "/auth/login", {"username": "ann", "password": "wrong"}, format="json"
    )
    unknown_user = api_client.post(
        "/auth/login", {"username": "nobody", "password": PASSWORD}, format="json"
    )

    assert wrong_password.status_code == 401
    assert unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["error"] == "invalid_credentials"
    assert wrong_password["WWW-Authenticate"].startswith("Bearer")


def test_login_inactive_user_rejected(api_client, user):
    user.is_active = False
    user.save()
    body = {"username": "ann", "password": PASSWORD}

    response = api_client.post("/auth/login", body, format="json")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


@pytest.mark.parametrize(
    "body, field",
    [({"password": PASSWORD}, "username"), ({"username": "ann"}, "password")],
)
def test_login_missing_field(api_client, user, body, field):
    response = api_client.post("/auth/login", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]


def test_login_ignores_bad_authorization_header(api_client, user):
    response = api_client.post(
        "/auth/login",
        {"username": "ann", "password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION="Bearer not-a-token",
    )

    assert response.status_code == 200


def test_login_rejects_get(api_client, user):
    response = api_client.get("/auth/login")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
