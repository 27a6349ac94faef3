"""The JWKS client against a local issuer over loopback HTTP, with an injected clock."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.auth0.errors import AuthUnavailableError, TokenInvalidError
from accounts.auth0.jwks import JWKSClient, JWKSFetchError, parse_jwks
from testing.issuer import TestIssuer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def issuer():
    issuer = TestIssuer().start()
    yield issuer
    issuer.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(issuer, clock):
    clients: list[JWKSClient] = []

    def make(**options) -> JWKSClient:
        options.setdefault("fetch_timeout_seconds", 2.0)
        client = JWKSClient(issuer.jwks_url, clock=clock, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def wait_for_idle(client: JWKSClient, timeout: float = 5.0) -> None:
    """Wait until no fetch is running (background refreshes finish on their own thread)."""
    deadline = time.monotonic() + timeout
    while client._in_flight is not None and time.monotonic() < deadline:
        time.sleep(0.01)


def test_hundred_lookups_cause_one_fetch(issuer, make_client):
    client = make_client()

    keys = [client.get_signing_key(issuer.current_kid) for _ in range(100)]

    assert issuer.fetch_count == 1
    assert client.fetch_count == 1
    assert {key.kid for key in keys} == {issuer.current_kid}


def test_random_kids_refetch_once_per_cooldown(issuer, make_client, clock):
    client = make_client(refetch_cooldown_seconds=60)
    client.get_signing_key(issuer.current_kid)

    for _ in range(50):
        with pytest.raises(TokenInvalidError):
            client.get_signing_key(uuid.uuid4().hex)
    fetches_within_cooldown = issuer.fetch_count

    clock.advance(61)
    for _ in range(50):
        with pytest.raises(TokenInvalidError):
            client.get_signing_key(uuid.uuid4().hex)

    assert fetches_within_cooldown == 1
    assert issuer.fetch_count == 2


def test_concurrent_threads_share_one_fetch(issuer, make_client):
    client = make_client()
    issuer.hang(0.5)

    with ThreadPoolExecutor(max_workers=20) as pool:
        keys = list(pool.map(lambda _: client.get_signing_key(issuer.current_kid), range(20)))

    assert issuer.fetch_count == 1
    assert all(key.kid == issuer.current_kid for key in keys)


def test_concurrent_coroutines_share_one_fetch_without_blocking(issuer, make_client):
    client = make_client()
    issuer.hang(0.5)

    async def run() -> tuple[list, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        keys = await asyncio.gather(*(client.aget_signing_key(issuer.current_kid) for _ in range(50)))
        ticking.cancel()
        return keys, ticks

    keys, ticks = asyncio.run(run())

    assert issuer.fetch_count == 1
    assert all(key.kid == issuer.current_kid for key in keys)
    # The loop kept running while the fetch was held for 0.5 s.
    assert ticks >= 20


def test_threads_and_coroutines_share_one_fetch(issuer, make_client):
    client = make_client()
    issuer.hang(0.5)
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(client.get_signing_key(issuer.current_kid)))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()

    async def run():
        return await asyncio.gather(*(client.aget_signing_key(issuer.current_kid) for _ in range(5)))

    results.extend(asyncio.run(run()))
    for thread in threads:
        thread.join(5)

    assert len(results) == 10
    assert issuer.fetch_count == 1


def test_rotated_key_is_fetched_and_removed_key_stops(issuer, make_client, clock):
    client = make_client()
    old_kid = issuer.current_kid
    client.get_signing_key(old_kid)

    new_kid = issuer.rotate_key(keep_previous=False)
    clock.advance(61)
    found = client.get_signing_key(new_kid)

    assert found.kid == new_kid
    with pytest.raises(TokenInvalidError):
        client.get_signing_key(old_kid)


def test_key_kept_during_rotation_verifies_until_removed(issuer, make_client, clock):
    client = make_client()
    old_kid = issuer.current_kid
    new_kid = issuer.rotate_key(keep_previous=True)
    client.get_signing_key(new_kid)

    assert client.get_signing_key(old_kid).kid == old_kid

    issuer.remove_key(old_kid)
    clock.advance(601)  # the cache expires: the next lookup refreshes in the background
    client.get_signing_key(new_kid)
    wait_for_idle(client)

    with pytest.raises(TokenInvalidError):
        client.get_signing_key(old_kid)


def test_outage_serves_stale_keys_within_grace(issuer, make_client, clock):
    client = make_client(cache_seconds=600, stale_grace_seconds=3600)
    kid = issuer.current_kid
    client.get_signing_key(kid)
    issuer.fail(500)

    clock.advance(601)
    stale = client.get_signing_key(kid)
    wait_for_idle(client)
    clock.advance(3000)
    still_stale = client.get_signing_key(kid)
    wait_for_idle(client)

    assert stale.kid == kid
    assert still_stale.kid == kid
    assert issuer.fetch_count == 3

    clock.advance(600)  # 4201 s after the fetch: past cache (600) + grace (3600)
    with pytest.raises(AuthUnavailableError):
        client.get_signing_key(kid)


def test_unknown_kid_during_outage_is_unavailable(issuer, make_client, clock):
    client = make_client()
    client.get_signing_key(issuer.current_kid)
    issuer.fail(500)
    clock.advance(61)

    with pytest.raises(AuthUnavailableError):
        client.get_signing_key("rotated-key")


def test_no_keys_raises_unavailable_and_respects_cooldown(issuer, make_client, clock):
    client = make_client(refetch_cooldown_seconds=60)
    issuer.fail(503)

    for _ in range(20):
        with pytest.raises(AuthUnavailableError):
            client.get_signing_key(issuer.current_kid)

    assert issuer.fetch_count == 1

    issuer.recover()
    clock.advance(61)
    assert client.get_signing_key(issuer.current_kid).kid == issuer.current_kid
    assert issuer.fetch_count == 2


def test_issuer_down_raises_unavailable(issuer, make_client):
    client = make_client()
    issuer.stop()

    with pytest.raises(AuthUnavailableError):
        client.get_signing_key("any")


def test_hanging_fetch_times_out_without_blocking_cached_lookups(issuer, make_client, clock):
    client = make_client(fetch_timeout_seconds=1.0)
    known = issuer.current_kid
    client.get_signing_key(known)
    issuer.hang(10)
    clock.advance(61)

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        waiting = pool.submit(client.get_signing_key, "new-kid")
        time.sleep(0.2)
        lookup_started = time.monotonic()
        cached = client.get_signing_key(known)
        lookup_seconds = time.monotonic() - lookup_started
        with pytest.raises(AuthUnavailableError):
            waiting.result(timeout=5)
        waited = time.monotonic() - started
    issuer.release()

    assert cached.kid == known
    assert lookup_seconds < 0.05
    assert waited < 3.0


def test_expired_cache_refreshes_in_background(issuer, make_client, clock):
    client = make_client()
    kid = issuer.current_kid
    client.get_signing_key(kid)
    issuer.hang(2)
    clock.advance(601)

    started = time.monotonic()
    key = client.get_signing_key(kid)
    elapsed = time.monotonic() - started
    issuer.release()
    wait_for_idle(client)

    assert key.kid == kid
    assert elapsed < 0.05
    assert issuer.fetch_count == 2


def test_parse_jwks_skips_unusable_keys(issuer):
    good = issuer.jwks()["keys"][0]
    document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {**good, "kid": ""},
            {**good, "kid": "encryption", "use": "enc"},
            {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB", "alg": "RS256"},
            "not-a-key",
            good,
        ]
    }

    keys = parse_jwks(document)

    assert list(keys) == [good["kid"]]


@pytest.mark.parametrize("document", [{}, {"keys": []}, {"keys": "none"}, [], {"keys": [{"kty": "oct", "kid": "a"}]}])
def test_parse_jwks_rejects_documents_without_keys(document):
    with pytest.raises(JWKSFetchError):
        parse_jwks(document)
