"""Delete expired revocations and expired outstanding refresh tokens.

A revocation is kept until the token it revokes expires, because until then
the token could still be presented. After that the signature check rejects
the token, so the row is dead weight. Run this once a day, for example from
cron::

    15 3 * * * cd /srv/meeting-streamer && .venv/bin/python manage.py purge_expired_tokens

Deleting an OutstandingToken also deletes its BlacklistedToken and
TokenFamilyMember rows. The command is safe to run while the service serves
requests.
"""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import RevokedToken

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Delete revocations and outstanding refresh tokens whose expiry has passed."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the expired rows without deleting them.",
        )

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        now = timezone.now()
        revoked = RevokedToken.objects.filter(expires_at__lte=now)
        outstanding = OutstandingToken.objects.filter(expires_at__lte=now)
        if dry_run:
            self.stdout.write(
                f"Would delete {revoked.count()} revocations and "
                f"{outstanding.count()} outstanding refresh tokens."
            )
            return
        with transaction.atomic():
            revoked_count, _ = revoked.delete()
            outstanding_count = outstanding.count()
            outstanding.delete()
        logger.info(
            "Purged %d expired revocations and %d expired outstanding refresh tokens",
            revoked_count,
            outstanding_count,
        )
        self.stdout.write(
            f"Deleted {revoked_count} revocations and "
            f"{outstanding_count} outstanding refresh tokens."
        )
