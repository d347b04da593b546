"""A platform admin closes a year before its close date: a deliberate, audited step. The final
figures are taken then, every later change is refused, and the sector view says the figures are
final (docs/sector-method.md, docs/anonymity.md)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.audit.models import AuditEvent
from api.benchmarking.models import PeerSnapshot
from api.settings import Settings
from tests.assessments.helpers import CYCLE, Board, build_board, query
from tests.benchmarking.test_closed_year import _what_peers_see
from tests.benchmarking.test_closed_year import sector as sector  # noqa: F401 (a fixture)
from tests.factories import csrf_from, sign_in_with_second_factor


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def _cycle(engine: Engine) -> Cycle:
    (cycle,) = query(engine, select(Cycle).where(Cycle.name == CYCLE))
    return cycle


def _close(board: Board, version: int, person: object = None) -> object:
    return board.client.post(
        "/api/v1/admin/cycles/close",
        json={"cycle": CYCLE, "version": version},
        headers=(person or board.admin).headers,  # type: ignore[attr-defined]
    )


def _rbs_back_to_draft(engine: Engine, sector: dict) -> None:
    with Session(engine) as session:
        session.execute(
            update(Assessment).where(Assessment.id == sector["rbs"]).values(status="in_progress")  # type: ignore[arg-type]
        )
        session.commit()


def test_a_platform_admin_closes_the_year_from_a_confirmation_page(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    client = board.client
    with Session(clean_database) as session:
        sign_in_with_second_factor(client, session, "admin@platform.example")
    overview = client.get("/admin")
    assert "/admin/cycles/close?cycle=2026/27" in overview.text
    page = client.get("/admin/cycles/close", params={"cycle": CYCLE})
    assert page.status_code == 200
    assert "Closing the year cannot be undone" in page.text
    assert _cycle(clean_database).closed_at is None  # showing the page changes nothing
    response = client.post(
        "/admin/cycles/close",
        data={"cycle": CYCLE, "version": "1", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/admin?done=cycle_closed")

    cycle = _cycle(clean_database)
    assert cycle.closed_at is not None and cycle.version == 2
    # The final snapshot, taken at the close, holds every submission then.
    (everyone,) = query(clean_database, select(PeerSnapshot).where(PeerSnapshot.group_kind == "all"))
    assert everyone.final and {sector["rcf"], sector["rbs"]} <= set(everyone.assessment_ids)
    assert len(everyone.assessment_ids) == 14
    (event,) = query(clean_database, select(AuditEvent).where(AuditEvent.action == "cycle.closed"))
    assert event.actor_email == "admin@platform.example" and event.object_id == cycle.id
    assert "figures are now final" in event.summary
    # Closing again, from the same page, is refused and says so.
    again = client.post(
        "/admin/cycles/close",
        data={"cycle": CYCLE, "version": "1", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert again.status_code == 409 and "has already closed" in again.text
    assert len(query(clean_database, select(AuditEvent).where(AuditEvent.action == "cycle.closed"))) == 1


def test_after_the_close_every_late_change_is_refused_and_the_figures_do_not_move(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    """RBS's board still had a draft: once the year is closed it can neither rate, answer the 0 to 10
    question, agree a level nor sign off. The sector page says the figures are final."""
    _rbs_back_to_draft(clean_database, sector)
    key = board.criterion_keys[0]
    assert board.agree(board.other_chair, sector["rbs"], key, 3).status_code == 200  # open: allowed
    closed = _close(board, version=1)
    assert closed.status_code == 200, closed.text
    assert closed.json()["figures_final"] is True and closed.json()["version"] == 2
    before = _what_peers_see(board, sector)

    rbs = sector["rbs"]
    refusals = {
        "rating": board.rate(board.other_ned, rbs, key, 2),
        "headline": board.client.put(
            f"/api/v1/assessments/{rbs}/headline",
            json={"score": 7, "version": 0},
            headers=board.other_ned.headers,
        ),
        "agreed level": board.agree(board.other_chair, rbs, key, 4, version=1),
        "sign-off": board.submit(rbs, board.other_chair),
    }
    for what, response in refusals.items():
        assert response.status_code == 409, f"{what}: {response.status_code} {response.text}"
        assert "closed on" in response.json()["detail"], what
    assert query(clean_database, select(Assessment.status).where(Assessment.id == rbs)) == ["in_progress"]
    assert _what_peers_see(board, sector) == before

    with Session(clean_database) as session:
        sign_in_with_second_factor(board.client, session, "admin@platform.example")
    page = board.client.get("/sector", params={"cycle": CYCLE})
    assert "These are the final figures for 2026/27" in page.text


def test_closing_is_compare_and_set_and_for_platform_admins_only(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    stale = _close(board, version=0)
    assert stale.status_code == 409 and stale.json()["current"] == {"version": 1}
    assert (
        board.client.post(
            "/api/v1/admin/cycles/close", json={"cycle": CYCLE, "version": 1}, headers=sector["analyst"]
        ).status_code
        == 403
    )
    assert _close(board, version=1, person=board.chair).status_code == 403
    assert _cycle(clean_database).closed_at is None
    assert not query(clean_database, select(AuditEvent).where(AuditEvent.action == "cycle.closed"))
    assert _close(board, version=1).status_code == 200
    assert _close(board, version=2).status_code == 409  # closed once, for good
