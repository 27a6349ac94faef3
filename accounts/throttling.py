"""Rate limits for login and refresh, per client IP and per account.

The rates are the scopes in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, read
on every request so that ``override_settings`` applies. Counters live in the
default cache, which is Redis when REDIS_URL is set and so is shared by every
process. Account names are hashed into the cache key.
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from accounts.exceptions import TokenExpired, TokenInvalid
from accounts.tokens import decode_refresh_token, subject


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def login_identifier(request: Request) -> str | None:
    """Return the lower-cased username or email of a login request, or None."""
    data = request.data if hasattr(request.data, "get") else {}
    for field in ("username", "email"):
        value = data.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


class ScopedRateThrottle(throttling.SimpleRateThrottle):
    """A throttle whose rate is read from the settings at call time, keyed by ``ident_parts``."""

    def get_rate(self) -> str | None:
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(
                f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no rate for {self.scope!r}: "
                "add one such as '10/minute', or None to turn the limit off"
            ) from exc

    def ident_parts(self, request: Request) -> list[str] | None:
        raise NotImplementedError

    def get_cache_key(self, request: Request, view) -> str | None:
        parts = self.ident_parts(request)
        if parts is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ":".join(parts)}


class LoginIPThrottle(ScopedRateThrottle):
    scope = "login_ip"

    def ident_parts(self, request: Request) -> list[str] | None:
        return [self.get_ident(request)]


class LoginThrottle(ScopedRateThrottle):
    """Rate limit on attempts at one account from one client IP."""

    scope = "login"

    def ident_parts(self, request: Request) -> list[str] | None:
        identifier = login_identifier(request)
        return None if identifier is None else [self.get_ident(request), _digest(identifier)]


class LoginUsernameThrottle(ScopedRateThrottle):
    """Rate limit on attempts at one account from all IPs, which slows distributed guessing."""

    scope = "login_username"

    def ident_parts(self, request: Request) -> list[str] | None:
        identifier = login_identifier(request)
        return None if identifier is None else [_digest(identifier)]


class RefreshIPThrottle(ScopedRateThrottle):
    scope = "refresh_ip"

    def ident_parts(self, request: Request) -> list[str] | None:
        return [self.get_ident(request)]


class RefreshUserThrottle(ScopedRateThrottle):
    """Rate limit on refreshes per user, taken from a refresh token whose signature is valid."""

    scope = "refresh_user"

    def ident_parts(self, request: Request) -> list[str] | None:
        encoded = request.data.get("refresh") if hasattr(request.data, "get") else None
        if not isinstance(encoded, str):
            return None
        try:
            token = decode_refresh_token(encoded)
        except (TokenInvalid, TokenExpired):
            return None
        return [subject(token)]


LOGIN_THROTTLES = [LoginIPThrottle, LoginThrottle, LoginUsernameThrottle]
REFRESH_THROTTLES = [RefreshIPThrottle, RefreshUserThrottle]
