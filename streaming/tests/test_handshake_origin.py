"""Origin normalization and the allowlist decision, without a server."""

from __future__ import annotations

import pytest

from streaming.security import OriginCheckMiddleware, normalize_origin


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://app.example.com:443", "http://app.example.com:443"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://[::1]:80", "http://[::1]"),
        ("null", None),
        ("", None),
        ("app.example.com", None),
        ("ftp://app.example.com", None),
        ("https://app.example.com/", None),
        ("https://user@app.example.com", None),
        ("https://app.example.com:99999", None),
        ("https://app.example.com:abc", None),
    ],
)
def test_normalize_origin(value, expected):
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ([], True),
        (["https://app.example.com"], True),
        (["https://app.example.com:443"], True),
        (["https://app.example.com.evil.test"], False),
        (["null"], False),
        (["https://app.example.com", "https://app.example.com"], False),
    ],
)
def test_rejection_reason(settings, origins, allowed):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.WEBSOCKET_REQUIRE_ORIGIN = False

    reason = OriginCheckMiddleware.rejection_reason(origins)

    assert (reason is None) == allowed


def test_missing_origin_rejected_when_required(settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.WEBSOCKET_REQUIRE_ORIGIN = True

    assert "WEBSOCKET_REQUIRE_ORIGIN" in OriginCheckMiddleware.rejection_reason([])


def test_allowlist_entry_with_default_port_matches(settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://secure.example.com:443"]

    assert OriginCheckMiddleware.rejection_reason(["https://secure.example.com"]) is None
