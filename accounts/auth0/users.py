"""Map a verified Auth0 token to exactly one local user, creating it on first sight."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from accounts.auth0.errors import TokenRevokedError
from accounts.identity import VerifiedToken
from accounts.revocation import is_revoked

logger = logging.getLogger(__name__)

USERNAME_MAX_LENGTH = 150
EMAIL_MAX_LENGTH = 254
# Characters that Django's UnicodeUsernameValidator rejects ("auth0|abc" becomes "auth0_abc").
DISALLOWED_USERNAME_CHARACTERS = re.compile(r"[^\w.@+-]")


def username_candidates(subject: str) -> list[str]:
    """Return usernames to try for a new user, most readable first.

    The first is the sanitized subject. The second appends a hash of the full
    subject, for when a local user already has the first name or when two
    subjects sanitize alike. Random suffixes follow as a last resort.
    """
    base = DISALLOWED_USERNAME_CHARACTERS.sub("_", subject).strip("_") or "auth0"
    digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:10]
    suffixed = f"{base[: USERNAME_MAX_LENGTH - 11]}-{digest}"
    randomized = [
        f"{base[: USERNAME_MAX_LENGTH - 17]}-{secrets.token_hex(8)}" for _ in range(3)
    ]
    return [base[:USERNAME_MAX_LENGTH], suffixed, *randomized]


def get_or_create_user(token: VerifiedToken):
    """Return the user whose ``auth0_sub`` is the token's subject, creating it if needed.

    Safe against concurrent first requests of the same subject: the unique
    constraint on ``auth0_sub`` decides the winner and the others read its row.
    The ``email`` claim, when present, is stored and kept up to date.
    """
    user_model = get_user_model()
    subject = token.subject
    email = _email_claim(token)

    user = user_model.objects.filter(auth0_sub=subject).first()
    if user is not None:
        if email and user.email != email:
            user_model.objects.filter(pk=user.pk).update(email=email)
            user.email = email
        return user

    for username in username_candidates(subject):
        try:
            with transaction.atomic():
                user = user_model.objects.create_user(
                    username=username, email=email, auth0_sub=subject
                )
        except IntegrityError:
            # Either another request created this subject's user first, or the
            # username belongs to someone else: the first case ends the search.
            existing = user_model.objects.filter(auth0_sub=subject).first()
            if existing is not None:
                return existing
            continue
        logger.info("Created user pk=%s for Auth0 subject %r", user.pk, subject)
        return user

    raise RuntimeError(f"could not find a free username for Auth0 subject {subject!r}")


def user_for_token(token: VerifiedToken):
    """Return the active user for a verified token, raising ``TokenRevokedError`` if deactivated."""
    user = get_or_create_user(token)
    if not user.is_active:
        logger.info(
            "Rejected Auth0 token of deactivated user pk=%s sub=%r jti=%r",
            user.pk, token.subject, token.claims.get("jti"),
        )
        raise TokenRevokedError(
            "This account is deactivated; contact an administrator to reactivate it."
        )
    return user


def load_user(token: VerifiedToken):
    """Return the active user for a verified token that has not been revoked.

    Raises ``TokenRevokedError`` for a deactivated user and for a revoked token
    (logout, or logout from all devices after the token was issued).
    """
    user = user_for_token(token)
    if is_revoked(user=user, revocation_id=token.revocation_id, issued_at=token.issued_at):
        logger.info(
            "Rejected revoked Auth0 token of user pk=%s sub=%r revocation_id=%s",
            user.pk, token.subject, token.revocation_id,
        )
        raise TokenRevokedError()
    return user


def _email_claim(token: VerifiedToken) -> str:
    email = token.claims.get("email")
    if isinstance(email, str) and "@" in email and len(email) <= EMAIL_MAX_LENGTH:
        return email
    return ""
