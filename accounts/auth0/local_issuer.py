"""A stand-in for an Auth0 tenant on a loopback port, for development and tests.

``LocalIssuer`` has an RSA key pair, serves its public key at
``/.well-known/jwks.json`` (plus a minimal ``/.well-known/openid-configuration``)
over plain HTTP, and mints RS256 access tokens. Pointing ``AUTH0_DOMAIN``,
``AUTH0_ISSUER`` and ``AUTH0_JWKS_URL`` at it (see ``env()``) makes the service
run its production verification code against these tokens.

It only ever runs when started explicitly, by ``manage.py local_issuer`` or a
test, and it refuses to bind anything but a loopback address.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from config.environment import is_loopback_host

logger = logging.getLogger(__name__)

JWKS_PATH = "/.well-known/jwks.json"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
RSA_KEY_BITS = 2048
DEFAULT_LIFETIME_SECONDS = 3600


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


def load_or_create_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Load a PEM private key, or create one readable only by its owner if the file is missing."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not contain an RSA private key")
        return key
    key = generate_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    logger.info("Created a new local issuer key at %s", path)
    return key


def key_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """Return the RFC 7638 JWK thumbprint, used as the kid so every process derives the same one."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SigningKeyPair:
    """An RSA private key and its kid."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.kid = key_thumbprint(self.public_key)

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


class LocalIssuer:
    """An RS256 token issuer that serves its JWKS on a loopback address.

    ``port=0`` picks a free port when ``start`` binds, so the issuer URL is
    known only after ``start``. With a fixed port, ``mint`` works without
    starting the server (another process may be serving the same key).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        key_path: Path | None = None,
        audience: str = "",
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(
                f"the local issuer binds only loopback addresses (127.0.0.1, ::1, localhost), "
                f"not {host!r}"
            )
        self.host = host
        self.port = port
        self.audience = audience
        private_key = load_or_create_private_key(key_path) if key_path else generate_private_key()
        self._lock = threading.Lock()
        self._key_pairs = [SigningKeyPair(private_key)]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Addresses

    @property
    def authority(self) -> str:
        if self.port == 0:
            raise RuntimeError("the issuer has no port yet: call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def issuer(self) -> str:
        return f"http://{self.authority}/"

    @property
    def jwks_url(self) -> str:
        return f"http://{self.authority}{JWKS_PATH}"

    def env(self) -> dict[str, str]:
        """Return the environment variables that point the service at this issuer."""
        return {
            "AUTH0_DOMAIN": self.authority,
            "AUTH0_ISSUER": self.issuer,
            "AUTH0_JWKS_URL": self.jwks_url,
            "AUTH0_AUDIENCE": self.audience,
        }

    # Keys

    @property
    def current_kid(self) -> str:
        with self._lock:
            return self._key_pairs[0].kid

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [pair.public_jwk() for pair in self._key_pairs]}

    def rotate_key(self, *, keep_previous: bool = True) -> str:
        """Sign with a new key from now on and return its kid.

        With ``keep_previous`` the JWKS still lists the previous keys, as Auth0
        does during a rotation; without it they are removed.
        """
        pair = SigningKeyPair(generate_private_key())
        with self._lock:
            self._key_pairs = [pair, *self._key_pairs] if keep_previous else [pair]
        return pair.kid

    def remove_key(self, kid: str) -> None:
        """Stop listing the key ``kid`` in the JWKS (the current key cannot be removed)."""
        with self._lock:
            if self._key_pairs[0].kid == kid:
                raise ValueError("the current signing key cannot be removed; rotate first")
            self._key_pairs = [pair for pair in self._key_pairs if pair.kid != kid]

    def _key_pair(self, kid: str | None) -> SigningKeyPair:
        with self._lock:
            if kid is None:
                return self._key_pairs[0]
            for pair in self._key_pairs:
                if pair.kid == kid:
                    return pair
        raise KeyError(f"no signing key with kid {kid!r}")

    # Tokens

    def claims_for(
        self,
        subject: str,
        *,
        audience: str | list[str] | None = None,
        lifetime: float = DEFAULT_LIFETIME_SECONDS,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return the claims of an access token as Auth0 issues them."""
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience if audience is not None else self.audience,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex,
            "scope": "openid profile email",
            **(extra or {}),
        }

    def mint(
        self,
        subject: str,
        *,
        audience: str | list[str] | None = None,
        lifetime: float = DEFAULT_LIFETIME_SECONDS,
        claims: Mapping[str, Any] | None = None,
        kid: str | None = None,
    ) -> str:
        """Return an RS256 access token for ``subject`` signed with the current key (or ``kid``).

        ``claims`` are added to, or replace, the standard ones.
        """
        pair = self._key_pair(kid)
        payload = self.claims_for(subject, audience=audience, lifetime=lifetime, extra=claims)
        return jwt.encode(payload, pair.private_key, algorithm="RS256", headers={"kid": pair.kid})

    # HTTP

    def start(self) -> LocalIssuer:
        """Serve the JWKS on a background thread and return self."""
        if self._server is not None:
            return self
        server_class = _IPv6HTTPServer if ":" in self.host else ThreadingHTTPServer
        server = server_class((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"local-issuer-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Local issuer serving %s", self.jwks_url)
        return self

    def stop(self) -> None:
        """Stop serving; connections are refused until ``start`` is called again."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("Local issuer on port %s stopped", self.port)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for the management command)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def respond(self, path: str) -> tuple[int, bytes]:
        """Return the status and JSON body for a GET of ``path``; runs on a server thread."""
        if path == JWKS_PATH:
            return 200, json.dumps(self.jwks()).encode()
        if path == OPENID_CONFIGURATION_PATH:
            document = {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
            }
            return 200, json.dumps(document).encode()
        return 404, json.dumps({"error": "not_found"}).encode()


class _IPv6HTTPServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler_for(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class IssuerRequestHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (the name http.server dispatches to)
            path = self.path.split("?", 1)[0]
            status, body = issuer.respond(path)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=600")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                logger.debug("Local issuer: client closed before the response to %s", path)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("Local issuer %s: " + format, self.address_string(), *args)

    return IssuerRequestHandler
