"""Fixtures shared by every app's tests: markers for real services and live daphne servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping

import pytest
from django.conf import settings
from django.db import connection

from testing.servers import DaphneServer, database_url

RUNNING_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing_service(marker_name: str) -> str | None:
    if marker_name == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker_name == "redis" and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker_name in ("postgres", "redis"):
        if item.get_closest_marker(marker_name) is None:
            continue
        reason = _missing_service(marker_name)
        if reason is None:
            continue
        if RUNNING_IN_CI:
            pytest.fail(f"{reason} (CI must run this test, not skip it)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def channel_prefix() -> str:
    """A channel layer prefix unique to this test run, so parallel runs sharing Redis stay apart."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def daphne_factory(
    transactional_db, tmp_path, channel_prefix
) -> Iterator[Callable[..., DaphneServer]]:
    """Start daphne processes that share the test database; all are stopped at teardown."""
    servers: list[DaphneServer] = []
    media_root = tmp_path / "media"
    media_root.mkdir(exist_ok=True)

    def start(env: Mapping[str, str] | None = None, **kwargs) -> DaphneServer:
        base_env = {
            "DATABASE_URL": database_url(connection.settings_dict),
            "MEDIA_ROOT": str(media_root),
            "CHANNEL_LAYER_PREFIX": channel_prefix,
            "CACHE_KEY_PREFIX": channel_prefix,
            "SECURE_SSL_REDIRECT": "false",
        }
        log_path = tmp_path / f"daphne-{len(servers)}.log"
        server = DaphneServer({**base_env, **(env or {})}, log_path, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


# ---------------------------------------------------------------------------
# Auth0 test issuer, shared by the accounts and streaming tests.
# ---------------------------------------------------------------------------


@pytest.fixture
def auth0_issuer(settings):
    """A local Auth0 stand-in on a free loopback port (``testing.issuer.TestIssuer``).

    In-process code trusts it: ``settings.AUTH0`` points at it and the JWKS
    client starts empty. For a live server use ``auth0_server``, or pass
    ``auth0_issuer.env()`` to ``daphne_factory``.
    """
    from accounts.auth0.jwks import reset_jwks_client
    from testing.issuer import TestIssuer

    issuer = TestIssuer(audience=settings.AUTH0["audience"]).start()
    settings.AUTH0 = issuer.auth0_settings()
    reset_jwks_client()
    yield issuer
    issuer.stop()
    reset_jwks_client()


@pytest.fixture
def auth0_server(daphne_factory, auth0_issuer) -> DaphneServer:
    """A live daphne server that trusts ``auth0_issuer``."""
    return daphne_factory(env=auth0_issuer.env())
