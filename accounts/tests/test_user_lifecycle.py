import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import RevokedToken, User
from accounts.revocation import is_revoked
from accounts.tests.helpers import PASSWORD, bearer, login, me, refresh

pytestmark = pytest.mark.django_db


def test_logout_all_revokes_every_session(api_client, user, tokens):
    other = login(api_client, user.username)

    response = api_client.post("/auth/logout-all", **bearer(tokens["access"]))

    assert response.status_code == 204
    for session in (tokens, other):
        assert me(api_client, session["access"]).json()["error"] == "token_revoked"
        assert refresh(api_client, session["refresh"]).json()["error"] == "token_revoked"
    user.refresh_from_db()
    assert user.tokens_valid_after is not None


def test_login_right_after_logout_all_works(api_client, user, tokens):
    api_client.post("/auth/logout-all", **bearer(tokens["access"]))

    fresh = login(api_client, user.username)

    assert me(api_client, fresh["access"]).status_code == 200
    assert refresh(api_client, fresh["refresh"]).status_code == 200


def test_logout_all_needs_authentication(api_client):
    response = api_client.post("/auth/logout-all")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_deactivated_user_tokens_revoked(api_client, user, tokens):
    user.is_active = False
    user.save()

    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"


def test_reactivation_does_not_revive_tokens(api_client, user, tokens):
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()

    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"
    assert me(api_client, login(api_client, user.username)["access"]).status_code == 200


def test_inactive_via_update_still_rejected(api_client, user, tokens):
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"


def test_deleted_user_tokens_revoked(api_client, user, tokens):
    api_client.post("/auth/logout", **bearer(tokens["access"]))
    second = login(api_client, user.username)
    revoked_ids = set(RevokedToken.objects.values_list("revocation_id", flat=True))

    user.delete()

    assert me(api_client, second["access"]).json()["error"] == "token_revoked"
    assert refresh(api_client, second["refresh"]).json()["error"] == "token_revoked"
    remaining = RevokedToken.objects.filter(revocation_id__in=revoked_ids)
    assert remaining.count() == len(revoked_ids)
    assert not remaining.exclude(user=None).exists()


def test_password_change_revokes_tokens(api_client, user, tokens):
    user.set_password("a brand new passphrase")
    user.save()

    assert me(api_client, tokens["access"]).json()["error"] == "token_revoked"
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"


def test_hash_upgrade_keeps_tokens(api_client, user, tokens, settings):
    user.password = make_password(PASSWORD, hasher="md5")
    user.save(update_fields=["password"])
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    login(api_client, user.username)

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    assert me(api_client, tokens["access"]).status_code == 200


def test_is_revoked_rules(user):
    user.refresh_from_db()
    now = timezone.now()
    assert is_revoked(user=None, revocation_id="x", issued_at=now)
    assert not is_revoked(user=user, revocation_id="x", issued_at=now)
    assert not is_revoked(user=user, revocation_id="x", issued_at=None)
    user.tokens_valid_after = now
    assert is_revoked(user=user, revocation_id="x", issued_at=None)
    assert is_revoked(user=user, revocation_id="x", issued_at=now.replace(microsecond=0))
    user.is_active = False
    assert is_revoked(user=user, revocation_id="x", issued_at=None)
