"""Health probes and routing, served by a real daphne process."""

from __future__ import annotations

import httpx
import pytest

from testing.servers import free_port

pytestmark = pytest.mark.live


def test_liveness_ok(daphne_factory):
    server = daphne_factory()
    response = httpx.get(f"{server.http_url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_ok_with_dependencies_up(daphne_factory):
    server = daphne_factory()
    response = httpx.get(f"{server.http_url}/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_liveness_exempt_from_https_redirect(daphne_factory):
    server = daphne_factory(env={"SECURE_SSL_REDIRECT": "true"})
    health = httpx.get(f"{server.http_url}/health")
    assert health.status_code == 200
    other = httpx.get(f"{server.http_url}/auth/me")
    assert other.status_code == 301
    assert other.headers["location"].startswith("https://")


def test_readiness_reports_unreachable_database(daphne_factory):
    closed = free_port()
    server = daphne_factory(
        env={"DATABASE_URL": f"postgres://postgres:hunter2-db@127.0.0.1:{closed}/nowhere"}
    )
    response = httpx.get(f"{server.http_url}/health/ready", timeout=15)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}
    assert "hunter2-db" not in response.text
    assert "hunter2-db" not in server.logs()


@pytest.mark.redis
def test_readiness_reports_unreachable_redis(daphne_factory):
    closed = free_port()
    server = daphne_factory(env={"REDIS_URL": f"redis://:hunter2-redis@127.0.0.1:{closed}/0"})
    response = httpx.get(f"{server.http_url}/health/ready", timeout=15)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["channel_layer"]}
    assert "hunter2-redis" not in response.text
    assert "hunter2-redis" not in server.logs()


def test_legacy_mobile_auth_routes_absent(daphne_factory):
    server = daphne_factory()
    response = httpx.post(f"{server.http_url}/mobile-auth/login", json={})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "/mobile-auth/login" in response.json()["detail"]
