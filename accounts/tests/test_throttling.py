import pytest

from accounts.tests.helpers import PASSWORD, login, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Set throttle rates for one test; scopes left out keep a rate too high to matter."""

    def set_rates(**overrides: str) -> None:
        defaults = {
            "login": "1000/minute",
            "login_ip": "1000/minute",
            "login_username": "1000/minute",
            "refresh_ip": "1000/minute",
            "refresh_user": "1000/minute",
        }
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**defaults, **overrides},
        }

    return set_rates


def attempt(api_client, username: str, address: str = "203.0.113.7", **extra):
    return api_client.post(
        "/auth/login",
        {"username": username, "password": "wrong"},
        format="json",
        REMOTE_ADDR=address,
        **extra,
    )


def test_login_throttled_per_ip_and_username(api_client, user, rates):
    rates(login="3/minute")

    statuses = [attempt(api_client, "ann").status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]
    blocked = attempt(api_client, "ann")
    assert blocked.json()["error"] == "throttled"
    assert 0 < int(blocked["Retry-After"]) <= 60


def test_login_throttle_blocks_correct_password(api_client, user, rates):
    rates(login="2/minute")
    attempt(api_client, "ann")
    attempt(api_client, "ann")

    response = api_client.post(
        "/auth/login", {"username": "ann", "password": PASSWORD}, format="json",
        REMOTE_ADDR="203.0.113.7",
    )

    assert response.status_code == 429


def test_login_throttle_keys_username_case_insensitively(api_client, user, rates):
    rates(login="2/minute")
    attempt(api_client, "ann")
    attempt(api_client, "ANN")

    assert attempt(api_client, "Ann").status_code == 429


def test_other_ip_not_blocked_by_pair_limit(api_client, user, rates):
    rates(login="2/minute")
    attempt(api_client, "ann")
    attempt(api_client, "ann")

    assert attempt(api_client, "ann", address="198.51.100.9").status_code == 401


def test_login_throttled_per_ip(api_client, user, rates):
    rates(login_ip="3/minute")
    for name in ("a", "b", "c"):
        attempt(api_client, name)

    assert attempt(api_client, "d").status_code == 429
    assert attempt(api_client, "d", address="198.51.100.9").status_code == 401


def test_login_throttled_per_username(api_client, user, rates):
    rates(login_username="3/minute")
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        attempt(api_client, "ann", address=address)

    assert attempt(api_client, "ann", address="198.51.100.4").status_code == 429
    assert attempt(api_client, "bob", address="198.51.100.4").status_code == 401


def test_forwarded_for_does_not_evade(api_client, user, rates):
    rates(login_ip="2/minute")
    attempt(api_client, "a", HTTP_X_FORWARDED_FOR="192.0.2.1")
    attempt(api_client, "b", HTTP_X_FORWARDED_FOR="192.0.2.2")

    assert attempt(api_client, "c", HTTP_X_FORWARDED_FOR="192.0.2.3").status_code == 429


def test_refresh_throttled_per_ip(api_client, user, rates):
    rates(refresh_ip="2/minute")
    refresh(api_client, "x", REMOTE_ADDR="203.0.113.7")
    refresh(api_client, "y", REMOTE_ADDR="203.0.113.7")

    response = refresh(api_client, "z", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 429
    assert "Retry-After" in response


def test_refresh_throttled_per_user(api_client, user, rates):
    rates(refresh_user="2/minute")
    current = login(api_client, user.username)["refresh"]
    for address in ("198.51.100.1", "198.51.100.2"):
        response = refresh(api_client, current, REMOTE_ADDR=address)
        assert response.status_code == 200
        current = response.json()["refresh"]

    response = refresh(api_client, current, REMOTE_ADDR="198.51.100.3")

    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
