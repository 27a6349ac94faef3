"""The benchmark baseline WebSocket is absent unless explicitly enabled, and never replaces the product's stack."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.baseline import BASELINE_PATH, baseline_route_enabled

TIMEOUT_SECONDS = 10.0
BASELINE_ENV = {"BENCHMARK_BASELINE": "true", "BENCHMARK_BASELINE_WITHOUT_DEBUG": "true"}


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT_SECONDS * 3))


async def first_message_and_close_code(url: str, headers: dict[str, str] | None = None) -> tuple[dict, int | None]:
    async with connect(url, additional_headers=headers or {}, open_timeout=TIMEOUT_SECONDS) as socket:
        message = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS))
        try:
            await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
        except ConnectionClosed:
            pass
        return message, socket.close_code


async def acks_for_frames(url: str, frames: list[bytes]) -> list[dict]:
    async with connect(url, open_timeout=TIMEOUT_SECONDS) as socket:
        acks = []
        for frame in frames:
            await socket.send(frame)
            acks.append(json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)))
        return acks


@pytest.mark.parametrize(
    "environ, debug, expected",
    [
        ({}, False, False),
        ({}, True, False),
        ({"BENCHMARK_BASELINE": "false"}, True, False),
        ({"BENCHMARK_BASELINE": "true"}, True, True),
        (BASELINE_ENV, False, True),
    ],
)
def test_baseline_enabled_only_when_asked(environ, debug, expected):
    assert baseline_route_enabled(environ, debug) is expected


def test_baseline_rejected_without_debug():
    with pytest.raises(ImproperlyConfigured, match="BENCHMARK_BASELINE_WITHOUT_DEBUG"):
        baseline_route_enabled({"BENCHMARK_BASELINE": "true"}, debug=False)


@pytest.mark.live
def test_baseline_absent_by_default(daphne_factory, auth0_issuer):
    server = daphne_factory(env=auth0_issuer.env())

    # Without a token the path meets the authentication middleware, as any unknown path does.
    message, code = run(first_message_and_close_code(f"{server.ws_url}{BASELINE_PATH}"))
    assert message["type"] == "Error"
    assert message["code"] == "token_missing"
    assert code == 4401

    # With a valid token the router has no such route, so the handshake fails.
    token = auth0_issuer.mint("auth0|baseline-probe")
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        run(first_message_and_close_code(f"{server.ws_url}{BASELINE_PATH}", {"Authorization": f"Bearer {token}"}))


@pytest.mark.live
def test_baseline_acks_each_frame_when_enabled(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), **BASELINE_ENV})

    acks = run(acks_for_frames(f"{server.ws_url}{BASELINE_PATH}", [b"\x00" * 3200, b"\x00" * 1600]))

    assert acks == [{"type": "Ack", "bytes": 3200}, {"type": "Ack", "bytes": 4800}]


@pytest.mark.live
def test_audio_route_still_authenticated_with_baseline(daphne_factory, auth0_issuer):
    server = daphne_factory(env={**auth0_issuer.env(), **BASELINE_ENV})

    message, code = run(first_message_and_close_code(f"{server.ws_url}/ws/audio/"))

    assert message["code"] == "token_missing"
    assert code == 4401


@pytest.mark.live
def test_server_refuses_baseline_without_debug_override(daphne_factory, auth0_issuer):
    with pytest.raises(RuntimeError, match="BENCHMARK_BASELINE_WITHOUT_DEBUG"):
        daphne_factory(env={**auth0_issuer.env(), "BENCHMARK_BASELINE": "true", "DEBUG": "false"})
