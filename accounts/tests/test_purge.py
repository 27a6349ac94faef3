from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RevokedToken, TokenFamilyMember

pytestmark = pytest.mark.django_db


def make_outstanding(user, jti: str, expires_in: timedelta) -> OutstandingToken:
    now = timezone.now()
    token = OutstandingToken.objects.create(
        user=user, jti=jti, token="sha256:x", created_at=now, expires_at=now + expires_in
    )
    TokenFamilyMember.objects.create(token=token, family_id="fam")
    BlacklistedToken.objects.create(token=token)
    return token


def make_revoked(user, revocation_id: str, expires_in: timedelta) -> RevokedToken:
    return RevokedToken.objects.create(
        revocation_id=revocation_id,
        user=user,
        token_type="access",
        expires_at=timezone.now() + expires_in,
        reason="test",
    )


@pytest.fixture
def rows(user):
    make_outstanding(user, "old", timedelta(seconds=-1))
    make_outstanding(user, "live", timedelta(hours=1))
    make_revoked(user, "old", timedelta(seconds=-1))
    make_revoked(user, "live", timedelta(hours=1))


def test_purge_removes_only_expired(rows):
    output = StringIO()

    call_command("purge_expired_tokens", stdout=output)

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["live"]
    assert list(RevokedToken.objects.values_list("revocation_id", flat=True)) == ["live"]
    assert BlacklistedToken.objects.count() == 1
    assert TokenFamilyMember.objects.count() == 1
    assert "Deleted 1 revocations and 1 outstanding refresh tokens" in output.getvalue()


def test_purge_dry_run_deletes_nothing(rows):
    output = StringIO()

    call_command("purge_expired_tokens", "--dry-run", stdout=output)

    assert OutstandingToken.objects.count() == 2
    assert RevokedToken.objects.count() == 2
    assert "Would delete 1 revocations and 1 outstanding refresh tokens" in output.getvalue()
