"""Tokens on open audio streams: expiry, Authorize and revocation, on live daphne servers."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from accounts.identity import VerifiedToken
from streaming.tests.test_handshake import (
    TIMEOUT_SECONDS,
    audio_url,
    auth_headers,
    live_env,
    open_stream,
    read_until_closed,
)
from streaming.token_watch import is_token_revoked_by

AUDIO_FRAME = b"\x00\x00" * 1600


def live_server(daphne_factory, issuer, **overrides: str):
    # No leeway, so that expiry happens when the test expects it.
    return daphne_factory(env=live_env(issuer, AUTH0_LEEWAY_SECONDS="0", **overrides))


def post_logout(server, token: str, path: str = "/auth/logout") -> httpx.Response:
    return httpx.post(f"{server.http_url}{path}", headers=auth_headers(token), json={}, timeout=TIMEOUT_SECONDS)


async def next_message(socket, message_type: str) -> dict:
    """Return the next text message of ``message_type``, skipping Acks and transcripts."""
    while True:
        raw = await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
        if isinstance(raw, str) and json.loads(raw)["type"] == message_type:
            return json.loads(raw)


# Revocation events, without a server


def token_issued_at(issued_at: datetime | None, revocation_id: str = "jti-1") -> VerifiedToken:
    return VerifiedToken(
        method="auth0",
        subject="auth0|alice",
        revocation_id=revocation_id,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        issued_at=issued_at,
    )


def revoked_event(**fields) -> dict:
    return {"type": "auth.revoked", "revocation_id": None, "issued_before": None, "user_disabled": False, **fields}


def test_revocation_event_matches_revocation_id():
    token = token_issued_at(datetime.now(UTC))

    assert is_token_revoked_by(revoked_event(revocation_id="jti-1"), token)
    assert not is_token_revoked_by(revoked_event(revocation_id="jti-2"), token)


def test_revocation_event_matches_issued_before():
    issued = datetime.now(UTC) - timedelta(minutes=5)
    token = token_issued_at(issued)

    assert is_token_revoked_by(revoked_event(issued_before=time.time()), token)
    assert not is_token_revoked_by(revoked_event(issued_before=issued.timestamp() - 1), token)
    assert is_token_revoked_by(revoked_event(issued_before=time.time()), token_issued_at(None))


def test_revocation_event_matches_disabled_user():
    token = token_issued_at(datetime.now(UTC))

    assert is_token_revoked_by(revoked_event(user_disabled=True), token)
    assert not is_token_revoked_by(revoked_event(), token)


# Live servers



@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_expired_token_closes_stream(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    token = auth0_issuer.mint("auth0|alice", lifetime=3)

    async def run():
        socket, ready = await open_stream(audio_url(server), token)
        opened = time.monotonic()
        closed = await read_until_closed(socket)
        return ready, closed, time.monotonic() - opened

    ready, closed, seconds_open = asyncio.run(run())

    assert ready["type"] == "Ready"
    assert closed.error_code == "token_expired"
    assert closed.close_code == 4401
    assert 1.5 < seconds_open < 5.0


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_authorize_extends_stream(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    short = auth0_issuer.mint("auth0|alice", lifetime=3)
    fresh = auth0_issuer.mint("auth0|alice", lifetime=120)

    async def run():
        socket, _ = await open_stream(audio_url(server), short)
        await socket.send(json.dumps({"type": "Authorize", "token": fresh}))
        authorized = await next_message(socket, "Authorized")
        await asyncio.sleep(4)  # past the first token's expiry
        await socket.send(AUDIO_FRAME)
        ack = await next_message(socket, "Ack")
        await socket.close()
        return authorized, ack

    authorized, ack = asyncio.run(run())

    assert datetime.fromisoformat(authorized["expires_at"]) > datetime.now(UTC) + timedelta(seconds=60)
    assert ack["bytes"] == len(AUDIO_FRAME)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_authorize_other_subject_forbidden(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    alice = auth0_issuer.mint("auth0|alice")
    bob = auth0_issuer.mint("auth0|bob")

    async def run():
        socket, _ = await open_stream(audio_url(server), alice)
        await socket.send(json.dumps({"type": "Authorize", "token": bob}))
        return await read_until_closed(socket)

    closed = asyncio.run(run())

    assert closed.error_code == "forbidden"
    assert closed.close_code == 4403


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_authorize_invalid_tokens_close_stream(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    cases = {
        "expired": (auth0_issuer.mint("auth0|alice", lifetime=-60), "token_expired"),
        "garbage": ("garbage", "token_invalid"),
        "missing": (None, "token_missing"),
        "oversized": ("a" * 20_000, "token_invalid"),
    }

    async def run() -> dict[str, tuple]:
        results = {}
        for name, (new_token, _) in cases.items():
            socket, _ = await open_stream(audio_url(server), auth0_issuer.mint("auth0|alice"))
            message = {"type": "Authorize"} if new_token is None else {"type": "Authorize", "token": new_token}
            await socket.send(json.dumps(message))
            closed = await read_until_closed(socket)
            results[name] = (closed.error_code, closed.close_code)
        return results

    results = asyncio.run(run())

    assert results == {name: (code, 4401) for name, (_, code) in cases.items()}


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_logout_closes_stream_within_one_second(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    token = auth0_issuer.mint("auth0|alice")
    other_token = auth0_issuer.mint("auth0|alice")

    async def run():
        socket, _ = await open_stream(audio_url(server), token)
        other_socket, _ = await open_stream(audio_url(server), other_token)
        response = await asyncio.to_thread(post_logout, server, token)
        logged_out = time.monotonic()
        closed = await read_until_closed(socket)
        close_seconds = time.monotonic() - logged_out
        await other_socket.send(AUDIO_FRAME)
        other_ack = await next_message(other_socket, "Ack")
        await other_socket.close()
        return response, closed, close_seconds, other_ack

    response, closed, close_seconds, other_ack = asyncio.run(run())

    assert response.status_code == 204
    assert closed.error_code == "token_revoked"
    assert closed.close_code == 4401
    assert close_seconds < 1.0
    # A second stream of the same user with another token stays open.
    assert other_ack["type"] == "Ack"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_logout_all_closes_every_stream(daphne_factory, auth0_issuer):
    server = live_server(daphne_factory, auth0_issuer)
    first = auth0_issuer.mint("auth0|alice")
    second = auth0_issuer.mint("auth0|alice")
    bystander = auth0_issuer.mint("auth0|bob")

    async def run():
        sockets = [(await open_stream(audio_url(server), token))[0] for token in (first, second)]
        bystander_socket, _ = await open_stream(audio_url(server), bystander)
        response = await asyncio.to_thread(post_logout, server, first, "/auth/logout-all")
        closed = [await read_until_closed(socket) for socket in sockets]
        await bystander_socket.send(AUDIO_FRAME)
        bystander_ack = await next_message(bystander_socket, "Ack")
        await bystander_socket.close()
        return response, closed, bystander_ack

    response, closed, bystander_ack = asyncio.run(run())

    assert response.status_code in (200, 204)
    assert [outcome.error_code for outcome in closed] == ["token_revoked", "token_revoked"]
    assert [outcome.close_code for outcome in closed] == [4401, 4401]
    assert bystander_ack["type"] == "Ack"


@pytest.mark.live
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_logout_on_other_server_closes_stream(daphne_factory, auth0_issuer):
    server_a = live_server(daphne_factory, auth0_issuer)
    server_b = live_server(daphne_factory, auth0_issuer)
    token = auth0_issuer.mint("auth0|alice")

    async def run():
        socket, _ = await open_stream(audio_url(server_a), token)
        response = await asyncio.to_thread(post_logout, server_b, token)
        logged_out = time.monotonic()
        closed = await read_until_closed(socket)
        return response, closed, time.monotonic() - logged_out

    response, closed, close_seconds = asyncio.run(run())

    assert response.status_code == 204
    assert closed.error_code == "token_revoked"
    assert closed.close_code == 4401
    assert close_seconds < 1.0


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_revoked_token_cannot_reconnect(daphne_factory, auth0_issuer):
    from streaming.tests.test_handshake import attempt

    server = live_server(daphne_factory, auth0_issuer)
    token = auth0_issuer.mint("auth0|alice")
    assert post_logout(server, token).status_code == 204

    outcome = asyncio.run(attempt(audio_url(server), headers=auth_headers(token)))

    assert outcome.error_code == "token_revoked"
    assert outcome.close_code == 4401


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_authorize_during_jwks_hang_keeps_audio_flowing(daphne_factory, auth0_issuer):
    server = live_server(
        daphne_factory, auth0_issuer,
        AUTH0_JWKS_FETCH_TIMEOUT_SECONDS="25", AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS="1",
    )
    token = auth0_issuer.mint("auth0|alice")

    async def run():
        socket, _ = await open_stream(audio_url(server), token)
        await asyncio.sleep(1.1)  # past the refetch cooldown
        auth0_issuer.rotate_key(keep_previous=True)
        auth0_issuer.hang(20)
        await socket.send(json.dumps({"type": "Authorize", "token": auth0_issuer.mint("auth0|alice")}))
        ack_seconds = []
        for _ in range(5):
            started = time.monotonic()
            await socket.send(AUDIO_FRAME)
            await next_message(socket, "Ack")
            ack_seconds.append(time.monotonic() - started)
        auth0_issuer.release()
        authorized = await next_message(socket, "Authorized")
        await socket.close()
        return ack_seconds, authorized

    try:
        ack_seconds, authorized = asyncio.run(run())
    finally:
        auth0_issuer.release()

    assert max(ack_seconds) < 1.0
    assert authorized["type"] == "Authorized"
