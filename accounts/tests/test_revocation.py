from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from accounts.authentication import LocalJWTAuthentication
from accounts.identity import VerifiedToken
from accounts.revocation import (
    is_token_revoked,
    revocation_ids,
    revoke_family,
    revoke_token,
    user_group_name,
)
from accounts.tests.helpers import bearer

pytestmark = pytest.mark.django_db


def identify(access: str):
    request = APIRequestFactory().get("/", **bearer(access))
    return LocalJWTAuthentication().authenticate(request)


def test_user_group_name():
    assert user_group_name(42) == "auth.user.42"


def test_revocation_ids_include_family(tokens):
    _, identity = identify(tokens["access"])

    assert revocation_ids(identity) == {
        identity.revocation_id,
        f"family:{identity.claims['fam']}",
    }


def test_revocation_ids_without_family():
    now = timezone.now()
    token = VerifiedToken(
        method="auth0", subject="auth0|x", revocation_id="sha256:ab", expires_at=now
    )

    assert revocation_ids(token) == {"sha256:ab"}


def test_family_revocation_reaches_token(user, tokens):
    _, identity = identify(tokens["access"])
    assert not is_token_revoked(user, identity)

    revoke_family(user, identity.claims["fam"], "test")

    assert is_token_revoked(user, identity)


def test_revoke_token_is_idempotent(user):
    now = timezone.now()
    arguments = dict(
        user=user,
        revocation_id="jti-x",
        token_type="access",
        issued_at=now,
        expires_at=now + timedelta(hours=1),
    )

    revoke_token(**arguments, reason="first")
    revoke_token(**arguments, reason="second")

    assert user.revoked_tokens.get().reason == "first"
