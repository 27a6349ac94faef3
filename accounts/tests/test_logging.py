import logging

import pytest

from accounts.tests.helpers import PASSWORD, bearer, login, me, refresh

pytestmark = pytest.mark.django_db


def run_every_flow(api_client, user) -> list[str]:
    """Run the auth flows and return every token string that was sent or received."""
    seen: list[str] = []
    first = login(api_client, user.username)
    seen += [first["access"], first["refresh"]]
    api_client.post("/auth/login", {"username": user.username, "password": "wrong-" + PASSWORD},
                    format="json")
    api_client.post("/auth/login", {"email": "nobody@example.com", "password": PASSWORD},
                    format="json")
    rotated = refresh(api_client, first["refresh"]).json()
    seen += [rotated["access"], rotated["refresh"]]
    refresh(api_client, first["refresh"])
    second = login(api_client, user.username)
    seen += [second["access"], second["refresh"]]
    me(api_client, second["access"])
    me(api_client, first["access"])
    me(api_client, second["access"] + "tampered")
    api_client.post("/auth/logout", {"refresh": second["refresh"]}, format="json",
                    **bearer(second["access"]))
    third = login(api_client, user.username)
    seen += [third["access"], third["refresh"]]
    api_client.post("/auth/logout-all", **bearer(third["access"]))
    refresh(api_client, third["refresh"])
    return seen


def test_logs_contain_no_secrets(api_client, user, caplog, settings):
    with caplog.at_level(logging.DEBUG):
        tokens = run_every_flow(api_client, user)

    assert caplog.records, "the flows should log something"
    text = "\n".join(record.getMessage() for record in caplog.records)
    text += "\n".join(repr(record.args) for record in caplog.records)
    for token in tokens:
        for part in token.split("."):
            assert part not in text
    assert PASSWORD not in text
    assert "Bearer" not in text
    assert settings.JWT_SECRET_KEY not in text


def test_flows_are_logged(api_client, user, caplog):
    with caplog.at_level(logging.INFO):
        run_every_flow(api_client, user)

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert f"Login succeeded for user {user.pk}" in text
    assert f"for user {user.pk}: wrong password" in text
    assert "unknown user" in text
    assert f"Refresh token reuse by user {user.pk}" in text
    assert f"Logout of user {user.pk}" in text
    assert f"Logout everywhere of user {user.pk}" in text
