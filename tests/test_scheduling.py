"""Scheduled commands are safe to run on every instance at once: each piece of work is done once, and
every run exits 0 (api/scheduling.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.accounts.models import WebSession
from api.cli import app
from api.db import make_engine, utcnow
from api.mail import OutboxEmail
from api.scheduling import run_once
from api.settings import PROJECT_ROOT, get_settings
from tests.conftest import TEST_SECRET
from tests.databases import backend
from tests.factories import make_user

needs_postgresql = pytest.mark.skipif(
    backend() != "postgresql",
    reason="on SQLite a second run waits for the first one's write lock: there is no overlap to check",
)


def reminder_job(engine: Engine, barrier: threading.Barrier, did_work: list[bool]) -> None:
    """A job whose work is not safe to overlap: it checks whether the reminder was written, waits a
    moment (as a slow job would), then writes it. Two overlapping runs would both write it."""
    with Session(engine) as session:
        barrier.wait()
        if not run_once(session, "test-reminders"):
            did_work.append(False)
            return
        sent = session.exec(select(func.count()).select_from(OutboxEmail)).one()
        time.sleep(0.5)
        if not sent:
            session.add(
                OutboxEmail(to_address="chair@example.org", subject="Reminder", body="Rate by Friday")
            )
        session.commit()
        did_work.append(not sent)


def test_two_runs_at_the_same_moment_do_the_work_once(clean_database: Engine, database_url: str) -> None:
    # The app's own engine (on SQLite, transactions take the write lock from their first statement).
    engine = make_engine(database_url)
    try:
        barrier = threading.Barrier(2)
        did_work: list[bool] = []
        runs = [threading.Thread(target=reminder_job, args=(engine, barrier, did_work)) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=60)
        assert sorted(did_work) == [False, True]
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(OutboxEmail)).one() == 1
    finally:
        engine.dispose()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, clean_database: object) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def expired_sessions(db: Session, count: int) -> None:
    user = make_user(db, "someone@rcf.example.org", role="board_member", trust="RCF")
    for n in range(count):
        db.add(WebSession(token_hash=f"w{n:063d}", user_id=user.id, expires_at=utcnow() - timedelta(hours=1)))
    db.commit()


@needs_postgresql
def test_purge_expired_while_another_instance_runs_it_does_nothing_and_exits_0(
    cli: CliRunner, db: Session, clean_database: Engine
) -> None:
    expired_sessions(db, 3)
    with Session(clean_database) as other_instance:
        assert run_once(other_instance, "purge-expired")

        result = cli.invoke(app, ["purge-expired"])

        assert result.exit_code == 0, result.output
        assert "Another instance is running purge-expired now" in result.output
        assert db.exec(select(func.count()).select_from(WebSession)).one() == 3
    # Once the other run has finished, a run goes ahead.
    again = cli.invoke(app, ["purge-expired"])
    assert again.exit_code == 0 and "Deleted 3 expired browser sessions" in again.output


@needs_postgresql
def test_purge_expired_started_on_two_instances_at_once_deletes_each_row_once(
    db: Session, database_url: str
) -> None:
    expired_sessions(db, 50)
    env = {**os.environ, "DATABASE_URL": database_url, "ENV": "test", "SECRET_KEY": TEST_SECRET}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "api", "purge-expired"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    deleted = [
        int(output.split("Deleted ", 1)[1].split(" ", 1)[0]) if "Deleted " in output else 0
        for output in outputs
    ]
    assert sum(deleted) == 50, outputs
    assert db.exec(select(func.count()).select_from(WebSession)).one() == 0
