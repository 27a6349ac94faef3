"""WebSocket handshakes against a live daphne: origin check and Auth0 token rejection.

Every test here starts a real daphne subprocess and connects with the
``websockets`` client over loopback. Rejected handshakes never reach the audio
consumer. The helpers are shared with the other live WebSocket tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from streaming.protocol import SUBPROTOCOL
from testing.issuer import HOSTILE_CASES, hostile_tokens

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ALLOWED_ORIGINS = "https://app.example.com,http://localhost:3000,https://secure.example.com:443"
# Bound on each wait for the server, so that a broken server fails a test instead of hanging it.
TIMEOUT_SECONDS = 10.0


def live_env(issuer, **overrides: str) -> dict[str, str]:
    """Return the daphne environment for these tests: trust ``issuer``, no speech engine."""
    return {
        **issuer.env(),
        "WEBSOCKET_ALLOWED_ORIGINS": ALLOWED_ORIGINS,
        "TRANSCRIPTION_ENGINE": "none",
        **overrides,
    }


@dataclass
class Outcome:
    """How a handshake ended: an HTTP status, or the frames received before the close."""

    http_status: int | None = None
    subprotocol: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    @property
    def error_code(self) -> str | None:
        errors = [message for message in self.messages if message.get("type") == "Error"]
        return errors[0]["code"] if errors else None


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bearer_subprotocols(token: str) -> list[str]:
    return [SUBPROTOCOL, f"bearer.{token}"]


async def attempt(
    url: str,
    *,
    origin: str | None = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    subprotocols: Sequence[str] | None = None,
) -> Outcome:
    """Open a WebSocket and read frames until the server closes it."""
    try:
        async with connect(
            url,
            origin=origin,
            additional_headers=headers,
            subprotocols=subprotocols,
            open_timeout=TIMEOUT_SECONDS,
            max_size=2**20,
        ) as socket:
            outcome = Outcome(subprotocol=socket.subprotocol)
            try:
                while True:
                    raw = await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS)
                    outcome.messages.append(json.loads(raw))
            except ConnectionClosed as closed:
                outcome.close_code = closed.rcvd.code if closed.rcvd else None
            return outcome
    except InvalidStatus as exc:
        return Outcome(http_status=exc.response.status_code)


async def open_stream(
    url: str,
    token: str,
    *,
    use_subprotocol: bool = False,
    origin: str | None = None,
) -> tuple[ClientConnection, dict[str, Any]]:
    """Open an authenticated audio stream and return the socket and its Ready message."""
    socket = await connect(
        url,
        origin=origin,
        additional_headers=None if use_subprotocol else auth_headers(token),
        subprotocols=bearer_subprotocols(token) if use_subprotocol else [SUBPROTOCOL],
        open_timeout=TIMEOUT_SECONDS,
    )
    first = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT_SECONDS))
    return socket, first


async def read_until_closed(socket: ClientConnection, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """Read frames (ignoring Ack and Transcript) until the server closes the socket."""
    outcome = Outcome(subprotocol=socket.subprotocol)
    try:
        while True:
            raw = await asyncio.wait_for(socket.recv(), timeout)
            if isinstance(raw, str):
                outcome.messages.append(json.loads(raw))
    except ConnectionClosed as closed:
        outcome.close_code = closed.rcvd.code if closed.rcvd else None
    return outcome


def audio_url(server) -> str:
    return f"{server.ws_url}/ws/audio/"


# Origin check


ORIGIN_CASES = {
    "exact": ("https://app.example.com", "auth"),
    "upper_case_host": ("https://APP.Example.COM", "auth"),
    "explicit_default_port": ("https://app.example.com:443", "auth"),
    "allowlist_entry_with_default_port": ("https://secure.example.com", "auth"),
    "localhost_with_port": ("http://localhost:3000", "auth"),
    "null": ("null", 403),
    "suffix_attack": ("https://app.example.com.evil.test", 403),
    "prefix_attack": ("https://evil-app.example.com", 403),
    "wrong_scheme": ("http://app.example.com", 403),
    "wrong_port": ("https://app.example.com:8443", 403),
    "http_default_port_is_not_https": ("http://app.example.com:443", 403),
    "localhost_other_port": ("http://localhost:3001", 403),
    "with_path": ("https://app.example.com/path", 403),
    # Autobahn, under daphne, responds with 400 itself to an Origin that is not a URL.
    "not_an_origin": ("app.example.com", 400),
}


def classify(outcome: Outcome) -> int | str:
    """Return the HTTP status of a rejection, or "auth" when the handshake reached authentication."""
    if outcome.http_status is not None:
        return outcome.http_status
    return "auth" if outcome.error_code == "token_missing" else f"unexpected {outcome}"


def test_origin_matrix(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))

    async def run() -> dict[str, int | str]:
        results = {}
        for name, (origin, _) in ORIGIN_CASES.items():
            results[name] = classify(await attempt(audio_url(server), origin=origin))
        return results

    results = asyncio.run(run())

    assert results == {name: expected for name, (_, expected) in ORIGIN_CASES.items()}
    assert "Rejected WebSocket handshake" in server.logs()
    assert "'https://app.example.com.evil.test' is not in WEBSOCKET_ALLOWED_ORIGINS" in server.logs()


def test_missing_origin_allowed_by_default(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))

    outcome = asyncio.run(attempt(audio_url(server)))

    assert classify(outcome) == "auth"


def test_missing_origin_rejected_when_required(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer, WEBSOCKET_REQUIRE_ORIGIN="true"))

    async def run() -> tuple[Outcome, Outcome]:
        missing = await attempt(audio_url(server))
        present = await attempt(audio_url(server), origin="https://app.example.com")
        return missing, present

    missing, present = asyncio.run(run())

    assert missing.http_status == 403
    assert classify(present) == "auth"


def test_two_origin_headers_rejected(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    headers = [("Origin", "https://app.example.com"), ("Origin", "https://evil.test")]

    outcome = asyncio.run(attempt(audio_url(server), headers=headers))

    assert outcome.http_status == 403


def test_origin_rejected_before_authentication(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    outcome = asyncio.run(
        attempt(audio_url(server), origin="https://evil.test", headers=auth_headers(token))
    )

    assert outcome.http_status == 403
    assert auth0_issuer.fetch_count == 0


# Token rejection


def test_hostile_tokens_rejected_over_websocket(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    table = hostile_tokens(auth0_issuer)
    cases = [case for case in HOSTILE_CASES if case != "oversized_100kb"]

    async def run() -> dict[str, tuple]:
        results = {}
        for case in cases:
            token, _ = table[case]
            for transport in ("header", "subprotocol"):
                if transport == "header":
                    outcome = await attempt(audio_url(server), headers=auth_headers(token))
                else:
                    outcome = await attempt(audio_url(server), subprotocols=bearer_subprotocols(token))
                leaked = any(token in json.dumps(message) for message in outcome.messages)
                results[f"{case}/{transport}"] = (outcome.error_code, outcome.close_code, leaked)
        return results

    results = asyncio.run(run())

    expected = {
        f"{case}/{transport}": (table[case][1], 4401, False)
        for case in cases
        for transport in ("header", "subprotocol")
    }
    assert results == expected


def test_rejection_sends_one_error_then_closes(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    expired = auth0_issuer.mint("auth0|alice", lifetime=-3600)

    outcome = asyncio.run(attempt(audio_url(server), subprotocols=bearer_subprotocols(expired)))

    assert outcome.subprotocol == SUBPROTOCOL
    assert len(outcome.messages) == 1
    assert outcome.messages[0]["type"] == "Error"
    assert outcome.messages[0]["code"] == "token_expired"
    assert "expired" in outcome.messages[0]["message"]
    assert outcome.close_code == 4401


def test_oversized_header_rejected_quickly(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = hostile_tokens(auth0_issuer)["oversized_100kb"][0]

    async def run() -> tuple[Outcome | str, float, Outcome]:
        started = time.monotonic()
        try:
            outcome: Outcome | str = await attempt(audio_url(server), headers=auth_headers(token))
        except (InvalidMessage, OSError, asyncio.TimeoutError) as exc:
            outcome = type(exc).__name__
        elapsed = time.monotonic() - started
        after = await attempt(audio_url(server))
        return outcome, elapsed, after

    outcome, elapsed, after = asyncio.run(run())

    # Daphne's HTTP parser (Twisted) drops requests whose headers exceed 16 KB
    # before the application runs. The server must do so quickly and keep serving.
    assert not (isinstance(outcome, Outcome) and outcome.subprotocol is not None)
    assert elapsed < 5.0
    assert after.error_code == "token_missing"


def test_missing_token_rejected(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))

    outcome = asyncio.run(attempt(audio_url(server), subprotocols=[SUBPROTOCOL]))

    assert outcome.subprotocol == SUBPROTOCOL
    assert outcome.error_code == "token_missing"
    assert outcome.close_code == 4401


@pytest.mark.parametrize("parameter", ["token", "access_token"])
def test_query_string_token_rejected(daphne_factory, auth0_issuer, parameter):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    outcome = asyncio.run(attempt(f"{audio_url(server)}?{parameter}={token}"))

    assert outcome.error_code == "token_invalid"
    assert "URL" in outcome.messages[0]["message"]
    assert token not in outcome.messages[0]["message"]
    assert outcome.close_code == 4401


def test_query_string_token_rejected_even_with_header(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    outcome = asyncio.run(attempt(f"{audio_url(server)}?token={token}", headers=auth_headers(token)))

    assert outcome.error_code == "token_invalid"
    assert outcome.close_code == 4401


def test_local_token_rejected(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    now = int(time.time())
    local_claims = {
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "aud": settings.SIMPLE_JWT["AUDIENCE"],
        "sub": "1",
        "token_type": "access",
        "jti": "local-jti",
        "iat": now,
        "exp": now + 300,
    }
    local_token = jwt.encode(local_claims, "any-secret-of-the-right-length-for-hs256", algorithm="HS256")

    outcome = asyncio.run(attempt(audio_url(server), headers=auth_headers(local_token)))

    assert outcome.error_code == "token_invalid"
    assert "Auth0" in outcome.messages[0]["message"]
    assert outcome.close_code == 4401
    assert auth0_issuer.fetch_count == 0


def test_malformed_authorization_rejected(daphne_factory, auth0_issuer):
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    async def run() -> list[Outcome]:
        return [
            await attempt(audio_url(server), headers={"Authorization": "Basic dXNlcjpwYXNz"}),
            await attempt(
                audio_url(server), headers=auth_headers(token), subprotocols=bearer_subprotocols(token)
            ),
        ]

    basic, twice = asyncio.run(run())

    assert basic.error_code == "token_invalid"
    assert twice.error_code == "token_invalid"


def test_no_keys_closes_with_try_again_later(daphne_factory, auth0_issuer):
    auth0_issuer.fail(503)
    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice")

    outcome = asyncio.run(attempt(audio_url(server), headers=auth_headers(token)))

    assert outcome.error_code == "auth_unavailable"
    assert outcome.close_code == 1013
    assert "Exception inside application" not in server.logs()


# Accepted handshakes


@pytest.mark.parametrize("use_subprotocol", [False, True], ids=["header", "subprotocol"])
def test_valid_token_opens_stream(daphne_factory, auth0_issuer, use_subprotocol):
    from django.contrib.auth import get_user_model

    server = daphne_factory(env=live_env(auth0_issuer))
    token = auth0_issuer.mint("auth0|alice", claims={"email": "alice@example.com"})

    async def run() -> tuple[str | None, dict]:
        socket, ready = await open_stream(
            audio_url(server), token, use_subprotocol=use_subprotocol, origin="https://app.example.com"
        )
        subprotocol = socket.subprotocol
        await socket.close()
        return subprotocol, ready

    subprotocol, ready = asyncio.run(run())

    assert subprotocol == SUBPROTOCOL
    assert ready["type"] == "Ready"
    user = get_user_model().objects.get(auth0_sub="auth0|alice")
    assert user.email == "alice@example.com"
    assert token not in server.logs()
