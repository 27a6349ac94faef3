"""A throw-away database for a benchmark run: a dedicated PostgreSQL database or an SQLite file."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_NAME = "meeting_streamer_bench"
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
MIGRATE_TIMEOUT_SECONDS = 300


@dataclass
class BenchDatabase:
    """The DATABASE_URL the servers use, and how to remove the database afterwards."""

    url: str
    engine: str
    postgres_maintenance_url: str | None = None
    postgres_name: str | None = None

    def drop(self) -> None:
        if self.postgres_maintenance_url is None or self.postgres_name is None:
            return  # an SQLite file goes with the run's temporary directory
        _drop_postgres_database(self.postgres_maintenance_url, self.postgres_name)
        logger.info("Dropped database %s", self.postgres_name)


def create_database(server_url: str | None, work_dir: Path, name: str = DEFAULT_DATABASE_NAME) -> BenchDatabase:
    """Create an empty database next to the one ``server_url`` names, or an SQLite file without one.

    An ``sqlite:`` URL also gets a fresh SQLite file, so the run never writes to the file it names.

    An existing PostgreSQL database called ``name`` is dropped first, so a run
    interrupted before its clean-up does not break the next one.
    """
    parts = urlsplit(server_url or "")
    if not server_url or parts.scheme.startswith("sqlite"):
        path = work_dir / "bench.sqlite3"
        return BenchDatabase(url=f"sqlite:///{path}", engine="sqlite")
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ValueError(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported by the benchmark: "
            "use a postgres:// URL, or unset DATABASE_URL for SQLite"
        )
    if parts.path.lstrip("/") == name:
        raise ValueError(
            f"DATABASE_URL names the database {name!r}, which the benchmark drops and creates: "
            "point DATABASE_URL at another database of the server, or pass --database-name"
        )
    maintenance_url = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
    _drop_postgres_database(maintenance_url, name)
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    logger.info("Created database %s", name)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    return BenchDatabase(url=url, engine="postgresql", postgres_maintenance_url=maintenance_url, postgres_name=name)


def _drop_postgres_database(maintenance_url: str, name: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrate(env: dict[str, str]) -> None:
    """Run ``manage.py migrate`` with the servers' environment."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py migrate failed with status {completed.returncode}:\n{completed.stderr}")


def create_local_user(env: dict[str, str], username: str, password: str) -> None:
    """Create a local (password) account in the benchmark database through the Django ORM."""
    # The password goes through the environment, not argv, which other users can list.
    script = (
        "import os, sys, django\n"
        "django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "get_user_model().objects.create_user(username=sys.argv[1], password=os.environ['BENCH_PASSWORD'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, username],
        cwd=PROJECT_ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "BENCH_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"creating the local user failed:\n{completed.stderr}")
