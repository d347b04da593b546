"""Autosave is the busiest write of the year: on PostgreSQL a save is one statement, sent once.

On PostgreSQL (api/assessments/autosave.py) the token and membership check, the share lock on the
assessment, the compare-and-set update or the first insert, the member's progress on a first answer
and the audit event are one statement of CTEs. On SQLite a changed answer is four statements: the
bearer token with its person and memberships, the assessment under its share lock (with its cycle:
has the year closed?), the compare-and-set, the audit event. Either way the transaction's own BEGIN
and COMMIT and the pool's liveness ping are not counted. One more is an N+1 creeping back into the
hot path (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func
from sqlmodel import Session, select

from api.assessments.models import Assessment, MemberResponse, Rating
from api.audit.models import AuditEvent
from api.frameworks.models import Criterion
from api.settings import Settings
from tests.assessments.helpers import Board, build_board, open_assessment

BOOKKEEPING = ("BEGIN", "COMMIT", "ROLLBACK", "SELECT 1", "PRAGMA", "SAVEPOINT", "RELEASE")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if not statement.lstrip().upper().startswith(BOOKKEEPING):
            seen.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def on_postgresql(board: Board) -> bool:
    return board.engine.dialect.name == "postgresql"


def app_engine(board: Board) -> Engine:
    return board.client.app.state.engine  # type: ignore[attr-defined]


def rating_events(board: Board, actor_id: int) -> list[AuditEvent]:
    with Session(board.engine) as s:
        return list(
            s.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "rating.changed", AuditEvent.actor_id == actor_id
                )
            ).all()
        )


def test_changing_an_answer(board: Board) -> None:
    aid = open_assessment(board)
    ned, key = board.neds[0], board.criterion_keys[0]
    first = board.rate(ned, aid, key, 2, 0, "first thoughts")
    assert first.status_code == 200, first.text

    with statements(app_engine(board)) as seen:
        changed = board.rate(ned, aid, key, 3, first.json()["version"], "on reflection")
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"criterion_key": key, "level": 3, "comment": "on reflection", "version": 2}
    if on_postgresql(board):
        assert len(seen) == 1, "\n".join(seen)
        assert seen[0].startswith("WITH caller AS"), seen[0]
    else:
        assert len(seen) == 4, "\n".join(seen)
        assert seen[0].startswith("SELECT user_account."), seen[0]
        assert seen[2].startswith("UPDATE rating SET"), seen[2]
        assert seen[3].startswith("INSERT INTO audit_event"), seen[3]
    events = rating_events(board, ned.id)
    assert len(events) == 2
    assert (
        events[-1].actor_email,
        events[-1].organisation_id,
        events[-1].object_type,
        events[-1].object_id,
    ) == (
        ned.email,
        events[0].organisation_id,
        "assessment",
        aid,
    )
    assert events[-1].summary == "A board member updated their own ratings"
    assert events[-1].details == {} and events[-1].client_ip is None


def test_a_first_answer_is_one_statement_with_progress_and_audit(board: Board) -> None:
    """The first answer inserts the rating, makes the member's response row and writes the audit
    event; the last answer of a member who has answered the headline question marks them finished."""
    if not on_postgresql(board):
        pytest.skip("the one-statement save is PostgreSQL's; SQLite keeps the usual path")
    aid = open_assessment(board)
    ned = board.neds[1]
    keys = board.criterion_keys

    with statements(app_engine(board)) as seen:
        first = board.rate(ned, aid, keys[0], 1, 0, "a start")
    assert first.status_code == 200, first.text
    assert first.json() == {"criterion_key": keys[0], "level": 1, "comment": "a start", "version": 1}
    assert len(seen) == 1, "\n".join(seen)
    with Session(board.engine) as s:
        response = s.exec(
            select(MemberResponse).where(
                MemberResponse.assessment_id == aid, MemberResponse.respondent_id == ned.id
            )
        ).one()
        assert (response.board_role, response.headline_score, response.completed_at, response.version) == (
            "executive",
            None,
            None,
            1,
        )
    assert len(rating_events(board, ned.id)) == 1

    headline = board.client.put(
        f"/api/v1/assessments/{aid}/headline", json={"score": 6, "version": 0}, headers=ned.headers
    )
    assert headline.status_code == 200, headline.text
    for key in keys[1:-1]:
        assert board.rate(ned, aid, key, 2).status_code == 200
    mine = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert mine["my_progress"] == {
        "answered": len(keys) - 1,
        "total": len(keys),
        "headline_answered": True,
        "finished": False,
    }
    assert mine["board_progress"]["members_finished"] == 0

    with statements(app_engine(board)) as seen:
        last = board.rate(ned, aid, keys[-1], None, 0)
    assert last.status_code == 200, last.text
    assert len(seen) == 1, "\n".join(seen)
    mine = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert mine["my_progress"] == {
        "answered": len(keys),
        "total": len(keys),
        "headline_answered": True,
        "finished": True,
    }
    assert mine["board_progress"]["members_finished"] == 1
    assert len(rating_events(board, ned.id)) == len(keys) + 1  # and the headline answer's


def test_refused_saves_write_nothing(board: Board) -> None:
    """A stale version, a first answer given twice, an unknown key, another trust's member, a
    secretary: the usual answers, and neither a rating nor an audit event."""
    aid = open_assessment(board)
    ned, key = board.neds[2], board.criterion_keys[0]
    assert board.rate(ned, aid, key, 2, 0, "mine").status_code == 200
    with Session(board.engine) as s:
        before = (
            s.exec(select(func.count()).select_from(Rating)).one(),
            s.exec(select(func.count()).select_from(AuditEvent)).one(),
        )

    stale = board.rate(ned, aid, key, 4, 7)
    assert stale.status_code == 409
    assert stale.json()["current"] == {"level": 2, "comment": "mine", "version": 1}
    again = board.rate(ned, aid, key, 4, 0)
    assert again.status_code == 409
    assert again.json()["current"] == {"level": 2, "comment": "mine", "version": 1}
    assert board.rate(ned, aid, "no-such-criterion", 1, 0).status_code == 422
    assert board.rate(board.other_ned, aid, key, 1, 0).status_code == 404
    assert board.rate(board.secretary, aid, key, 1, 0).status_code == 403
    made_up = board.client.put(
        f"/api/v1/assessments/{aid}/ratings/{key}",
        json={"level": 1, "comment": "", "version": 0},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert made_up.status_code == 401 and made_up.headers["www-authenticate"] == "Bearer"

    with Session(board.engine) as s:
        after = (
            s.exec(select(func.count()).select_from(Rating)).one(),
            s.exec(select(func.count()).select_from(AuditEvent)).one(),
        )
    assert after == before


@pytest.mark.changes_reference_data  # it narrows a framework criterion to another type of trust
def test_a_criterion_the_trust_does_not_rate_is_refused(board: Board) -> None:
    """A criterion limited to other types of trust: 422 naming the key, for a first answer and for
    a change, on both paths; nothing written."""
    aid = open_assessment(board)
    ned, key = board.neds[3], board.criterion_keys[1]
    with Session(board.engine) as s:
        assessment = s.get(Assessment, aid)
        assert assessment is not None
        criterion = s.exec(
            select(Criterion).where(Criterion.key == key, Criterion.framework_id == assessment.framework_id)
        ).one()
        criterion.applies_to = ["no-such-trust-type"]
        s.add(criterion)
        s.commit()
    for version in (0, 3):
        refused = board.rate(ned, aid, key, 2, version)
        assert refused.status_code == 422, refused.text
        assert "criterion_key" in refused.text
    assert rating_events(board, ned.id) == []
