"""Check a login's username or email and password."""

from __future__ import annotations

import logging

from django.contrib.auth import authenticate, get_user_model
from django.http import HttpRequest

from accounts.exceptions import InvalidCredentials

logger = logging.getLogger(__name__)


def find_user(identifier: str, *, by_email: bool):
    """Return the user that ``identifier`` names, or None.

    A username is matched exactly. An email address, or a username that
    contains "@" and matches no username, is matched case-insensitively
    against emails. An email that several users share matches no user.
    """
    user_model = get_user_model()
    if not by_email:
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: identifier}).first()
        if user is not None or "@" not in identifier:
            return user
    matches = list(user_model.objects.filter(email__iexact=identifier)[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        logger.warning(
            "Login by email matched several users (%s); they must log in by username",
            ", ".join(str(user.pk) for user in matches),
        )
    return None


def check_credentials(request: HttpRequest, identifier: str, password: str, *, by_email: bool):
    """Return the active user whose username or email and password match, else raise.

    Raises InvalidCredentials alike for an unknown user, a wrong password and
    an inactive user, so the response does not reveal which accounts exist.
    """
    user = find_user(identifier, by_email=by_email)
    # For an unknown user, authenticate() still hashes the password, so the
    # response time does not reveal whether the account exists.
    username = user.get_username() if user is not None else identifier
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        client = request.META.get("REMOTE_ADDR")
        if user is None:
            logger.info("Login failed from %s: unknown user", client)
        elif not user.is_active:
            logger.info("Login failed from %s for user %s: user is inactive", client, user.pk)
        else:
            logger.info("Login failed from %s for user %s: wrong password", client, user.pk)
        raise InvalidCredentials()
    return authenticated
