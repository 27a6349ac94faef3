"""Django settings, read from the environment (and an optional .env file).

The required variables have no default: when one is missing, empty or unsafe,
importing this module prints one line naming it and exits with status 2.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config import environment

BASE_DIR = Path(__file__).resolve().parent.parent

# ENV_FILE names the file to read; an empty value reads none. Variables already
# in the environment win over the file.
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)

try:
    SECRET_KEY = environment.read_secret(os.environ, "SECRET_KEY", debug=DEBUG)
    JWT_SECRET_KEY = environment.read_secret(os.environ, "JWT_SECRET_KEY", debug=DEBUG)
    environment.check_distinct_secrets(SECRET_KEY, JWT_SECRET_KEY, debug=DEBUG)
    WEBSOCKET_ALLOWED_ORIGINS, WEBSOCKET_ORIGINS_SOURCE = environment.read_websocket_origins(
        os.environ
    )
    CORS_ALLOWED_ORIGINS = (
        environment.parse_origin_list(os.environ["CORS_ALLOWED_ORIGINS"], "CORS_ALLOWED_ORIGINS")
        if os.environ.get("CORS_ALLOWED_ORIGINS")
        else list(WEBSOCKET_ALLOWED_ORIGINS)
    )
    AUTH0 = environment.read_auth0(os.environ)
except ImproperlyConfigured as exc:
    sys.stderr.write(f"Configuration error: {exc}\n")
    raise SystemExit(2) from None

WEBSOCKET_REQUIRE_ORIGIN = env.bool("WEBSOCKET_REQUIRE_ORIGIN", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "channels",
    "config",
    "accounts",
    "streaming",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The embedded default is a SQLite file so that a first run needs no server.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
# PostgreSQL connections come from a pool (psycopg-pool): opening one per
# database call limited a process to a few dozen stream handshakes a second.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=True
):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": 10,
    }
# Live-server tests start daphne in a subprocess, which must see the test
# database, so SQLite tests use a file rather than an in-memory database.
if os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default pool of 100 connections runs out under a few
                # hundred streams, which closes them with 1011.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=1000),
                        # Every consumer waits for messages with a 5 s BZPOPMIN
                        # (channels-redis 4.3). redis-py 8 also ends reads after 5 s
                        # by default, so an empty reply that came late raised
                        # TimeoutError and closed the stream with 1011.
                        "socket_timeout": 15,
                    }
                ],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="meeting-streamer"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="meeting-streamer"),
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

# Security. The health endpoints are exempt from the HTTPS redirect because
# load balancers probe them over plain HTTP.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health(/|$)"]
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
CORS_ALLOW_ALL_ORIGINS = False

REST_FRAMEWORK = {
    # LocalJWTAuthentication comes first: it passes tokens of the Auth0 issuer on.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.LocalJWTAuthentication",
        "accounts.auth0.authentication.Auth0Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "accounts.errors.api_exception_handler",
    # Number of reverse proxies that append to X-Forwarded-For. With 0 the
    # throttles key on REMOTE_ADDR, so clients cannot pick their own address.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    # Rates are "<count>/<second|minute|hour|day>", counted in the default cache.
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN_RATE", default="10/minute"),
        "login_ip": env.str("THROTTLE_LOGIN_IP_RATE", default="30/minute"),
        "login_username": env.str("THROTTLE_LOGIN_USERNAME_RATE", default="100/hour"),
        "refresh_ip": env.str("THROTTLE_REFRESH_IP_RATE", default="60/minute"),
        "refresh_user": env.str("THROTTLE_REFRESH_USER_RATE", default="30/minute"),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TOKEN_LIFETIME", default=3600)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_REFRESH_TOKEN_LIFETIME", default=30 * 24 * 3600)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ISSUER": env.str("JWT_ISSUER", default="meeting-streamer"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="meeting-streamer-api"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "sub",
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.LocalAccessToken",),
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
    },
}

# Audio streams. Read through streaming.conf at call time.
TRANSCRIPTION_ENGINE = env.str("TRANSCRIPTION_ENGINE", default="pocketsphinx")
TRANSCRIPTION_WORKERS = env.int("TRANSCRIPTION_WORKERS", default=2)
TRANSCRIPTION_MAX_STREAMS = env.int("TRANSCRIPTION_MAX_STREAMS", default=16)
RECORDING_STORAGE = env.str(
    "RECORDING_STORAGE", default="streaming.recording.filesystem.FileSystemRecordingStorage"
)
STREAM_RESUME_WINDOW_SECONDS = env.int("STREAM_RESUME_WINDOW_SECONDS", default=300)
STREAM_MAX_FRAME_SECONDS = env.float("STREAM_MAX_FRAME_SECONDS", default=1.0)
STREAM_IDLE_TIMEOUT_SECONDS = env.float("STREAM_IDLE_TIMEOUT_SECONDS", default=30.0)
STREAM_MAX_DURATION_SECONDS = env.float("STREAM_MAX_DURATION_SECONDS", default=4 * 3600.0)
STREAM_MAX_CONCURRENT_PER_USER = env.int("STREAM_MAX_CONCURRENT_PER_USER", default=3)
STREAM_RATE_LIMIT_FACTOR = env.float("STREAM_RATE_LIMIT_FACTOR", default=2.0)
STREAM_RATE_BURST_SECONDS = env.float("STREAM_RATE_BURST_SECONDS", default=60.0)
STREAM_ENGINE_BACKLOG_SECONDS = env.float("STREAM_ENGINE_BACKLOG_SECONDS", default=30.0)
STREAM_WRITE_BACKLOG_SECONDS = env.float("STREAM_WRITE_BACKLOG_SECONDS", default=30.0)
STREAM_MONTHLY_QUOTA_SECONDS = env.int("STREAM_MONTHLY_QUOTA_SECONDS", default=0)
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=10.0)

# ---------------------------------------------------------------------------
# Auth0 verification (accounts.auth0). Each value comes from the environment
# variable of the same name; accounts/auth0/conf.py has the defaults and limits.
# ---------------------------------------------------------------------------
from accounts.auth0.conf import read_verification_settings  # noqa: E402

try:
    _auth0_verification = read_verification_settings(os.environ)
except ImproperlyConfigured as exc:
    sys.stderr.write(f"Configuration error: {exc}\n")
    raise SystemExit(2) from None
# Asymmetric algorithms accepted in an Auth0 token's header (default RS256).
AUTH0_ALGORITHMS = _auth0_verification["AUTH0_ALGORITHMS"]
# Clock skew allowed for exp, nbf and iat, in seconds (default 30, at most 60).
AUTH0_LEEWAY_SECONDS = _auth0_verification["AUTH0_LEEWAY_SECONDS"]
# How long fetched signing keys count as fresh (default 600 s).
AUTH0_JWKS_CACHE_SECONDS = _auth0_verification["AUTH0_JWKS_CACHE_SECONDS"]
# Minimum time between two JWKS fetches, so unknown kids cannot flood Auth0 (default 60 s).
AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS = _auth0_verification["AUTH0_JWKS_REFETCH_COOLDOWN_SECONDS"]
# How long expired keys keep verifying while refreshes fail (default 6 hours).
AUTH0_JWKS_STALE_GRACE_SECONDS = _auth0_verification["AUTH0_JWKS_STALE_GRACE_SECONDS"]
# Maximum time for one JWKS download (default 5 s).
AUTH0_JWKS_FETCH_TIMEOUT_SECONDS = _auth0_verification["AUTH0_JWKS_FETCH_TIMEOUT_SECONDS"]
del _auth0_verification
