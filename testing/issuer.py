"""A controllable local Auth0 issuer for tests: outages, hangs, fetch counts and hostile tokens.

Use it through the ``auth0_issuer`` fixture in the root ``conftest.py``, which
also points the in-process settings at it. For a live server, pass
``issuer.env()`` to ``daphne_factory(env=...)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from accounts.auth0.local_issuer import JWKS_PATH, LocalIssuer

TEST_AUDIENCE = "https://api.meeting-streamer.test"
# Maximum time a hung JWKS response is held, so that a forgotten release cannot stall a test run.
MAX_HANG_SECONDS = 60.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


class TestIssuer(LocalIssuer):
    """A ``LocalIssuer`` on a free loopback port whose JWKS endpoint a test can break."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, *, audience: str = TEST_AUDIENCE) -> None:
        super().__init__(host="127.0.0.1", port=0, audience=audience)
        self._fetches = 0
        self._count_lock = threading.Lock()
        self._failure_status: int | None = None
        self._hang_seconds = 0.0
        self._hang_released = threading.Event()

    # Failure modes

    @property
    def fetch_count(self) -> int:
        """Number of JWKS requests received, whatever the response was."""
        with self._count_lock:
            return self._fetches

    def fail(self, status: int = 500) -> None:
        """Respond to JWKS requests with ``status`` until ``recover``."""
        self._failure_status = status

    def hang(self, seconds: float) -> None:
        """Delay each JWKS response by ``seconds``, or until ``release``."""
        if seconds > MAX_HANG_SECONDS:
            raise ValueError(f"hang at most {MAX_HANG_SECONDS:g} s")
        self._hang_released.clear()
        self._hang_seconds = seconds

    def release(self) -> None:
        """End a hang: held responses are sent now."""
        self._hang_seconds = 0.0
        self._hang_released.set()

    def recover(self) -> None:
        """Serve the JWKS normally again."""
        self._failure_status = None
        self.release()

    def stop(self) -> None:
        self.release()
        super().stop()

    def respond(self, path: str) -> tuple[int, bytes]:
        if path == JWKS_PATH:
            with self._count_lock:
                self._fetches += 1
            if self._hang_seconds:
                self._hang_released.wait(self._hang_seconds)
            if self._failure_status is not None:
                return self._failure_status, b'{"error": "unavailable"}'
        return super().respond(path)

    # Settings

    def auth0_settings(self) -> dict[str, str]:
        """Return ``settings.AUTH0`` for an in-process test that trusts this issuer."""
        return {
            "domain": self.authority,
            "audience": self.audience,
            "issuer": self.issuer,
            "jwks_url": self.jwks_url,
        }

    # Hostile tokens

    @property
    def public_key_pem(self) -> bytes:
        return self._key_pair(None).public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def mint_raw(
        self,
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
        *,
        signature: str = "rs256",
        hmac_key: bytes | None = None,
    ) -> str:
        """Build a token from exactly this header and these claims, bypassing PyJWT's checks.

        ``signature`` is ``"rs256"`` (the current private key), ``"hs256"``
        (HMAC with ``hmac_key``, by default the public key PEM: the algorithm
        confusion attack) or ``"none"`` (empty signature).
        """
        signing_input = f"{encode_segment(dict(header))}.{encode_segment(dict(claims))}".encode()
        if signature == "none":
            return signing_input.decode() + "."
        if signature == "hs256":
            key = hmac_key if hmac_key is not None else self.public_key_pem
            return signing_input.decode() + "." + b64url(
                hmac.new(key, signing_input, hashlib.sha256).digest()
            )
        if signature == "rs256":
            private_key = self._key_pair(None).private_key
            signed = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
            return signing_input.decode() + "." + b64url(signed)
        raise ValueError(f"unknown signature kind {signature!r}")

    def header(self, **overrides: Any) -> dict[str, Any]:
        """Return a valid RS256 header with the current kid, changed by ``overrides``."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.current_kid}
        header.update(overrides)
        return {name: value for name, value in header.items() if value is not None}

    def claims(self, subject: str = "auth0|tester", **overrides: Any) -> dict[str, Any]:
        """Return valid claims for ``subject``, changed by ``overrides`` (None removes a claim)."""
        claims = self.claims_for(subject)
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}


HOSTILE_CASES = (
    "alg_none",
    "hs256_signed_with_public_key",
    "unknown_kid",
    "missing_kid",
    "wrong_iss",
    "iss_without_trailing_slash",
    "wrong_aud",
    "missing_aud",
    "expired",
    "missing_exp",
    "nbf_in_future",
    "iat_ten_minutes_ahead",
    "missing_sub",
    "numeric_sub",
    "empty_sub",
    "string_exp",
    "signed_by_unlisted_key",
    "tampered_claims",
    "garbage",
    "three_garbage_parts",
    "oversized_10kb",
    "oversized_100kb",
)


def hostile_tokens(issuer: TestIssuer) -> dict[str, tuple[str, str]]:
    """Return tokens that must be rejected, keyed by ``HOSTILE_CASES``, with the expected code.

    ``oversized_10kb`` is over ``MAX_TOKEN_BYTES`` (8 KB) but within the 16 KB
    that daphne's HTTP parser (Twisted) allows for all request headers, so it
    reaches the application. ``oversized_100kb`` does not.
    """
    now = int(time.time())
    header = issuer.header()
    unlisted = TestIssuer(audience=issuer.audience)  # never started: its key is in no JWKS
    # Base64url turns 7,000 bytes of claims into about 9,400 characters.
    padded = issuer.claims(padding="x" * 7_000)
    return {
        "alg_none": (issuer.mint_raw(issuer.header(alg="none"), issuer.claims(), signature="none"), "token_invalid"),
        "hs256_signed_with_public_key": (
            issuer.mint_raw(issuer.header(alg="HS256"), issuer.claims(), signature="hs256"), "token_invalid"
        ),
        "unknown_kid": (issuer.mint_raw(issuer.header(kid="no-such-key"), issuer.claims()), "token_invalid"),
        "missing_kid": (issuer.mint_raw(issuer.header(kid=None), issuer.claims()), "token_invalid"),
        "wrong_iss": (issuer.mint_raw(header, issuer.claims(iss="https://evil.example/")), "token_invalid"),
        "iss_without_trailing_slash": (
            issuer.mint_raw(header, issuer.claims(iss=issuer.issuer.rstrip("/"))), "token_invalid"
        ),
        "wrong_aud": (issuer.mint_raw(header, issuer.claims(aud="https://other-api.example")), "token_invalid"),
        "missing_aud": (issuer.mint_raw(header, issuer.claims(aud=None)), "token_invalid"),
        "expired": (issuer.mint_raw(header, issuer.claims(iat=now - 7200, exp=now - 3600)), "token_expired"),
        "missing_exp": (issuer.mint_raw(header, issuer.claims(exp=None)), "token_invalid"),
        "nbf_in_future": (issuer.mint_raw(header, issuer.claims(nbf=now + 600)), "token_invalid"),
        "iat_ten_minutes_ahead": (issuer.mint_raw(header, issuer.claims(iat=now + 600)), "token_invalid"),
        "missing_sub": (issuer.mint_raw(header, issuer.claims(sub=None)), "token_invalid"),
        "numeric_sub": (issuer.mint_raw(header, issuer.claims(sub=12345)), "token_invalid"),
        "empty_sub": (issuer.mint_raw(header, issuer.claims(sub="")), "token_invalid"),
        "string_exp": (issuer.mint_raw(header, issuer.claims(exp=str(now + 3600))), "token_invalid"),
        "signed_by_unlisted_key": (
            unlisted.mint_raw(unlisted.header(kid=issuer.current_kid), issuer.claims()), "token_invalid"
        ),
        "tampered_claims": (_replace_claims(issuer.mint("auth0|tester"), sub="auth0|someone-else"), "token_invalid"),
        "garbage": ("not-a-jwt", "token_invalid"),
        "three_garbage_parts": ("abc.def.ghi", "token_invalid"),
        "oversized_10kb": (issuer.mint_raw(header, padded), "token_invalid"),
        "oversized_100kb": ("a" * 50_000 + "." + "b" * 50_000 + ".c", "token_invalid"),
    }


def _replace_claims(token: str, **changes: Any) -> str:
    """Return the token with changed claims and its original signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{encode_segment(claims)}.{signature}"
