"""Read and validate the Auth0 verification settings from the environment.

``config/settings.py`` calls ``read_verification_settings`` while Django starts,
so this module imports nothing from Django but its exception class. Each error
names the variable and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# Only asymmetric algorithms: a JWKS holds public keys, and an HMAC algorithm
# would let anyone who has the public key sign tokens with it.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
MAX_LEEWAY_SECONDS = 60.0

DEFAULTS: dict[str, Any] = {
    "AUTH0_ALGORITHMS": ["RS256"],
    "AUTH0_LEEWAY_SECONDS": 30.0,
    "AUTH0_JWKS_CACHE_SECONDS": 600.0,
    "AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS": 60.0,
    "AUTH0_JWKS_STALE_GRACE_SECONDS": 6 * 3600.0,
    "AUTH0_JWKS_FETCH_TIMEOUT_SECONDS": 5.0,
}


def read_algorithms(environ: Mapping[str, str]) -> list[str]:
    name = "AUTH0_ALGORITHMS"
    raw = environ.get(name, "").strip()
    if not raw:
        return list(DEFAULTS[name])
    algorithms = [entry.strip() for entry in raw.split(",") if entry.strip()]
    rejected = [entry for entry in algorithms if entry not in ASYMMETRIC_ALGORITHMS]
    if rejected or not algorithms:
        allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
        raise ImproperlyConfigured(
            f"{name} contains {', '.join(rejected) or 'nothing'}: list asymmetric "
            f"algorithms only, comma-separated, from {allowed} (Auth0 signs with RS256)"
        )
    return algorithms


def read_seconds(
    environ: Mapping[str, str], name: str, *, maximum: float | None = None, allow_zero: bool = False
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return float(DEFAULTS[name])
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, got {raw!r}") from None
    lowest = "0 or more" if allow_zero else "more than 0"
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ImproperlyConfigured(f"{name} must be a number of seconds, {lowest}; got {raw!r}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(
            f"{name} is {value:g} s, more than the maximum of {maximum:g} s; "
            "a larger leeway keeps expired tokens valid for longer, so lower it"
        )
    return value


def read_verification_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the ``AUTH0_*`` verification settings, keyed by their setting names."""
    return {
        "AUTH0_ALGORITHMS": read_algorithms(environ),
        "AUTH0_LEEWAY_SECONDS": read_seconds(
            environ, "AUTH0_LEEWAY_SECONDS", maximum=MAX_LEEWAY_SECONDS, allow_zero=True
        ),
        "AUTH0_JWKS_CACHE_SECONDS": read_seconds(environ, "AUTH0_JWKS_CACHE_SECONDS"),
        "AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS": read_seconds(
            environ, "AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS", allow_zero=True
        ),
        "AUTH0_JWKS_STALE_GRACE_SECONDS": read_seconds(
            environ, "AUTH0_JWKS_STALE_GRACE_SECONDS", allow_zero=True
        ),
        "AUTH0_JWKS_FETCH_TIMEOUT_SECONDS": read_seconds(
            environ, "AUTH0_JWKS_FETCH_TIMEOUT_SECONDS"
        ),
    }
