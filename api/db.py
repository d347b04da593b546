"""Database engine, constraint naming, timezone-aware times and the one-transaction-per-request session."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from anyio import to_thread
from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

# Stable constraint names, so Alembic sees no drift between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC time on every database (SQLite keeps no zone, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use api.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whichever spelling the URL uses."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    sqlite_immediate: bool = True,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
) -> Engine:
    """`sqlite_immediate=False` (each statement on its own, like PostgreSQL's read committed) is
    only for test fixtures that read and write beside a running app. The pool figures come from
    settings (DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW, DATABASE_POOL_TIMEOUT)."""
    url = normalise_url(url)
    pool: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
    }
    # JSON columns are read with msgspec, about 2.5 times faster than the standard library on the
    # peer snapshots (a closed cycle's whole-sector snapshot at 10,000 trusts is 2.3 MB of JSON,
    # read for every benchmark and heatmap of that cycle); same values, same types.
    # hide_parameters: a failed statement's error (which reaches the logs) names no values, so no
    # email address or rating is ever written to a log line.
    options: dict[str, Any] = {"json_deserializer": msgspec.json.decode, "hide_parameters": True}
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            pool = {}  # an in-memory database is one connection (SQLAlchemy's own pool for it)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=False,
            **pool,
            **options,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, issue BEGIN, so our transactions are real ones.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if sqlite_immediate:

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                # IMMEDIATE takes the write lock at the start, so two writers queue instead of
                # failing half-way with "database is locked".
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **pool, **options)


class ConnectionGate:
    """Lets at most `slots` requests use the database at once (DATABASE_CONCURRENCY, never more
    than the pool's connections); the rest wait their turn in the event loop, holding neither a
    thread nor a connection, in arrival order.

    Without it, a burst of more requests than the thread pool (40 threads) and the connection pool
    (size + overflow) together can hold deadlocks a process: every thread waits for a connection,
    and every connection belongs to a request whose commit is waiting for a thread. And since a
    process runs Python one thread at a time, a few requests at once are faster than many.
    """

    def __init__(self, slots: int) -> None:
        self.slots = slots
        # One semaphore per event loop (a test client runs each of its portals in a new loop).
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def in_use(self) -> int:
        """Requests holding a place now, over every event loop (for /metrics)."""
        return sum(self.slots - semaphore._value for semaphore in list(self._semaphores.values()))

    def waiting(self) -> int:
        """Requests waiting for a place now (for /metrics)."""
        return sum(len(semaphore._waiters or ()) for semaphore in list(self._semaphores.values()))

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.slots)
        return semaphore


def _finish(session: Session) -> None:
    with session:
        session.commit()


def _abandon(session: Session) -> None:
    with session:
        # Detach first: a rollback expires every loaded object, and the error page still reads
        # the signed-in person (name, trust) after this session is gone.
        session.expunge_all()
        session.rollback()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on error.

    The session is used by the request's (threaded) dependencies and route; commit and rollback
    run in a worker thread too, never in the event loop.
    """
    async with request.app.state.connection_gate.semaphore():
        session = Session(request.app.state.engine, expire_on_commit=False)
        try:
            yield session
        except BaseException:
            await to_thread.run_sync(_abandon, session)
            raise
        await to_thread.run_sync(_finish, session)


# scope="function": the commit runs when the route returns, before the response is sent. The default
# ("request") would commit after the client already has a success response.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def added_first(session: Session, row: Any) -> bool:
    """Insert `row` in a savepoint: False (and nothing written) when a unique key says someone else
    inserted the same row at the same moment, so the caller can read theirs or answer 409."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True
