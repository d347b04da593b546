"""Retention (`python -m api apply-retention`): accounts closed longer than the set time are
anonymised; members' own ratings, comments and headline answers of cycles that closed more than the
set number of years ago are deleted, while the board's agreed ratings, the stored scores and every
sector figure stay exactly as they were. Running it again, or twice at once, changes nothing more."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.accounts.models import Membership, User
from api.assessments.models import AssessmentRater, ConsensusRating, Cycle, MemberResponse, Rating
from api.benchmarking.models import PeerSnapshot
from api.cli import app
from api.data_protection.service import apply_retention
from api.db import make_engine, utcnow
from api.organisations.models import Organisation
from api.scoring.models import StoredScore
from api.settings import Settings, get_settings
from tests.assessments.helpers import TRUST, Board, get_row, query
from tests.benchmarking.test_closed_year import _submit_directly
from tests.conftest import TEST_SECRET
from tests.factories import api_token_with_second_factor, bearer, make_user


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, clean_database: object) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def old_year(board: Board, rated: int, db: Session, clean_database: Engine) -> dict:
    """RCF's rated assessment signed off, eight other acute trusts submitted, the year then moved to
    six years ago (so it has closed, long past the three-year retention)."""
    board.agree_all(rated)
    assert board.submit(rated).status_code == 200
    others = query(
        clean_database,
        select(Organisation)
        .where(Organisation.peer_type == "acute", Organisation.ods_code != TRUST)
        .limit(8),
    )
    (cycle,) = query(clean_database, select(Cycle))
    for step, organisation in enumerate(others):
        _submit_directly(clean_database, organisation, cycle, 1.0 + step * 0.25)
    closes = date.today() - timedelta(days=6 * 366)
    with Session(clean_database) as session:
        session.execute(
            update(Cycle).values(opens_on=closes - timedelta(days=364), closes_on=closes)  # type: ignore[arg-type]
        )
        session.commit()
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    analyst = api_token_with_second_factor(board.client, db, "analyst@np.example.org")
    db.close()
    return {"assessment": rated, "cycle": cycle.name, "analyst": bearer(analyst)}


def _sector_outputs(board: Board, year: dict) -> dict[str, bytes]:
    seen = {}
    for group in ("all", "trust_type", "region", "size_band"):
        response = board.get(f"/api/v1/assessments/{year['assessment']}/benchmark?group={group}", board.chair)
        assert response.status_code == 200, response.text
        seen[group] = response.content
    for by in ("trust_type", "region", "size_band"):
        response = board.client.get(
            f"/api/v1/sector/heatmap?cycle={year['cycle']}&by={by}", headers=year["analyst"]
        )
        assert response.status_code == 200, response.text
        seen[by] = response.content
    return seen


def _stored(engine: Engine) -> tuple:
    """The board's agreed ratings, the stored scores and the sector snapshots, as rows."""
    return (
        [
            (c.criterion_id, c.level, c.rationale)
            for c in query(engine, select(ConsensusRating).order_by(ConsensusRating.id))
        ],
        [
            (s.assessment_id, s.section_key, s.score)
            for s in query(engine, select(StoredScore).order_by(StoredScore.id))
        ],
        [
            (p.group_kind, p.group_value, p.scores, p.final)
            for p in query(engine, select(PeerSnapshot).order_by(PeerSnapshot.id))
        ],
    )


def _count(engine: Engine, model: type) -> int:
    (n,) = query(engine, select(func.count()).select_from(model))
    return n


def _close_account(board: Board, person_id: int, days_ago: int) -> None:
    """The secretary takes the person off the board (their only one); the clock is then moved back."""
    (membership_id,) = query(board.engine, select(Membership.id).where(Membership.user_id == person_id))
    response = board.client.delete(
        f"/api/v1/organisations/{TRUST}/members/{membership_id}", headers=board.secretary.headers
    )
    assert response.status_code == 204, response.text
    user = get_row(board.engine, User, person_id)
    assert user.closed_at is not None  # removing their last membership closed the account
    with Session(board.engine) as session:
        session.execute(
            update(User).where(User.id == person_id).values(closed_at=utcnow() - timedelta(days=days_ago))  # type: ignore[arg-type]
        )
        session.commit()


def test_retention_deletes_old_individual_ratings_and_anonymises_long_closed_accounts_and_no_figure_moves(
    board: Board, old_year: dict, cli: CliRunner, clean_database: Engine
) -> None:
    long_gone, recently_gone = board.neds[4], board.neds[5]
    _close_account(board, long_gone.id, days_ago=400)
    _close_account(board, recently_gone.id, days_ago=10)
    figures = _sector_outputs(board, old_year)  # the closed year's final figures are taken here
    stored = _stored(clean_database)
    assert any(key.startswith("role:") for _k, _v, scores, _f in stored[2] for key in scores)
    assert _count(clean_database, Rating) == 21 and _count(clean_database, MemberResponse) == 7

    result = cli.invoke(app, ["apply-retention"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 1 accounts closed more than 365 days ago" in result.output
    assert (
        "Deleted 21 members' own ratings, 7 headline answers and 7 board-at-opening entries" in result.output
    )
    assert _count(clean_database, Rating) == 0 and _count(clean_database, MemberResponse) == 0
    assert _count(clean_database, AssessmentRater) == 0
    assert _stored(clean_database) == stored
    assert _sector_outputs(board, old_year) == figures
    assert get_row(clean_database, User, long_gone.id).name == "Erased person"
    kept = get_row(clean_database, User, recently_gone.id)
    assert kept.name == recently_gone.name and kept.erased_at is None
    # The board's own report of the year still shows its agreed levels.
    assert (
        board.get(f"/api/v1/assessments/{old_year['assessment']}/consensus", board.chair).status_code == 200
    )

    again = cli.invoke(app, ["apply-retention"])
    assert again.exit_code == 0, again.output
    assert "Anonymised 0 accounts" in again.output and "Deleted 0 members' own ratings" in again.output
    assert _stored(clean_database) == stored


def test_retention_makes_the_years_sector_figures_final_before_deleting_the_ratings_they_come_from(
    board: Board, old_year: dict, cli: CliRunner, clean_database: Engine
) -> None:
    assert _count(clean_database, PeerSnapshot) == 0 or not any(
        p.final for p in query(clean_database, select(PeerSnapshot))
    )
    assert cli.invoke(app, ["apply-retention"]).exit_code == 0
    snapshots = query(clean_database, select(PeerSnapshot).where(PeerSnapshot.group_kind == "all"))
    assert snapshots and snapshots[0].final
    roles = {
        key: values for key, values in snapshots[0].scores.items() if key.startswith(("role:", "headline:"))
    }
    assert roles and any(str(old_year["assessment"]) == k.split(".")[0] for v in roles.values() for k in v)


def test_recent_cycles_and_open_accounts_are_left_alone(
    board: Board, rated: int, cli: CliRunner, clean_database: Engine
) -> None:
    result = cli.invoke(app, ["apply-retention"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 0 accounts" in result.output and "Deleted 0 members' own ratings" in result.output
    assert _count(clean_database, Rating) == 21


def test_two_runs_at_the_same_moment_do_the_work_once(
    board: Board, old_year: dict, clean_database: Engine, settings: Settings
) -> None:
    _close_account(board, board.neds[4].id, days_ago=400)
    # Engines as the command makes them (on SQLite, a writer takes the lock when it begins).
    engines = [make_engine(settings.database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = []
    failures: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            with Session(engine) as session:
                barrier.wait()
                results.append(
                    apply_retention(session, closed_account_days=365, rating_years=3, k=settings.k_anonymity)
                )
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert not failures, failures
    assert sum(r.accounts_anonymised for r in results) == 1  # type: ignore[attr-defined]
    assert sum(r.ratings_deleted for r in results) == 21  # type: ignore[attr-defined]
    assert _count(clean_database, Rating) == 0
    assert (
        len(query(clean_database, select(User).where(User.name == "Erased person"))) == 2
    )  # the person, their stand-in


def test_inviting_a_closed_account_back_stops_the_retention_clock(
    board: Board, rated: int, cli: CliRunner, clean_database: Engine
) -> None:
    person = board.neds[4]
    _close_account(board, person.id, days_ago=400)
    response = board.client.post(
        f"/api/v1/organisations/{TRUST}/members",
        json={"email": person.email, "name": person.name, "role": "board_member", "board_role": "ned"},
        headers=board.secretary.headers,
    )
    assert response.status_code == 201, response.text
    assert get_row(clean_database, User, person.id).closed_at is None
    result = cli.invoke(app, ["apply-retention"])
    assert "Anonymised 0 accounts" in result.output
    assert get_row(clean_database, User, person.id).name == person.name
