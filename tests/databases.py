"""Test databases: a fresh SQLite file or a fresh PostgreSQL database per test session (and xdist worker)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def backend() -> str:
    return os.environ.get("TEST_DATABASE_BACKEND", "sqlite")


def postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def postgres_reachable() -> bool:
    url = make_url(postgres_admin_url())
    try:
        with psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.OperationalError:
        return False


def _admin_connect() -> psycopg.Connection:
    url = make_url(postgres_admin_url())
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    )


@contextmanager
def fresh_database(tmp_dir: Path, label: str = "t") -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = f"rebtest_{label}_{uuid.uuid4().hex[:10]}"
    if backend() == "sqlite":
        path = tmp_dir / f"{name}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_admin_url()).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
