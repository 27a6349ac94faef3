"""Token revocation: the check every authenticated request runs, and the ways to revoke.

Every revocation is stored in the database, so it survives restarts and holds
on every process. After it commits, a message goes over the Channels layer to
the group ``user_group_name(user.pk)``, which the user's open WebSockets join::

    {"type": "auth.revoked", "revocation_id": str | None,
     "issued_before": float | None, "user_disabled": bool}

A socket closes when ``revocation_id`` is in ``revocation_ids(token)`` (the
token's own id, or ``family:<fam>`` for a local token of that login family),
when its token was issued before ``issued_before`` (epoch seconds), or when
``user_disabled`` is true. ``is_token_revoked(user, token)`` is the matching
database check for a VerifiedToken.

All functions here are synchronous. Call them from async code through
``sync_to_async``, because the broadcast uses ``async_to_sync``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.identity import VerifiedToken
from accounts.models import RevokedToken

logger = logging.getLogger(__name__)

FAMILY_PREFIX = "family:"
# The claim that carries a local token's family id. accounts.tokens sets it.
FAMILY_CLAIM = "fam"
BROADCAST_TIMEOUT_SECONDS = 2.0


def user_group_name(user_pk) -> str:
    return f"auth.user.{user_pk}"


def family_revocation_id(family_id: str) -> str:
    return f"{FAMILY_PREFIX}{family_id}"


def is_revoked(
    *,
    user,
    revocation_id: str,
    issued_at: datetime | None,
    family_id: str | None = None,
) -> bool:
    """Return True when a token of ``user`` must be rejected.

    That is when the user is missing (deleted) or inactive, when the token was
    issued before ``user.tokens_valid_after`` (a token without ``iat`` counts
    as issued before), or when a revocation row exists for ``revocation_id``
    or for the token's family. Costs one indexed query, none when the user
    fields already decide.
    """
    if user is None or not user.is_active:
        return True
    valid_after = user.tokens_valid_after
    if valid_after is not None and (issued_at is None or issued_at < valid_after):
        return True
    keys = [revocation_id]
    if family_id:
        keys.append(family_revocation_id(family_id))
    return RevokedToken.objects.filter(revocation_id__in=keys).exists()


def revocation_ids(token: VerifiedToken) -> frozenset[str]:
    """Return every revocation id that revokes ``token``: its own, and its family's if it has one.

    An ``auth.revoked`` event whose ``revocation_id`` is in this set applies to the token.
    """
    family_id = token.claims.get(FAMILY_CLAIM)
    if not family_id:
        return frozenset({token.revocation_id})
    return frozenset({token.revocation_id, family_revocation_id(family_id)})


def is_token_revoked(user, token: VerifiedToken) -> bool:
    """Apply is_revoked to a verified token, including its family for a local token."""
    return is_revoked(
        user=user,
        revocation_id=token.revocation_id,
        issued_at=token.issued_at,
        family_id=token.claims.get(FAMILY_CLAIM),
    )


def revoke_token(
    *,
    user,
    revocation_id: str,
    token_type: str,
    issued_at: datetime | None,
    expires_at: datetime,
    reason: str,
) -> None:
    """Store a revocation for ``revocation_id``. Revoking it again changes nothing.

    Open WebSockets that use the token are closed once the transaction commits.
    """
    _, created = RevokedToken.objects.get_or_create(
        revocation_id=revocation_id,
        defaults={
            "user": user,
            "token_type": token_type,
            "issued_at": issued_at,
            "expires_at": expires_at,
            "reason": reason,
        },
    )
    if not created:
        return
    user_pk = getattr(user, "pk", None)
    logger.info(
        "Revoked %s token %s of user %s (%s)", token_type, revocation_id, user_pk, reason
    )
    if user_pk is not None:
        broadcast_revocation(user_pk, revocation_id=revocation_id)


def blacklist_refresh_token(outstanding: OutstandingToken, reason: str) -> bool:
    """Blacklist one outstanding refresh token, record the reason, and return whether it was new.

    No WebSocket authenticates with a refresh token, so nothing is broadcast.
    """
    with transaction.atomic():
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        RevokedToken.objects.get_or_create(
            revocation_id=outstanding.jti,
            defaults={
                "user_id": outstanding.user_id,
                "token_type": RevokedToken.TokenType.REFRESH,
                "issued_at": outstanding.created_at,
                "expires_at": outstanding.expires_at,
                "reason": reason,
            },
        )
    return created


def _blacklist_live_tokens(tokens, reason: str) -> int:
    live = tokens.filter(expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    return sum(blacklist_refresh_token(outstanding, reason) for outstanding in live)


def revoke_family(user, family_id: str, reason: str) -> None:
    """Revoke every refresh token of one login family and the access tokens made from them.

    Locks the user row first, which rotation also locks. A concurrent
    rotation in this family therefore either commits its new token before the
    query below runs, or waits and then finds the family revoked.
    """
    user_model = get_user_model()
    with transaction.atomic():
        user_model.objects.select_for_update().filter(pk=user.pk).first()
        family_tokens = OutstandingToken.objects.filter(family_member__family_id=family_id)
        latest_expiry = family_tokens.aggregate(latest=Max("expires_at"))["latest"]
        count = _blacklist_live_tokens(family_tokens, reason)
        revoke_token(
            user=user,
            revocation_id=family_revocation_id(family_id),
            token_type=RevokedToken.TokenType.FAMILY,
            issued_at=None,
            expires_at=latest_expiry or timezone.now(),
            reason=reason,
        )
    logger.info(
        "Revoked family %s of user %s: %d refresh tokens (%s)", family_id, user.pk, count, reason
    )


def revoke_all_tokens(user, reason: str) -> None:
    """Reject every token issued to ``user`` until now and blacklist their refresh tokens.

    Sets ``tokens_valid_after``, which covers access tokens and Auth0 tokens
    as well. Sets the attribute on ``user`` too, so the caller's object is current.
    """
    _revoke_all(user, reason, user_disabled=False)


def revoke_all_for_disabled_user(user, reason: str) -> None:
    """Revoke like revoke_all_tokens, with ``user_disabled: True`` in the broadcast."""
    _revoke_all(user, reason, user_disabled=True)


def _revoke_all(user, reason: str, *, user_disabled: bool) -> None:
    user_model = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        # The UPDATE takes the row lock that rotation also takes, so every
        # refresh token minted before it commits is found by the query below.
        user_model.objects.filter(pk=user.pk).update(tokens_valid_after=now)
        user.tokens_valid_after = now
        count = _blacklist_live_tokens(OutstandingToken.objects.filter(user_id=user.pk), reason)
        broadcast_revocation(user.pk, issued_before=now.timestamp(), user_disabled=user_disabled)
    logger.info(
        "Revoked all tokens of user %s issued before %s: %d refresh tokens (%s)",
        user.pk,
        now.isoformat(),
        count,
        reason,
    )


def broadcast_revocation(
    user_pk,
    *,
    revocation_id: str | None = None,
    issued_before: float | None = None,
    user_disabled: bool = False,
) -> None:
    """Send ``auth.revoked`` to the user's group once the current transaction commits."""
    message = {
        "type": "auth.revoked",
        "revocation_id": revocation_id,
        "issued_before": issued_before,
        "user_disabled": user_disabled,
    }
    transaction.on_commit(lambda: _send_to_group(user_group_name(user_pk), message), robust=True)


async def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    await asyncio.wait_for(layer.group_send(group, message), BROADCAST_TIMEOUT_SECONDS)


def _send_to_group(group: str, message: dict) -> None:
    try:
        async_to_sync(_group_send)(group, message)
    except (RedisError, OSError, ChannelFull) as exc:
        # OSError covers refused connections and TimeoutError. The revocation
        # is already stored, so requests reject the token. Only the user's open
        # sockets stay up. The exception class only: Redis messages can
        # contain connection URLs.
        logger.warning(
            "Could not broadcast the revocation to %s: %s", group, type(exc).__name__
        )
