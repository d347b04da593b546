"""Shared fixtures: one migrated database per test session, emptied of trust data after each test."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.db import make_engine, metadata
from api.frameworks.service import sync_frameworks
from api.main import create_app
from api.migrate import upgrade
from api.organisations.service import (
    SHIPPED_CSV,
    import_organisations,
    parse_organisations_csv,
    read_csv_file,
)
from api.settings import PROJECT_ROOT, Settings
from tests.databases import backend, fresh_database, postgres_reachable

FRAMEWORKS_DIR = PROJECT_ROOT / "assessments"
# Loaded once per session and left in place: tests that change them are marked `changes_reference_data`.
REFERENCE_TABLES = ("organisation", "framework", "framework_section", "criterion")
TEST_SECRET = "test-secret-key-that-is-long-enough-for-tests-0123456789"


def pytest_report_header(config: pytest.Config) -> str:
    return f"database backend: {backend()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if backend() == "postgresql" and not postgres_reachable():
        pytest.exit("PostgreSQL is not reachable at TEST_DATABASE_URL", returncode=3)


def load_reference_data(engine: Engine) -> None:
    with Session(engine) as session:
        sync_frameworks(session, FRAMEWORKS_DIR)
        import_organisations(session, parse_organisations_csv(read_csv_file(SHIPPED_CSV)))
        session.commit()


def empty_tables(engine: Engine, *, keep_reference: bool = True) -> None:
    tables = [
        t.name
        for t in reversed(metadata.sorted_tables)
        if not (keep_reference and t.name in REFERENCE_TABLES)
    ]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with fresh_database(tmp_path_factory.mktemp("db"), worker) as url:
        upgrade(url)
        engine = make_engine(url)
        load_reference_data(engine)
        engine.dispose()
        yield url


def reference_fingerprint(engine: Engine) -> str:
    """A digest of every row of the reference tables (about 2 ms on SQLite, 5 ms on PostgreSQL)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name in REFERENCE_TABLES:
            for row in conn.execute(text(f"SELECT * FROM {name} ORDER BY id")):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    # On SQLite each test statement stands alone: a test's reads never hold the app's write lock
    # and always see what the app committed (as PostgreSQL's read committed does).
    engine = make_engine(database_url, sqlite_immediate=False)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def reference_state(engine: Engine) -> dict[str, str]:
    """The reference data's fingerprint as loaded (renewed after each reload)."""
    return {"fingerprint": reference_fingerprint(engine)}


@pytest.fixture
def clean_database(
    engine: Engine, reference_state: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """Every test starts from the reference data alone and leaves nothing behind.

    Tests marked `changes_reference_data` (they add trusts or frameworks, or change one) get it
    reloaded. An unmarked test that changed it fails here, after the reload: left in place, its
    change would break whichever tests run after it in the same worker.
    """
    yield engine
    if request.node.get_closest_marker("changes_reference_data"):
        empty_tables(engine, keep_reference=False)
        load_reference_data(engine)
        reference_state["fingerprint"] = reference_fingerprint(engine)
        return
    empty_tables(engine)
    if reference_fingerprint(engine) != reference_state["fingerprint"]:
        empty_tables(engine, keep_reference=False)
        load_reference_data(engine)
        reference_state["fingerprint"] = reference_fingerprint(engine)
        pytest.fail(
            "this test changed the reference data (trusts or frameworks): mark it "
            "@pytest.mark.changes_reference_data so it is reloaded after it",
            pytrace=False,
        )


@pytest.fixture
def db(clean_database: Engine) -> Iterator[Session]:
    with Session(clean_database, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        frameworks_dir=FRAMEWORKS_DIR,
    )


@pytest.fixture
def app(settings: Settings, clean_database: Engine):  # noqa: ANN201 - FastAPI
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client
