import asyncio
import copy
import logging
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from accounts.models import RevokedToken
from accounts.revocation import revoke_all_tokens, revoke_token, user_group_name
from accounts.tests.helpers import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def isolated_layer(settings):
    """Use a channel prefix of this test alone when the layer is Redis, which test runs share."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "CONFIG" in layers["default"]:
        layers["default"]["CONFIG"]["prefix"] = f"test-accounts-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers


class GroupListener:
    """A channel in a user's group, read synchronously from the test."""

    def __init__(self, user_pk) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(user_group_name(user_pk), self.channel)

    def receive(self, timeout: float = 2.0) -> dict | None:
        async def receive_or_none():
            try:
                return await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            except asyncio.TimeoutError:
                return None

        return async_to_sync(receive_or_none)()


def revoke_sample(user, revocation_id: str = "jti-1") -> None:
    now = timezone.now()
    revoke_token(
        user=user,
        revocation_id=revocation_id,
        token_type="access",
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        reason="test",
    )


def test_revoke_token_broadcasts_on_commit(
    user, isolated_layer, django_capture_on_commit_callbacks
):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        revoke_sample(user)

    assert len(callbacks) == 1
    assert listener.receive() == {
        "type": "auth.revoked",
        "revocation_id": "jti-1",
        "issued_before": None,
        "user_disabled": False,
    }


def test_repeat_revocation_sends_nothing(user, isolated_layer, django_capture_on_commit_callbacks):
    revoke_sample(user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        revoke_sample(user)

    assert callbacks == []


def test_rolled_back_revocation_not_sent(user, isolated_layer, django_capture_on_commit_callbacks):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            revoke_sample(user)
            raise RuntimeError("roll back")

    assert listener.receive(timeout=0.3) is None
    assert not RevokedToken.objects.exists()


def test_revoke_all_broadcasts_cutoff(user, isolated_layer, django_capture_on_commit_callbacks):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        revoke_all_tokens(user, "test")

    message = listener.receive()
    assert message["revocation_id"] is None
    assert message["issued_before"] == user.tokens_valid_after.timestamp()
    assert message["user_disabled"] is False


def test_deactivation_broadcasts_disabled(user, isolated_layer, django_capture_on_commit_callbacks):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    assert listener.receive()["user_disabled"] is True


def test_deletion_broadcasts_disabled(user, isolated_layer, django_capture_on_commit_callbacks):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert listener.receive()["user_disabled"] is True


def test_logout_broadcasts_token_and_family(
    api_client, user, tokens, isolated_layer, django_capture_on_commit_callbacks
):
    listener = GroupListener(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/auth/logout", **bearer(tokens["access"]))

    revocation_ids = {listener.receive()["revocation_id"], listener.receive()["revocation_id"]}
    assert any(rid.startswith("family:") for rid in revocation_ids)
    assert RevokedToken.objects.filter(revocation_id__in=revocation_ids).count() == 2


def test_broadcast_failure_keeps_revocation(
    user, settings, caplog, django_capture_on_commit_callbacks
):
    # Port 1 on loopback refuses connections, like a Redis that is down.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }

    with caplog.at_level(logging.WARNING, logger="accounts.revocation"):
        with django_capture_on_commit_callbacks(execute=True):
            revoke_sample(user)

    assert RevokedToken.objects.filter(revocation_id="jti-1").exists()
    messages = [r.getMessage() for r in caplog.records if r.name == "accounts.revocation"]
    assert any("Could not broadcast" in message for message in messages)
