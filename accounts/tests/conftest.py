"""Fixtures for the accounts tests: users, API clients and an isolated throttle cache."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.helpers import PASSWORD, login


@pytest.fixture(autouse=True)
def isolated_cache(settings) -> None:
    """Give each test its own cache key prefix, so throttle counters never leak between tests.

    A prefix rather than cache.clear(), which would flush a Redis database
    that other test runs share.
    """
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-accounts-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # PBKDF2 at production cost takes a good part of a second per hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(username: str | None = None, **fields) -> User:
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        fields.setdefault("email", f"{username}@example.com")
        return User.objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user("ann", email="Ann@Example.com")


class HttpsAPIClient(APIClient):
    """An API client whose requests arrive over HTTPS, as SECURE_SSL_REDIRECT expects."""

    def generic(self, method, path, data="", content_type="application/octet-stream", **extra):
        extra["secure"] = True
        return super().generic(method, path, data, content_type, **extra)


@pytest.fixture
def api_client() -> APIClient:
    return HttpsAPIClient()


@pytest.fixture
def tokens(api_client, user) -> dict:
    """Access and refresh tokens of a fresh login by ``user``."""
    return login(api_client, user.username)
