"""The service under test: a local token issuer and daphne processes pinned to one core."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from accounts.auth0.local_issuer import LocalIssuer
from bench.process_stats import pin_process, sample_process
from testing.servers import DaphneServer

logger = logging.getLogger(__name__)

AUDIENCE = "https://api.meeting-streamer.bench"
ALLOWED_ORIGIN = "http://127.0.0.1"
TOKEN_LIFETIME_SECONDS = 3 * 3600


def service_env(
    *,
    database_url: str,
    redis_url: str,
    media_root: Path,
    issuer: LocalIssuer,
    key_prefix: str,
) -> dict[str, str]:
    """Return the environment of every process of the run: production settings on loopback.

    DEBUG stays off and the stream limits keep their defaults. The streams do
    not reach the per-user limit because each has its own user (see TokenPool).
    """
    return {
        "ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET_KEY": secrets.token_urlsafe(50),
        "WEBSOCKET_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": key_prefix,
        "CACHE_KEY_PREFIX": key_prefix,
        "MEDIA_ROOT": str(media_root),
        "TRANSCRIPTION_ENGINE": "none",
        **issuer.env(),
    }


@dataclass
class TokenPool:
    """One Auth0 token per stream index, each for its own subject, minted on first use."""

    issuer: LocalIssuer
    prefix: str = "auth0|bench-"
    _tokens: dict[int, str] = field(default_factory=dict)

    def token_for(self, index: int) -> str:
        token = self._tokens.get(index)
        if token is None:
            token = self.issuer.mint(f"{self.prefix}{index}", lifetime=TOKEN_LIFETIME_SECONDS)
            self._tokens[index] = token
        return token


@dataclass
class BenchServer:
    """A daphne process serving config.asgi:application, optionally pinned to one core."""

    name: str
    daphne: DaphneServer
    core: int | None

    @property
    def pid(self) -> int:
        assert self.daphne.process is not None
        return self.daphne.process.pid

    @cached_property
    def port(self) -> int:
        return self.daphne.port

    @property
    def ws_url(self) -> str:
        return self.daphne.ws_url

    def rss_bytes(self) -> int:
        return sample_process(self.pid).rss_bytes

    def stop(self) -> None:
        self.daphne.stop()


def start_server(name: str, env: dict[str, str], log_dir: Path, core: int | None) -> BenchServer:
    """Start daphne with ``env``, wait for /health and pin all its threads to ``core``."""
    daphne = DaphneServer(env, log_dir / f"daphne-{name}.log")
    daphne.start(timeout=60.0)
    server = BenchServer(name, daphne, core)
    if core is not None:
        # Threads started later (database, recording and engine pools) inherit the mask.
        pin_process(server.pid, core)
    logger.info("Started %s server on 127.0.0.1:%d (pid %d, core %s)", name, server.port, server.pid, core)
    return server
