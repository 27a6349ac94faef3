"""Mapping Auth0 subjects to local users."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from accounts.auth0.errors import TokenRevokedError
from accounts.auth0.users import get_or_create_user, load_user, user_for_token, username_candidates
from accounts.identity import VerifiedToken
from accounts.revocation import revoke_token


def make_token(subject: str, **claims) -> VerifiedToken:
    now = datetime.now(UTC)
    return VerifiedToken(
        method="auth0",
        subject=subject,
        revocation_id=claims.pop("jti", f"jti-{subject}"),
        expires_at=now + timedelta(hours=1),
        issued_at=now,
        claims={"sub": subject, **claims},
    )


def test_username_candidates_sanitize_subject():
    candidates = username_candidates("auth0|abc")

    assert candidates[0] == "auth0_abc"
    assert candidates[1].startswith("auth0_abc-")
    assert len(set(candidates)) == len(candidates)


def test_username_candidates_fit_max_length():
    candidates = username_candidates("google-oauth2|" + "9" * 300)

    assert all(len(candidate) <= 150 for candidate in candidates)


@pytest.mark.django_db
def test_first_token_creates_user_with_email():
    user = get_or_create_user(make_token("auth0|alice", email="alice@example.com"))

    assert user.auth0_sub == "auth0|alice"
    assert user.username == "auth0_alice"
    assert user.email == "alice@example.com"
    assert not user.has_usable_password()


@pytest.mark.django_db
def test_same_subject_maps_to_same_user():
    first = get_or_create_user(make_token("auth0|alice"))
    second = get_or_create_user(make_token("auth0|alice", email="new@example.com"))

    assert first.pk == second.pk
    assert get_user_model().objects.filter(auth0_sub="auth0|alice").count() == 1
    assert get_user_model().objects.get(pk=first.pk).email == "new@example.com"


@pytest.mark.django_db
def test_taken_username_gets_suffix():
    get_user_model().objects.create_user(username="auth0_alice", password="x" * 20)

    user = get_or_create_user(make_token("auth0|alice"))

    assert user.username.startswith("auth0_alice-")
    assert user.auth0_sub == "auth0|alice"


@pytest.mark.django_db
def test_deactivated_user_is_rejected_as_revoked():
    user = get_or_create_user(make_token("auth0|alice"))
    user.is_active = False
    user.save()

    with pytest.raises(TokenRevokedError):
        user_for_token(make_token("auth0|alice"))


@pytest.mark.django_db
def test_revoked_token_is_rejected():
    token = make_token("auth0|alice", jti="jti-revoked")
    user = load_user(token)
    revoke_token(
        user=user,
        revocation_id=token.revocation_id,
        token_type="auth0",
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        reason="logout",
    )

    with pytest.raises(TokenRevokedError):
        load_user(token)
    assert load_user(make_token("auth0|alice", jti="jti-other")).pk == user.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_create_one_user():
    barrier = threading.Barrier(8)
    results: list = []
    errors: list = []

    def first_request() -> None:
        try:
            barrier.wait(5)
            results.append(get_or_create_user(make_token("auth0|racer")).pk)
        except Exception as exc:  # noqa: BLE001  (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(set(results)) == 1
    assert get_user_model().objects.filter(auth0_sub="auth0|racer").count() == 1
