"""Fetch and cache the Auth0 tenant's signing keys (its JWKS).

One ``JWKSClient`` serves a whole process (``get_jwks_client``). Keys are
fetched over HTTP on a dedicated thread, never on an event loop, and cached:

- Fresh keys are used for ``cache_seconds`` after a successful fetch. After
  that they are stale: a token whose ``kid`` is among them is still verified
  at once while a refresh runs in the background.
- Stale keys keep verifying for ``stale_grace_seconds`` after they expire, so a
  JWKS outage does not log everyone out. Past that, and before the first
  successful fetch, there are no usable keys and ``AuthUnavailableError`` is
  raised.
- An unknown ``kid`` starts a refetch, but fetches start at most once per
  ``refetch_cooldown_seconds``, however many tokens carry unknown kids.
  Concurrent callers that need the same fetch wait for one shared future.
- A key that a successful fetch no longer lists stops verifying at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from accounts.auth0.errors import AuthUnavailableError, TokenInvalidError

logger = logging.getLogger(__name__)

# A JWKS is a few KB; anything far larger is not one.
MAX_JWKS_BYTES = 256 * 1024
SUPPORTED_KEY_TYPES = ("RSA", "EC")


@dataclass(frozen=True)
class SigningKey:
    """One public key from the JWKS, with the algorithm its JWK names (if any)."""

    kid: str
    key: Any
    algorithm: str | None


class JWKSFetchError(Exception):
    """A JWKS download or parse failed; the message is safe to log."""


def parse_jwks(document: Any) -> dict[str, SigningKey]:
    """Return the usable signing keys of a JWKS document, keyed by kid.

    Keys without a kid, with ``use`` other than ``sig`` or of another type than
    RSA or EC are skipped. Raise ``JWKSFetchError`` when none is left, because a
    tenant always has a signing key and an empty set means a broken response.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSFetchError("the response is not a JWKS: it has no 'keys' list")

    keys: dict[str, SigningKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in SUPPORTED_KEY_TYPES:
            continue
        algorithm = entry.get("alg") if isinstance(entry.get("alg"), str) else None
        try:
            key = PyJWK(entry, algorithm).key
        except PyJWTError as exc:
            logger.warning("Skipped JWKS key kid=%r: %s", kid, exc)
            continue
        # A JWK that carries private parameters yields a private key; verify with its public half.
        public_key = key.public_key() if hasattr(key, "public_key") else key
        keys[kid] = SigningKey(kid=kid, key=public_key, algorithm=algorithm)

    if not keys:
        raise JWKSFetchError("the JWKS contains no usable signing key")
    return keys


class JWKSClient:
    """A cached, rate-limited view of one JWKS URL; safe to share between threads and event loops."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 600.0,
        refetch_cooldown_seconds: float = 60.0,
        stale_grace_seconds: float = 6 * 3600.0,
        fetch_timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.refetch_cooldown_seconds = refetch_cooldown_seconds
        self.stale_grace_seconds = stale_grace_seconds
        self.fetch_timeout_seconds = fetch_timeout_seconds
        self._clock = clock
        self._http = httpx.Client(
            timeout=fetch_timeout_seconds, transport=transport, follow_redirects=False
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks-fetch")

        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False
        self._in_flight: Future[None] | None = None
        self._fetch_count = 0

    @property
    def fetch_count(self) -> int:
        """Number of fetches started since this client was created."""
        return self._fetch_count

    def get_signing_key(self, kid: str) -> SigningKey:
        """Return the key for ``kid``, blocking this thread while a needed fetch runs.

        Raises ``TokenInvalidError`` for a kid that a successful fetch does not
        list, and ``AuthUnavailableError`` when no usable keys can be had.
        """
        found = self._find_or_fetch(kid)
        if isinstance(found, SigningKey):
            return found
        try:
            found.result(timeout=self._wait_seconds)
        except FutureTimeoutError:
            pass
        return self._key_after_fetch(kid)

    async def aget_signing_key(self, kid: str) -> SigningKey:
        """Like ``get_signing_key``, but await the shared fetch without holding a thread."""
        found = self._find_or_fetch(kid)
        if isinstance(found, SigningKey):
            return found
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(found)), self._wait_seconds)
        except asyncio.TimeoutError:
            pass
        return self._key_after_fetch(kid)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    @property
    def _wait_seconds(self) -> float:
        return self.fetch_timeout_seconds + 1.0

    def _find_or_fetch(self, kid: str) -> SigningKey | Future[None]:
        """Return the cached key, or the future of the fetch that may bring it."""
        with self._lock:
            now = self._clock()
            if self._keys_usable(now) and kid in self._keys:
                if self._keys_expired(now):
                    self._start_fetch(now)
                return self._keys[kid]
            future = self._start_fetch(now)
            if future is not None:
                return future
            raise self._missing_key_error(kid, now)

    def _key_after_fetch(self, kid: str) -> SigningKey:
        with self._lock:
            now = self._clock()
            if self._keys_usable(now) and kid in self._keys:
                return self._keys[kid]
            raise self._missing_key_error(kid, now)

    def _keys_expired(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self.cache_seconds

    def _keys_usable(self, now: float) -> bool:
        if self._fetched_at is None:
            return False
        return now - self._fetched_at < self.cache_seconds + self.stale_grace_seconds

    def _start_fetch(self, now: float) -> Future[None] | None:
        """Start a fetch unless one runs or the cooldown forbids it; call with the lock held."""
        if self._in_flight is not None:
            return self._in_flight
        if (
            self._attempted_at is not None
            and now - self._attempted_at < self.refetch_cooldown_seconds
        ):
            return None
        self._attempted_at = now
        self._fetch_count += 1
        self._in_flight = self._executor.submit(self._fetch)
        return self._in_flight

    def _missing_key_error(self, kid: str, now: float) -> Exception:
        if not self._keys_usable(now):
            return AuthUnavailableError()
        if self._in_flight is not None or self._last_fetch_failed:
            return AuthUnavailableError(
                "The token was signed with a key that is not cached, and the signing keys "
                "cannot be refreshed right now; retry in a minute."
            )
        return TokenInvalidError(
            "The token was signed with an unknown key; get a new token from Auth0."
        )

    def _fetch(self) -> None:
        """Download the JWKS and replace the cached keys; runs on the fetch thread."""
        try:
            keys = self._download()
        except Exception as exc:  # noqa: BLE001  (any failure keeps the last good keys)
            reason = str(exc) if isinstance(exc, JWKSFetchError) else type(exc).__name__
            with self._lock:
                self._last_fetch_failed = True
                self._in_flight = None
                now = self._clock()
                usable = self._keys_usable(now)
                cached = len(self._keys)
                age = 0.0 if self._fetched_at is None else now - self._fetched_at
            if usable:
                logger.warning(
                    "JWKS fetch from %s failed (%s); serving %d cached keys fetched %.0f s ago",
                    self.url, reason, cached, age,
                )
            else:
                logger.error(
                    "JWKS fetch from %s failed (%s); no usable signing keys, "
                    "so Auth0 tokens are rejected with auth_unavailable", self.url, reason,
                )
            return

        with self._lock:
            removed = sorted(set(self._keys) - set(keys))
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_fetch_failed = False
            self._in_flight = None
        logger.info(
            "Fetched %d signing keys from %s (kids %s; removed %s)",
            len(keys), self.url, ", ".join(sorted(keys)), ", ".join(removed) or "none",
        )

    def _download(self) -> dict[str, SigningKey]:
        deadline = time.monotonic() + self.fetch_timeout_seconds
        try:
            with self._http.stream("GET", self.url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise JWKSFetchError(f"HTTP status {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JWKSFetchError(f"the response is larger than {MAX_JWKS_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise JWKSFetchError(
                            f"the response took longer than {self.fetch_timeout_seconds:g} s"
                        )
        except httpx.TimeoutException:
            raise JWKSFetchError(f"timed out after {self.fetch_timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"{type(exc).__name__}: {exc}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise JWKSFetchError("the response is not JSON") from None
        return parse_jwks(document)


_client: JWKSClient | None = None
_client_settings: tuple[Any, ...] | None = None
_client_lock = threading.Lock()


def _settings_key() -> tuple[Any, ...]:
    return (
        settings.AUTH0["jwks_url"],
        settings.AUTH0_JWKS_CACHE_SECONDS,
        settings.AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS,
        settings.AUTH0_JWKS_STALE_GRACE_SECONDS,
        settings.AUTH0_JWKS_FETCH_TIMEOUT_SECONDS,
    )


def get_jwks_client() -> JWKSClient:
    """Return the process-wide client, rebuilt when the settings it was built from change."""
    global _client, _client_settings
    key = _settings_key()
    with _client_lock:
        if _client is None or _client_settings != key:
            if _client is not None:
                _client.close()
            url, cache, cooldown, grace, timeout = key
            _client = JWKSClient(
                url,
                cache_seconds=cache,
                refetch_cooldown_seconds=cooldown,
                stale_grace_seconds=grace,
                fetch_timeout_seconds=timeout,
            )
            _client_settings = key
        return _client


def reset_jwks_client() -> None:
    """Drop the process-wide client and its cached keys (for tests)."""
    global _client, _client_settings
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None
        _client_settings = None
