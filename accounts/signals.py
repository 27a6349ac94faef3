"""Revoke tokens when a user is deactivated, deleted or given a new password.

Only ``Model.save()`` and ``Model.delete()`` send these signals. A
``QuerySet.update(is_active=False)`` bypasses them. The user's tokens are
still rejected by is_revoked, but no message closes their open WebSockets.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.revocation import (
    broadcast_revocation,
    revoke_all_for_disabled_user,
    revoke_all_tokens,
)

logger = logging.getLogger(__name__)

_WAS_ACTIVE = "_accounts_was_active"


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.remember_is_active")
def remember_is_active(sender, instance, update_fields=None, **kwargs) -> None:
    # Only a save that stores is_active=False can deactivate, so only that
    # save pays for the query.
    if instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = sender.objects.filter(pk=instance.pk, is_active=True).exists()
    setattr(instance, _WAS_ACTIVE, was_active)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.revoke_on_change")
def revoke_on_change(sender, instance, created: bool, **kwargs) -> None:
    if created:
        return
    if getattr(instance, _WAS_ACTIVE, False):
        delattr(instance, _WAS_ACTIVE)
        logger.info("User %s was deactivated; revoking their tokens", instance.pk)
        revoke_all_for_disabled_user(instance, "user_deactivated")
    # AbstractBaseUser.set_password() stores the raw password in _password
    # until save() has finished. A hash upgrade during check_password() clears
    # it first, so logging in does not count as a change.
    elif getattr(instance, "_password", None) is not None:
        logger.info("Password of user %s changed; revoking their tokens", instance.pk)
        revoke_all_tokens(instance, "password_changed")


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.close_on_delete")
def close_sockets_on_delete(sender, instance, **kwargs) -> None:
    # Tokens of a deleted user are rejected because the user lookup fails.
    logger.info("User %s was deleted; closing their WebSockets", instance.pk)
    broadcast_revocation(instance.pk, user_disabled=True)
