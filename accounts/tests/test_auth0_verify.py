"""Auth0 token verification in-process, against a local issuer's JWKS over loopback HTTP."""

from __future__ import annotations

import time

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.auth0 import conf
from accounts.auth0.errors import AuthError, TokenExpiredError, TokenInvalidError
from accounts.auth0.verification import (
    MAX_TOKEN_BYTES,
    get_verifier,
    is_auth0_token,
    is_local_token,
    read_unverified_issuer,
)
from testing.issuer import HOSTILE_CASES, hostile_tokens


def test_valid_token_is_verified(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice", claims={"email": "alice@example.com"})

    verified = get_verifier().verify(token)

    assert verified.method == "auth0"
    assert verified.subject == "auth0|alice"
    assert verified.revocation_id == verified.claims["jti"]
    assert verified.claims["email"] == "alice@example.com"
    assert verified.expires_at.timestamp() == verified.claims["exp"]
    assert verified.issued_at.timestamp() == verified.claims["iat"]


def test_audience_list_containing_ours_is_accepted(auth0_issuer):
    token = auth0_issuer.mint("auth0|alice", audience=["https://other.example", auth0_issuer.audience])

    assert get_verifier().verify(token).subject == "auth0|alice"


def test_token_without_jti_gets_hash_revocation_id(auth0_issuer):
    token = auth0_issuer.mint_raw(auth0_issuer.header(), auth0_issuer.claims("auth0|alice", jti=None))

    verified = get_verifier().verify(token)

    assert verified.revocation_id.startswith("sha256:")
    assert len(verified.revocation_id) == len("sha256:") + 64


def test_leeway_accepts_small_clock_skew(auth0_issuer, settings):
    settings.AUTH0_LEEWAY_SECONDS = 30
    now = int(time.time())
    skewed = auth0_issuer.mint_raw(
        auth0_issuer.header(), auth0_issuer.claims(iat=now + 20, nbf=now + 20, exp=now - 10)
    )

    assert get_verifier().verify(skewed).subject == "auth0|tester"


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_hostile_token_is_rejected(auth0_issuer, case):
    token, expected_code = hostile_tokens(auth0_issuer)[case]

    with pytest.raises(AuthError) as caught:
        get_verifier().verify(token)

    assert caught.value.code == expected_code
    assert token not in caught.value.message


def test_rejection_messages_hide_pyjwt_text(auth0_issuer):
    expired = auth0_issuer.mint("auth0|alice", lifetime=-3600)

    with pytest.raises(TokenExpiredError) as caught:
        get_verifier().verify(expired)

    assert "Signature has expired" not in caught.value.message
    assert isinstance(caught.value.__cause__, jwt.ExpiredSignatureError)


def test_oversized_token_is_rejected_before_parsing(auth0_issuer):
    token = "a" * 100_000

    started = time.perf_counter()
    with pytest.raises(TokenInvalidError):
        get_verifier().verify(token)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.05
    assert auth0_issuer.fetch_count == 0


def test_hostile_header_and_issuer_cause_no_fetch(auth0_issuer):
    verifier = get_verifier()
    tokens = hostile_tokens(auth0_issuer)

    for name in ("alg_none", "hs256_signed_with_public_key", "missing_kid", "wrong_iss", "garbage", "oversized_100kb"):
        with pytest.raises(TokenInvalidError):
            verifier.verify(tokens[name][0])

    assert auth0_issuer.fetch_count == 0


def test_issuer_is_read_from_claims_not_alg(auth0_issuer, settings):
    local_claims = {"iss": settings.SIMPLE_JWT["ISSUER"], "sub": "1", "exp": int(time.time()) + 60}
    local_token = jwt.encode(local_claims, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    auth0_token = auth0_issuer.mint("auth0|alice")

    assert is_local_token(local_token)
    assert not is_auth0_token(local_token)
    assert is_auth0_token(auth0_token)
    assert not is_local_token(auth0_token)
    with pytest.raises(TokenInvalidError):
        get_verifier().verify(local_token)


def test_unverified_issuer_of_oversized_token_is_none():
    assert read_unverified_issuer("a" * (MAX_TOKEN_BYTES + 1)) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ["RS256"]),
        ({"AUTH0_ALGORITHMS": "RS256, PS256"}, ["RS256", "PS256"]),
    ],
)
def test_algorithms_setting_accepts_asymmetric(environ, expected):
    assert conf.read_algorithms(environ) == expected


@pytest.mark.parametrize("value", ["HS256", "none", "RS256,HS512", ","])
def test_algorithms_setting_rejects_symmetric_and_none(value):
    with pytest.raises(ImproperlyConfigured) as caught:
        conf.read_algorithms({"AUTH0_ALGORITHMS": value})

    assert "AUTH0_ALGORITHMS" in str(caught.value)


@pytest.mark.parametrize("value", ["61", "-1", "abc", "nan", "inf"])
def test_leeway_setting_rejects_out_of_range(value):
    with pytest.raises(ImproperlyConfigured) as caught:
        conf.read_verification_settings({"AUTH0_LEEWAY_SECONDS": value})

    assert "AUTH0_LEEWAY_SECONDS" in str(caught.value)


def test_verification_settings_defaults():
    values = conf.read_verification_settings({})

    assert values == {
        "AUTH0_ALGORITHMS": ["RS256"],
        "AUTH0_LEEWAY_SECONDS": 30.0,
        "AUTH0_JWKS_CACHE_SECONDS": 600.0,
        "AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS": 60.0,
        "AUTH0_JWKS_STALE_GRACE_SECONDS": 21600.0,
        "AUTH0_JWKS_FETCH_TIMEOUT_SECONDS": 5.0,
    }
