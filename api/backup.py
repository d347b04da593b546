"""Backing up and restoring the database: `python -m api backup FILE` and `python -m api restore FILE`.

SQLite is copied through its online backup API (a consistent copy while the service keeps running);
PostgreSQL with `pg_dump` and `pg_restore` in the custom format, using the client tools of the
server's major version. A restore refuses a database that already holds tables unless told to
replace it. Evidence files are in the database (evidence_file_content), so a backup holds them.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from api.db import make_engine

SQLITE_HEADER = b"SQLite format 3\x00"
PG_CUSTOM_HEADER = b"PGDMP"  # the first bytes of a pg_dump custom-format archive


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why, in one line."""


@dataclass(frozen=True)
class RestoreResult:
    revision: str | None  # the Alembic revision the restored database is at


def _url(database_url: str) -> URL:
    return make_url(database_url)


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_path(url: URL) -> Path:
    if url.database in (None, "", ":memory:"):
        raise BackupError("DATABASE_URL names an in-memory SQLite database: there is nothing to back up")
    return Path(url.database)  # type: ignore[arg-type]


def _file_kind(file: Path) -> str:
    with file.open("rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if head.startswith(SQLITE_HEADER):
        return "sqlite"
    if head.startswith(PG_CUSTOM_HEADER):
        return "postgresql"
    return "unknown"


# --- Is the database empty? ---------------------------------------------------------------------------


def table_count(database_url: str) -> int:
    """Tables (and views and sequences) in the database, outside the system catalogues."""
    url = _url(database_url)
    if _is_sqlite(url):
        path = _sqlite_path(url)
        if not path.exists():
            return 0
        with _sqlite_connect(path) as connection:
            return connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') "
                    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg\\_toast%'"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def migration_revision(database_url: str) -> str | None:
    url = _url(database_url)
    query = "SELECT version_num FROM alembic_version"
    try:
        if _is_sqlite(url):
            with _sqlite_connect(_sqlite_path(url)) as connection:
                row = connection.execute(query).fetchone()
                return row[0] if row else None
        engine = make_engine(database_url, pool_size=1, max_overflow=0)
        try:
            with engine.connect() as connection:
                return connection.execute(text(query)).scalar_one_or_none()
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - no alembic_version table: an unmigrated database
        return None


# --- SQLite ---------------------------------------------------------------------------------------------


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _sqlite_backup(url: URL, file: Path) -> None:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"there is no database at {source_path}")
    source = _sqlite_connect(source_path)
    target = sqlite3.connect(file)
    try:
        # One step: a consistent copy even while the service writes (they wait a moment for it).
        source.backup(target)
        # The copy is one self-contained file, not a WAL database with its side files.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _sqlite_restore(url: URL, file: Path) -> None:
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    target_path = _sqlite_path(url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    target = _sqlite_connect(target_path)
    try:
        problem = source.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"{file} is a damaged SQLite database ({problem}); nothing restored")
        # The whole database is replaced in one step: on any failure the target is left as it was.
        source.backup(target)
    finally:
        target.close()
        source.close()


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _server_major(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    except Exception as exc:
        raise BackupError(f"cannot reach the database: {exc.__class__.__name__}") from exc
    finally:
        engine.dispose()


def _tool_major(path: str) -> int | None:
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"\) (\d+)", output) or re.search(r"(\d+)(?:\.\d+)?\s*$", output.strip())
    return int(match.group(1)) if match else None


def pg_tool(name: str, server_major: int) -> str:
    """pg_dump or pg_restore of the server's major version (Debian keeps each version apart under
    /usr/lib/postgresql/N/bin), else the one on PATH if it is at least as new as the server."""
    candidates = [f"/usr/lib/postgresql/{server_major}/bin/{name}"]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    found = []
    for candidate in candidates:
        if not Path(candidate).exists():
            continue
        major = _tool_major(candidate)
        if major is not None and major >= server_major:
            return candidate
        found.append(f"{candidate} is version {major}")
    detail = f" ({'; '.join(found)})" if found else ""
    raise BackupError(
        f"{name} for PostgreSQL {server_major} or newer was not found{detail}: "
        f"install the PostgreSQL {server_major} client tools (Debian: postgresql-client-{server_major})"
    )


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A connection URL for the PostgreSQL tools, with the password passed in the environment (a
    command line is visible to every user of the machine)."""
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        raise BackupError(f"{what} failed: {reason}")


def _pg_backup(database_url: str, file: Path) -> None:
    url = _url(database_url)
    pg_dump = pg_tool("pg_dump", _server_major(database_url))
    conninfo, env = _libpq(url)
    _run([pg_dump, "--format=custom", f"--file={file}", f"--dbname={conninfo}"], env, "pg_dump")


def _pg_empty_public_schema(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as connection:
            # Everything the service made lives in the public schema: its tables, the audit log's
            # append-only trigger and function.
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _pg_restore(database_url: str, file: Path, *, replace: bool) -> None:
    url = _url(database_url)
    pg_restore = pg_tool("pg_restore", _server_major(database_url))
    conninfo, env = _libpq(url)
    # Read the archive's table of contents first, so a damaged file is refused before anything is dropped.
    _run([pg_restore, "--list", str(file)], env, f"reading {file}")
    if replace:
        _pg_empty_public_schema(database_url)
    _run(
        [
            pg_restore,
            "--single-transaction",
            "--exit-on-error",
            # Owned by, and granted to, whoever restores: the roles of the machine it came from
            # need not exist here.
            "--no-owner",
            "--no-privileges",
            f"--dbname={conninfo}",
            str(file),
        ],
        env,
        "pg_restore",
    )


# --- The commands ---------------------------------------------------------------------------------------


def backup(database_url: str, file: Path) -> None:
    """Write a backup of the database to `file`, which must not exist yet. Written beside it under
    a temporary name first, so a failed backup never leaves a file that looks whole."""
    if file.exists():
        raise BackupError(f"{file} already exists: choose a new file name")
    if not file.parent.is_dir():
        raise BackupError(f"there is no folder {file.parent}")
    partial = file.with_name(f".{file.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if _is_sqlite(_url(database_url)):
            _sqlite_backup(_url(database_url), partial)
        else:
            _pg_backup(database_url, partial)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)


def restore(database_url: str, file: Path, *, replace: bool = False) -> RestoreResult:
    """Restore `file` into the database. A database that already holds tables is refused unless
    `replace` is true, in which case everything in it is replaced."""
    if not file.is_file():
        raise BackupError(f"there is no backup file {file}")
    url = _url(database_url)
    expected = "sqlite" if _is_sqlite(url) else "postgresql"
    kind = _file_kind(file)
    if kind == "unknown":
        raise BackupError(f"{file} is neither a SQLite database nor a pg_dump custom-format archive")
    if kind != expected:
        raise BackupError(
            f"{file} is a {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} backup, but DATABASE_URL "
            f"names a {'SQLite' if expected == 'sqlite' else 'PostgreSQL'} database"
        )
    tables = table_count(database_url)
    if tables and not replace:
        raise BackupError(
            f"the database already holds {tables} tables: restore into an empty database, "
            "or add --replace to delete everything in it first"
        )
    if expected == "sqlite":
        _sqlite_restore(url, file)
    else:
        _pg_restore(database_url, file, replace=bool(tables))
    return RestoreResult(revision=migration_revision(database_url))
