"""Twenty simultaneous refreshes with one token, against PostgreSQL and real daphne processes."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import global_settings
from django.db import connections
from django.test import Client

from accounts.models import User
from accounts.tests.helpers import PASSWORD

CONCURRENCY = 20
SERVERS = 4
# Generous limits, so only the rotation decides the outcome.
SERVER_ENV = {
    "THROTTLE_REFRESH_IP_RATE": "1000/minute",
    "THROTTLE_REFRESH_USER_RATE": "1000/minute",
    "THROTTLE_LOGIN_RATE": "1000/minute",
}


def post_all_at_once(send, count: int) -> list[int]:
    """Call ``send(i)`` from ``count`` threads released together and return the status codes."""
    barrier = threading.Barrier(count)

    def run(index: int) -> int:
        barrier.wait(timeout=30)
        try:
            return send(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.live
def test_concurrent_refresh_on_daphne(daphne_factory, settings):
    # daphne runs with the project's hashers, not the fast one of these tests.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    User.objects.create_user("racer", password=PASSWORD)
    servers = [daphne_factory(env=SERVER_ENV) for _ in range(SERVERS)]
    with httpx.Client(timeout=30) as http:
        tokens = http.post(
            f"{servers[0].http_url}/auth/login", json={"username": "racer", "password": PASSWORD}
        ).json()

    def send(index: int) -> int:
        url = f"{servers[index % SERVERS].http_url}/auth/refresh"
        return httpx.post(url, json={"refresh": tokens["refresh"]}, timeout=30).status_code

    statuses = post_all_at_once(send, CONCURRENCY)

    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == CONCURRENCY - 1, statuses
    logs = "".join(server.logs() for server in servers)
    assert "Refresh token reuse by user" in logs


@pytest.mark.postgres
def test_concurrent_refresh_in_threads(transactional_db, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "refresh_ip": None,
            "refresh_user": None,
        },
    }
    User.objects.create_user("racer", password=PASSWORD)
    login = Client().post(
        "/auth/login",
        {"username": "racer", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    refresh_token = login.json()["refresh"]

    def send(index: int) -> int:
        response = Client().post(
            "/auth/refresh",
            {"refresh": refresh_token},
            content_type="application/json",
            secure=True,
        )
        return response.status_code

    statuses = post_all_at_once(send, CONCURRENCY)

    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == CONCURRENCY - 1, statuses
