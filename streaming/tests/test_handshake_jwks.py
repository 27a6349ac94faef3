"""JWKS fetching by a live daphne: caching, rotation, outages and a hanging endpoint.

The issuer runs in the test process and daphne fetches its JWKS over loopback
HTTP, so ``auth0_issuer.fetch_count`` counts daphne's real requests.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from streaming.tests.test_handshake import (
    TIMEOUT_SECONDS,
    attempt,
    audio_url,
    auth_headers,
    live_env,
    open_stream,
    read_until_closed,
)

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# One 100 ms frame of 16 kHz mono linear16 audio, the stream's default format.
AUDIO_FRAME = b"\x00\x00" * 1600


def get_me(server, token: str, timeout: float = TIMEOUT_SECONDS) -> httpx.Response:
    return httpx.get(f"{server.http_url}/auth/me", headers=auth_headers(token), timeout=timeout)


def test_hundred_connects_cause_one_fetch(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    tokens = [auth0_issuer.mint(f"auth0|user-{index}") for index in range(100)]

    async def connect_once(token: str) -> str:
        socket, ready = await open_stream(audio_url(server), token)
        await socket.close()
        return ready["type"]

    async def run() -> list[str]:
        results = []
        for start in range(0, 100, 10):  # ten at a time: the first ten all miss the cold cache
            batch = tokens[start:start + 10]
            results += await asyncio.gather(*(connect_once(token) for token in batch))
        return results

    results = asyncio.run(run())

    assert results == ["Ready"] * 100
    assert auth0_issuer.fetch_count == 1


def test_random_kids_cause_one_refetch_per_cooldown(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    valid = auth0_issuer.mint("auth0|alice")
    random_kid_tokens = [
        auth0_issuer.mint_raw(auth0_issuer.header(kid=f"random-{index}"), auth0_issuer.claims())
        for index in range(30)
    ]

    async def run() -> list[str | None]:
        socket, _ = await open_stream(audio_url(server), valid)
        await socket.close()
        outcomes = await asyncio.gather(
            *(attempt(audio_url(server), headers=auth_headers(token)) for token in random_kid_tokens)
        )
        return [outcome.error_code for outcome in outcomes]

    codes = asyncio.run(run())

    # One fetch on the first connect; the cooldown (60 s) allows no refetch after it.
    assert codes == ["token_invalid"] * 30
    assert auth0_issuer.fetch_count == 1


def test_rotated_key_is_picked_up(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer, AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS="1"))
    old_token = auth0_issuer.mint("auth0|alice")
    assert get_me(server, old_token).status_code == 200

    auth0_issuer.rotate_key(keep_previous=False)
    new_token = auth0_issuer.mint("auth0|alice")
    time.sleep(1.1)  # past the refetch cooldown

    async def run():
        socket, ready = await open_stream(audio_url(server), new_token)
        await socket.close()
        old = await attempt(audio_url(server), headers=auth_headers(old_token))
        return ready, old

    ready, old = asyncio.run(run())

    assert ready["type"] == "Ready"
    assert old.error_code == "token_invalid"
    assert get_me(server, new_token).status_code == 200
    assert get_me(server, old_token).json()["error"] == "token_invalid"
    assert auth0_issuer.fetch_count == 2


def test_outage_serves_stale_keys_then_unavailable(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env=live_env(
            auth0_issuer,
            AUTH0_JWKS_CACHE_SECONDS="1",
            AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS="0.5",
            AUTH0_JWKS_STALE_GRACE_SECONDS="3",
        )
    )
    token = auth0_issuer.mint("auth0|alice")
    assert get_me(server, token).status_code == 200

    auth0_issuer.fail(500)
    time.sleep(1.5)  # the keys are stale now, and refreshes fail
    stale_rest = get_me(server, token)

    async def open_and_close():
        socket, ready = await open_stream(audio_url(server), token)
        await socket.close()
        return ready

    stale_ready = asyncio.run(open_and_close())
    time.sleep(3.0)  # past cache (1 s) + grace (3 s)
    expired_rest = get_me(server, token)
    expired_ws = asyncio.run(attempt(audio_url(server), headers=auth_headers(token)))

    assert stale_rest.status_code == 200
    assert stale_ready["type"] == "Ready"
    assert expired_rest.status_code == 503
    assert expired_rest.json()["error"] == "auth_unavailable"
    assert expired_ws.error_code == "auth_unavailable"
    assert expired_ws.close_code == 1013
    assert "JWKS fetch from" in server.logs()
    assert "Traceback" not in server.logs()


def test_no_keys_rest_returns_503(daphne_factory, auth0_issuer):
    auth0_issuer.stop()
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    response = get_me(server, token)

    assert response.status_code == 503
    assert response.json()["error"] == "auth_unavailable"


def test_hanging_jwks_delays_no_other_request(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env=live_env(
            auth0_issuer,
            AUTH0_JWKS_FETCH_TIMEOUT_SECONDS="25",
            AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS="1",
        )
    )
    valid = auth0_issuer.mint("auth0|alice")
    unknown_kid = auth0_issuer.mint_raw(auth0_issuer.header(kid="rotated-key"), auth0_issuer.claims("auth0|bob"))
    assert get_me(server, valid).status_code == 200
    time.sleep(1.1)  # past the refetch cooldown, so the unknown kid starts a fetch
    auth0_issuer.hang(20)

    blocked: dict[str, object] = {}

    def blocked_request() -> None:
        started = time.monotonic()
        response = get_me(server, unknown_kid, timeout=30)
        blocked["status"] = response.status_code
        blocked["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=blocked_request)
    waiter.start()

    async def measure() -> dict[str, object]:
        socket, ready = await open_stream(audio_url(server), valid)
        await asyncio.sleep(0.5)  # the unknown kid's fetch is now hanging
        fetches_while_hanging = auth0_issuer.fetch_count

        ack_seconds = []
        for _ in range(5):
            started = time.monotonic()
            await socket.send(AUDIO_FRAME)
            while True:
                message = await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
                if '"Ack"' in message:
                    break
            ack_seconds.append(time.monotonic() - started)
            await asyncio.sleep(0.1)

        rest_seconds = []
        async with httpx.AsyncClient() as client:
            for _ in range(10):
                started = time.monotonic()
                response = await client.get(
                    f"{server.http_url}/auth/me", headers=auth_headers(valid), timeout=5
                )
                assert response.status_code == 200
                rest_seconds.append(time.monotonic() - started)

        started = time.monotonic()
        second_socket, second_ready = await open_stream(audio_url(server), valid)
        handshake_seconds = time.monotonic() - started
        await second_socket.close()

        started = time.monotonic()
        unknown = await attempt(audio_url(server), headers=auth_headers(unknown_kid))
        unknown_seconds = time.monotonic() - started
        await socket.close()
        return {
            "ready": ready["type"],
            "second_ready": second_ready["type"],
            "fetches_while_hanging": fetches_while_hanging,
            "max_ack_seconds": max(ack_seconds),
            "max_rest_seconds": max(rest_seconds),
            "handshake_seconds": handshake_seconds,
            "unknown": unknown,
            "unknown_seconds": unknown_seconds,
        }

    try:
        measured = asyncio.run(measure())
    finally:
        auth0_issuer.release()
        waiter.join(35)

    assert measured["ready"] == "Ready"
    assert measured["second_ready"] == "Ready"
    assert measured["fetches_while_hanging"] == 2
    assert measured["max_ack_seconds"] < 1.0
    assert measured["max_rest_seconds"] < 1.0
    assert measured["handshake_seconds"] < 1.0
    # A handshake needing the hung fetch gives up before daphne's 5 s handshake timeout.
    assert measured["unknown"].close_code == 1013
    assert measured["unknown_seconds"] < 5.0
    # The blocked REST request waited for the fetch and ended once the issuer responded.
    assert blocked["status"] == 401
    assert auth0_issuer.fetch_count == 2


def test_hanging_jwks_timeout_ends_rest_wait(daphne_factory, auth0_issuer):
    server = daphne_factory(
        env=live_env(
            auth0_issuer,
            AUTH0_JWKS_FETCH_TIMEOUT_SECONDS="1",
            AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS="1",
        )
    )
    valid = auth0_issuer.mint("auth0|alice")
    unknown_kid = auth0_issuer.mint_raw(auth0_issuer.header(kid="rotated-key"), auth0_issuer.claims())
    assert get_me(server, valid).status_code == 200
    time.sleep(1.1)
    auth0_issuer.hang(20)

    started = time.monotonic()
    try:
        response = get_me(server, unknown_kid, timeout=15)
    finally:
        auth0_issuer.release()
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error"] == "auth_unavailable"
    assert elapsed < 4.0
    assert "timed out after 1 s" in server.logs()


def test_stream_survives_until_token_expiry_during_outage(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice", lifetime=60)

    async def run():
        socket, ready = await open_stream(audio_url(server), token)
        auth0_issuer.stop()
        await socket.send(AUDIO_FRAME)
        message = await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
        await socket.close()
        closed = await read_until_closed(socket)
        return ready, message, closed

    ready, message, closed = asyncio.run(run())

    assert ready["type"] == "Ready"
    assert '"Ack"' in message
    assert closed.close_code == 1000
