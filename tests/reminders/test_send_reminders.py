"""`python -m api send-reminders`: members reminded 14, 7 and 2 days before rating closes, the chair
once the board is ready to agree; each reminder once, even from two runs at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.assessments.models import Cycle
from api.assessments.spread import uk_today
from api.cli import app
from api.db import make_engine
from api.mail import OutboxEmail
from api.reminders.models import ScheduledReminder
from api.reminders.service import DueReminders, milestone_for, send_due_reminders
from api.settings import Settings, get_settings
from tests.assessments.helpers import Board, build_board, open_assessment, query
from tests.conftest import TEST_SECRET
from tests.reminders.test_reminders import finish


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def closes_in(board: Board, days: int) -> None:
    """Move the year's close date so that it is `days` from today (UK)."""
    with Session(board.engine) as session:
        session.execute(update(Cycle).values(closes_on=uk_today() + timedelta(days=days)))
        session.commit()


def emails(board: Board) -> list[OutboxEmail]:
    return query(board.engine, select(OutboxEmail).order_by(OutboxEmail.id))


def run(cli: CliRunner) -> str:
    result = cli.invoke(app, ["send-reminders"])
    assert result.exit_code == 0, result.output
    return result.output


def test_milestones_are_14_7_and_2_days_before_rating_closes_with_a_missed_day_made_up() -> None:
    assert [milestone_for(days) for days in (30, 15, 14, 13, 8, 7, 3, 2, 1, 0, -1)] == [
        None,
        None,
        "closing_14",
        "closing_14",
        "closing_14",
        "closing_7",
        "closing_7",
        "closing_2",
        "closing_2",
        "closing_2",
        None,
    ]


def test_fourteen_days_before_the_close_members_not_finished_are_emailed_once(
    board: Board, aid: int, cli: CliRunner
) -> None:
    finish(board, aid, board.neds[0])
    closes_in(board, 14)
    output = run(cli)
    assert "Sent 6 reminders to members who have not finished rating and 0 to chairs" in output
    sent = emails(board)
    assert sorted(e.to_address for e in sent) == sorted(p.email for p in [board.chair, *board.neds[1:]])
    assert all("rating closes in 14 days" in e.subject for e in sent)
    assert all(f"/assessments/{aid}" in e.body for e in sent)
    # The same day again (or a second machine): nothing more.
    assert "Sent 0 reminders" in run(cli)
    assert len(emails(board)) == 6


def test_each_milestone_is_sent_once_and_nothing_between_them(
    board: Board, aid: int, settings: Settings
) -> None:
    ned = board.neds[0]
    with Session(board.engine) as session:
        cycle = session.exec(select(Cycle)).one()
        closes = cycle.closes_on
        counts = []
        for days_left in (20, 14, 13, 8, 7, 6, 2, 1, 0):
            counts.append(
                send_due_reminders(session, settings, today=closes - timedelta(days=days_left)).to_members
            )
            session.commit()
    # 7 raters: 14 days, 7 days and 2 days before, each once.
    assert counts == [0, 7, 0, 0, 7, 0, 7, 0, 0]
    kinds = query(board.engine, select(ScheduledReminder.kind).where(ScheduledReminder.user_id == ned.id))
    assert sorted(kinds) == ["closing_14", "closing_2", "closing_7"]


def test_the_boards_own_rating_deadline_is_the_day_counted_to(
    board: Board, aid: int, settings: Settings
) -> None:
    deadline = uk_today() + timedelta(days=7)
    version = board.get(f"/api/v1/assessments/{aid}", board.chair).json()["version"]
    response = board.client.put(
        f"/api/v1/assessments/{aid}/rating-deadline",
        json={"rating_deadline": deadline.isoformat(), "version": version},
        headers=board.chair.headers,
    )
    assert response.status_code == 200, response.text
    with Session(board.engine) as session:
        sent = send_due_reminders(session, settings, today=uk_today())
        session.commit()
    assert sent.to_members == 7
    assert all("rating closes in 7 days" in e.subject for e in emails(board))


def test_the_chair_hears_once_when_the_board_is_ready_to_agree(
    board: Board, aid: int, cli: CliRunner
) -> None:
    assert "0 to chairs" in run(cli)
    assert board.close_rating(aid).status_code == 200
    assert "1 to chairs whose board is ready to agree" in run(cli)
    [email] = emails(board)
    assert email.to_address == board.chair.email
    assert "ready to agree its ratings" in email.subject
    assert f"/assessments/{aid}/consensus" in email.body
    assert "1 to chairs" not in run(cli)
    assert len(emails(board)) == 1


def test_the_chair_hears_when_everyone_on_the_board_at_opening_has_finished(
    board: Board, aid: int, settings: Settings
) -> None:
    for person in board.raters[:-1]:
        finish(board, aid, person)
    with Session(board.engine) as session:
        assert send_due_reminders(session, settings).to_chairs == 0
        session.commit()
    finish(board, aid, board.raters[-1])
    with Session(board.engine) as session:
        assert send_due_reminders(session, settings).to_chairs == 1
        session.commit()
    [email] = emails(board)
    assert email.to_address == board.chair.email
    assert "has finished rating. The board is ready to agree its ratings." in email.body
    assert f"/assessments/{aid}/close-rating" in email.body


def test_nothing_is_sent_once_the_year_has_closed(board: Board, aid: int, settings: Settings) -> None:
    closes_in(board, -1)
    with Session(board.engine) as session:
        sent = send_due_reminders(session, settings)
        session.commit()
    assert (sent.to_members, sent.to_chairs) == (0, 0)
    assert emails(board) == []


def test_two_runs_at_the_same_moment_send_each_reminder_once(
    board: Board, aid: int, settings: Settings, database_url: str
) -> None:
    closes_in(board, 2)
    # Two engines, as two machines would have, each run one transaction (as the command's is).
    engines = [make_engine(database_url), make_engine(database_url)]
    barrier = threading.Barrier(2)
    results: list[DueReminders] = []

    def one_run(engine: Engine) -> None:
        with Session(engine) as session:
            barrier.wait(timeout=30)
            results.append(send_due_reminders(session, settings))
            session.commit()

    threads = [threading.Thread(target=one_run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert len(results) == 2
    assert sum(r.to_members for r in results) == 7
    sent = sorted(e.to_address for e in emails(board))
    assert sent == sorted(p.email for p in board.raters)
