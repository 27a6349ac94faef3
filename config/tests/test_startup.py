"""Start-up refusal, tested the way operators meet it: real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "s3cr3t-" + "x" * 40
STRONG_JWT_SECRET = "jwt-" + "y" * 40
REQUIRED = ("SECRET_KEY", "JWT_SECRET_KEY", "WEBSOCKET_ALLOWED_ORIGINS", "AUTH0_DOMAIN", "AUTH0_AUDIENCE")


def base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in REQUIRED and not key.startswith(("AUTH0_", "SOCKETIO_", "CORS_"))
    }
    env.update(
        ENV_FILE="",
        DEBUG="false",
        SECRET_KEY=STRONG_SECRET,
        JWT_SECRET_KEY=STRONG_JWT_SECRET,
        WEBSOCKET_ALLOWED_ORIGINS="https://app.example.com,http://localhost:3000",
        AUTH0_DOMAIN="tenant.example.auth0.com",
        AUTH0_AUDIENCE="https://api.example.com",
    )
    return env


def run_python(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def load_settings(env: dict[str, str], expression: str = "'loaded'") -> subprocess.CompletedProcess:
    code = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); "
        f"django.setup(); from django.conf import settings; print({expression})"
    )
    return run_python(env, code)


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def assert_refused(result: subprocess.CompletedProcess, name: str) -> None:
    output = output_of(result)
    assert result.returncode != 0, output
    assert name in output
    assert "Traceback" not in output
    assert STRONG_SECRET not in output
    assert STRONG_JWT_SECRET not in output


def test_valid_environment_loads():
    result = load_settings(base_env())
    assert result.returncode == 0, output_of(result)
    assert "loaded" in result.stdout


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_variable_refused(name):
    env = base_env()
    del env[name]
    assert_refused(load_settings(env), name)


@pytest.mark.parametrize("name", REQUIRED)
def test_empty_variable_refused(name):
    env = base_env()
    env[name] = ""
    assert_refused(load_settings(env), name)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "manage.py", "check"],
        [sys.executable, "-c", "import config.asgi"],
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "config/tests/test_startup.py"],
    ],
    ids=["manage.py", "asgi", "pytest"],
)
def test_every_entry_point_refuses(command):
    env = base_env()
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    del env["SECRET_KEY"]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert_refused(result, "SECRET_KEY")


def test_daphne_refuses_to_start():
    env = base_env()
    del env["JWT_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0", "config.asgi:application"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_refused(result, "JWT_SECRET_KEY")


def test_dollar_secret_loads_as_written():
    env = base_env()
    env["SECRET_KEY"] = "$" + "q" * 40
    result = load_settings(env, "settings.SECRET_KEY == '$' + 'q' * 40")
    assert result.returncode == 0, output_of(result)
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "short-but-real"),
        ("SECRET_KEY", "replace-with-a-long-random-secret-of-50-characters"),
        ("JWT_SECRET_KEY", "django-insecure-" + "z" * 40),
    ],
    ids=["short", "placeholder", "insecure-prefix"],
)
def test_weak_secret_refused_without_debug(name, value):
    env = base_env()
    env[name] = value
    result = load_settings(env)
    assert_refused(result, name)
    assert value not in output_of(result)


def test_weak_secret_allowed_with_debug():
    env = base_env()
    env["DEBUG"] = "true"
    env["SECRET_KEY"] = "short-dev-key"
    result = load_settings(env)
    assert result.returncode == 0, output_of(result)


def test_equal_secrets_refused():
    env = base_env()
    env["JWT_SECRET_KEY"] = env["SECRET_KEY"]
    assert_refused(load_settings(env), "JWT_SECRET_KEY")


@pytest.mark.parametrize(
    "origins",
    ["*", "null", "https://app.example.com/path", "app.example.com", "ftp://files.example.com"],
)
def test_unsafe_origin_refused(origins):
    env = base_env()
    env["WEBSOCKET_ALLOWED_ORIGINS"] = f"http://localhost:3000,{origins}"
    assert_refused(load_settings(env), "WEBSOCKET_ALLOWED_ORIGINS")


def test_origins_normalized():
    env = base_env()
    env["WEBSOCKET_ALLOWED_ORIGINS"] = "HTTPS://App.Example.com/, http://[::1]:8000"
    result = load_settings(env, "settings.WEBSOCKET_ALLOWED_ORIGINS")
    assert result.returncode == 0, output_of(result)
    assert result.stdout.strip() == "['https://app.example.com', 'http://[::1]:8000']"


def test_cors_defaults_to_websocket_origins():
    result = load_settings(base_env(), "settings.CORS_ALLOWED_ORIGINS")
    assert result.stdout.strip() == "['https://app.example.com', 'http://localhost:3000']"


def test_cors_wildcard_refused():
    env = base_env()
    env["CORS_ALLOWED_ORIGINS"] = "*"
    assert_refused(load_settings(env), "CORS_ALLOWED_ORIGINS")


def test_legacy_origin_variable_warns():
    env = base_env()
    del env["WEBSOCKET_ALLOWED_ORIGINS"]
    env["SOCKETIO_ORIGINS"] = "https://legacy.example.com"
    result = load_settings(env, "settings.WEBSOCKET_ALLOWED_ORIGINS")
    assert result.returncode == 0, output_of(result)
    assert "['https://legacy.example.com']" in result.stdout
    assert "SOCKETIO_ORIGINS is deprecated" in result.stderr


def test_new_origin_variable_wins_over_legacy():
    env = base_env()
    env["SOCKETIO_ORIGINS"] = "https://legacy.example.com"
    result = load_settings(env, "settings.WEBSOCKET_ALLOWED_ORIGINS")
    assert "legacy" not in result.stdout
    assert "deprecated" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH0_ISSUER", "http://tenant.example.auth0.com/"),
        ("AUTH0_JWKS_URL", "http://10.0.0.5/.well-known/jwks.json"),
        ("AUTH0_DOMAIN", "https://tenant.example.auth0.com/"),
    ],
)
def test_unsafe_auth0_setting_refused(name, value):
    env = base_env()
    env[name] = value
    assert_refused(load_settings(env), name)


def test_auth0_urls_default_from_domain():
    result = load_settings(base_env(), "settings.AUTH0['issuer'], settings.AUTH0['jwks_url']")
    assert result.stdout.strip() == (
        "https://tenant.example.auth0.com/ "
        "https://tenant.example.auth0.com/.well-known/jwks.json"
    )


def test_auth0_loopback_http_allowed():
    env = base_env()
    env["AUTH0_ISSUER"] = "http://127.0.0.1:8765/"
    env["AUTH0_JWKS_URL"] = "http://127.0.0.1:8765/.well-known/jwks.json"
    result = load_settings(env, "settings.AUTH0['issuer']")
    assert result.returncode == 0, output_of(result)
    assert result.stdout.strip() == "http://127.0.0.1:8765/"
