"""Read and validate the settings that come from the environment.

Every function raises ``ImproperlyConfigured`` with a message that names the
variable and the fix, and never includes the value of a secret.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

MIN_SECRET_LENGTH = 32
GENERATE_SECRET_HINT = (
    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)
# Values that mark a secret as copied from .env.example or from a tutorial.
PLACEHOLDER_MARKERS = ("replace-with", "change-me", "changeme", "django-insecure")


def read_required(environ: Mapping[str, str], name: str, hint: str) -> str:
    """Return the raw value of a required variable, rejecting a missing or empty one.

    The raw value is used as written: django-environ would treat a leading
    ``$`` as a reference to another variable.
    """
    value = environ.get(name)
    if value is None:
        raise ImproperlyConfigured(f"{name} is not set: set it in the environment or in .env; {hint}")
    if not value.strip():
        raise ImproperlyConfigured(f"{name} is empty: set it in the environment or in .env; {hint}")
    return value


def read_secret(environ: Mapping[str, str], name: str, *, debug: bool) -> str:
    """Return a required secret, rejecting weak values unless ``debug`` is on."""
    value = read_required(environ, name, GENERATE_SECRET_HINT)
    if debug:
        return value
    if len(value) < MIN_SECRET_LENGTH:
        raise ImproperlyConfigured(
            f"{name} is shorter than {MIN_SECRET_LENGTH} characters; {GENERATE_SECRET_HINT}"
        )
    lowered = value.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        raise ImproperlyConfigured(
            f"{name} is a placeholder value, not a secret; {GENERATE_SECRET_HINT}"
        )
    return value


def check_distinct_secrets(secret_key: str, jwt_secret_key: str, *, debug: bool) -> None:
    if not debug and secret_key == jwt_secret_key:
        raise ImproperlyConfigured(
            f"JWT_SECRET_KEY must differ from SECRET_KEY, so that a leak of one does not "
            f"let anyone sign tokens with the other; {GENERATE_SECRET_HINT}"
        )


def parse_origin(entry: str, name: str) -> str:
    """Validate one allowlist entry and return it as ``scheme://host[:port]`` in lower case."""
    origin = entry.strip()
    fix = "use a full origin such as https://app.example.com or http://localhost:3000"
    if origin in ("*", "null"):
        raise ImproperlyConfigured(f"{name} must not contain {origin!r}: list each origin; {fix}")
    if origin.endswith("/") and origin.count("/") == 3:
        origin = origin[:-1]
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} entry {origin!r} is not an origin; {fix}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ImproperlyConfigured(
            f"{name} entry {origin!r} has more than scheme, host and port; {fix}"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} entry {origin!r} has an invalid port; {fix}") from exc
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def parse_origin_list(raw: str, name: str) -> list[str]:
    entries = [entry for entry in raw.split(",") if entry.strip()]
    if not entries:
        raise ImproperlyConfigured(
            f"{name} is empty: list the allowed origins, comma-separated, "
            "e.g. https://app.example.com,http://localhost:3000"
        )
    return [parse_origin(entry, name) for entry in entries]


def read_websocket_origins(environ: Mapping[str, str]) -> tuple[list[str], str]:
    """Return the WebSocket origin allowlist and the variable it came from.

    ``SOCKETIO_ORIGINS`` is the name the previous Flask-SocketIO service read;
    it is honoured only when ``WEBSOCKET_ALLOWED_ORIGINS`` is unset.
    """
    name = "WEBSOCKET_ALLOWED_ORIGINS"
    if name not in environ and "SOCKETIO_ORIGINS" in environ:
        name = "SOCKETIO_ORIGINS"
    hint = "list the allowed origins, comma-separated, e.g. https://app.example.com,http://localhost:3000"
    raw = read_required(environ, name, hint)
    return parse_origin_list(raw, name), name


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_https_url(url: str, name: str) -> str:
    """Require https, allowing plain http only for a loopback host (the local issuer)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise ImproperlyConfigured(
        f"{name} must be an https:// URL (plain http is allowed only for 127.0.0.1, ::1 "
        f"or localhost); got {url!r}"
    )


def read_auth0(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the Auth0 tenant settings: domain, audience, issuer and JWKS URL."""
    domain = read_required(
        environ, "AUTH0_DOMAIN", "set it to your tenant's domain, e.g. example.eu.auth0.com"
    ).strip()
    if "/" in domain:
        raise ImproperlyConfigured(
            f"AUTH0_DOMAIN must be a bare host name such as example.eu.auth0.com, got {domain!r}"
        )
    audience = read_required(
        environ, "AUTH0_AUDIENCE", "set it to the API identifier configured in Auth0"
    ).strip()
    issuer = environ.get("AUTH0_ISSUER") or f"https://{domain}/"
    jwks_url = environ.get("AUTH0_JWKS_URL") or f"https://{domain}/.well-known/jwks.json"
    return {
        "domain": domain,
        "audience": audience,
        "issuer": check_https_url(issuer, "AUTH0_ISSUER"),
        "jwks_url": check_https_url(jwks_url, "AUTH0_JWKS_URL"),
    }


def process_environ() -> Mapping[str, str]:
    return os.environ
