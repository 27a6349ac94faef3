"""The local issuer: its HTTP endpoints, its loopback-only binding and ``manage.py local_issuer``."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from django.core.management import CommandError, call_command

from accounts.auth0.local_issuer import LocalIssuer
from testing.servers import PROJECT_ROOT, free_port


def test_issuer_serves_jwks_and_openid_configuration():
    issuer = LocalIssuer(audience="https://api.example.test").start()
    try:
        jwks = httpx.get(issuer.jwks_url, timeout=5).json()
        configuration = httpx.get(
            f"http://{issuer.authority}/.well-known/openid-configuration", timeout=5
        ).json()
        missing = httpx.get(f"http://{issuer.authority}/other", timeout=5)
    finally:
        issuer.stop()

    assert [key["kid"] for key in jwks["keys"]] == [issuer.current_kid]
    assert "d" not in jwks["keys"][0]
    assert configuration["issuer"] == issuer.issuer
    assert configuration["jwks_uri"] == issuer.jwks_url
    assert missing.status_code == 404


def test_minted_token_verifies_with_served_key():
    issuer = LocalIssuer(audience="https://api.example.test").start()
    try:
        token = issuer.mint("auth0|alice", lifetime=60)
        signing_key = jwt.PyJWKClient(issuer.jwks_url).get_signing_key_from_jwt(token)
    finally:
        issuer.stop()

    claims = jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience="https://api.example.test",
        issuer=issuer.issuer,
    )
    assert claims["sub"] == "auth0|alice"
    assert claims["exp"] - claims["iat"] == 60


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com", "::"])
def test_issuer_rejects_non_loopback_host(host):
    with pytest.raises(ValueError) as caught:
        LocalIssuer(host=host)

    assert "loopback" in str(caught.value)


def test_key_file_is_created_private_and_reused(tmp_path):
    key_path = tmp_path / "issuer.pem"

    first = LocalIssuer(port=8765, key_path=key_path)
    second = LocalIssuer(port=8765, key_path=key_path)

    assert key_path.stat().st_mode & 0o777 == 0o600
    assert first.current_kid == second.current_kid


def test_mint_command_prints_token(tmp_path, settings):
    key_path = tmp_path / "issuer.pem"
    output = io.StringIO()
    errors = io.StringIO()

    call_command(
        "local_issuer", "--mint", "--sub", "auth0|alice", "--lifetime", "120",
        "--email", "alice@example.com", "--key-file", str(key_path), "--port", "8765",
        stdout=output, stderr=errors,
    )

    token = output.getvalue().strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    assert claims["sub"] == "auth0|alice"
    assert claims["iss"] == "http://127.0.0.1:8765/"
    assert claims["aud"] == settings.AUTH0["audience"]
    assert claims["email"] == "alice@example.com"
    assert header["kid"] == LocalIssuer(port=8765, key_path=key_path).current_kid


def test_mint_command_requires_sub(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("local_issuer", "--mint", "--key-file", str(tmp_path / "issuer.pem"))

    assert "--sub" in str(caught.value)


def test_command_rejects_public_host(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("local_issuer", "--host", "0.0.0.0", "--key-file", str(tmp_path / "issuer.pem"))

    assert "loopback" in str(caught.value)


@pytest.mark.live
def test_serve_command_serves_until_stopped(tmp_path):
    port = free_port()
    key_path = tmp_path / "issuer.pem"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "local_issuer", "--port", str(port), "--key-file", str(key_path)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "ENV_FILE": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        jwks = _get_when_up(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=30)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)

    assert jwks["keys"][0]["kid"] == LocalIssuer(port=port, key_path=key_path).current_kid
    assert f"export AUTH0_ISSUER='http://127.0.0.1:{port}/'" in output


def _get_when_up(url: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=1).json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_default_key_file_is_git_ignored():
    from accounts.management.commands.local_issuer import DEFAULT_KEY_FILE

    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to ask git what it ignores")
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", str(DEFAULT_KEY_FILE)], cwd=PROJECT_ROOT, check=False
    )
    assert result.returncode == 0
