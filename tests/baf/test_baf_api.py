"""The race-equality BAF risk through the HTTP API: recording, scores and ratings, versions and
history, roles, another trust, and links from gaps to actions."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.accounts.models import User
from api.audit.models import AuditEvent
from api.baf import service as baf_service
from api.baf.models import BafRisk, BafRiskVersion
from api.baf.schemas import BafRiskUpdate
from api.organisations.models import Organisation
from api.settings import Settings
from tests.actions.helpers import Plan, add_previous_assessment, build_plan, errors_of
from tests.assessments.helpers import Board, Person, build_board, open_assessment, query

URL = "/api/v1/organisations/RCF/baf-risk"


def risk_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Because ethnic minority staff are under-represented in senior roles, the trust may fail its people.",
        "strategic_objective": "A workforce that reflects the communities we serve",
        "lead": "Director of People",
        "inherent_likelihood": 4,
        "inherent_consequence": 5,
        "residual_likelihood": 3,
        "residual_consequence": 4,
        "target_likelihood": 2,
        "target_consequence": 2,
        "controls": ["WRES action plan", "Inclusive recruitment panels"],
        "assurances": [
            {"line": 1, "source": "Network report to the people committee"},
            {"line": 2, "source": "WRES results at board"},
            {"line": 3, "source": "Internal audit of recruitment"},
        ],
        "gaps": [{"kind": "control", "text": "No reverse mentoring", "action_ids": []}],
        "version": 0,
    }
    body.update(overrides)
    return body


def put(board: Board, person: Person | None = None, url: str = URL, **overrides: Any) -> httpx.Response:
    return board.client.put(url, json=risk_body(**overrides), headers=(person or board.chair).headers)


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def test_no_risk_recorded_yet_is_404_saying_so(board: Board) -> None:
    response = board.get(URL, board.neds[0])
    assert response.status_code == 404
    assert response.json()["detail"] == "No race equality risk recorded yet"
    assert board.get(f"{URL}/history", board.neds[0]).json() == []


def test_the_chair_records_the_risk_and_the_answer_adds_scores_and_ratings(board: Board) -> None:
    response = put(board)
    assert response.status_code == 200, response.text
    risk = response.json()
    assert (risk["inherent_score"], risk["inherent_rating"]) == (20, "extreme")
    assert (risk["residual_score"], risk["residual_rating"]) == (12, "high")
    assert (risk["target_score"], risk["target_rating"]) == (4, "moderate")
    assert risk["version"] == 1 and risk["cycle"] == "2026/27" and risk["current_cycle"] is True
    assert risk["controls"] == ["WRES action plan", "Inclusive recruitment panels"]
    assert [a["line"] for a in risk["assurances"]] == [1, 2, 3]
    assert risk["gaps"] == [
        {"kind": "control", "text": "No reverse mentoring", "action_ids": [], "actions": []}
    ]
    assert risk["updated_by"] == "Hester Chairwoman"
    read = board.get(URL, board.neds[0])
    assert read.status_code == 200 and read.json() == risk


@pytest.mark.parametrize(
    ("likelihood", "consequence", "score", "rating"),
    [
        (1, 1, 1, "low"),
        (1, 3, 3, "low"),
        (2, 2, 4, "moderate"),
        (2, 3, 6, "moderate"),
        (2, 4, 8, "high"),
        (3, 4, 12, "high"),
        (3, 5, 15, "extreme"),
        (5, 5, 25, "extreme"),
    ],
)
def test_each_score_and_rating_at_the_matrix_edges_through_the_api(
    board: Board, likelihood: int, consequence: int, score: int, rating: str
) -> None:
    risk = put(board, residual_likelihood=likelihood, residual_consequence=consequence).json()
    assert (risk["residual_score"], risk["residual_rating"]) == (score, rating)


@pytest.mark.parametrize(
    "field",
    [
        "inherent_likelihood",
        "inherent_consequence",
        "residual_likelihood",
        "residual_consequence",
        "target_likelihood",
        "target_consequence",
    ],
)
@pytest.mark.parametrize("value", [0, 6])
def test_a_likelihood_or_consequence_outside_one_to_five_is_422_naming_it(
    board: Board, field: str, value: int
) -> None:
    response = put(board, **{field: value})
    assert response.status_code == 422
    assert list(errors_of(response)) == [field]
    assert query(board.engine, select(BafRisk)) == []


def test_other_bad_input_is_422_naming_the_field(board: Board) -> None:
    assert list(errors_of(put(board, description="  "))) == ["description"]
    assert list(errors_of(put(board, assurances=[{"line": 4, "source": "Auditors"}]))) == [
        "assurances.0.line"
    ]
    assert list(errors_of(put(board, gaps=[{"kind": "risk", "text": "x"}]))) == ["gaps.0.kind"]
    body = risk_body()
    del body["version"]
    assert list(errors_of(board.client.put(URL, json=body, headers=board.chair.headers))) == ["version"]
    assert query(board.engine, select(BafRisk)) == []


def test_every_save_keeps_the_version_it_replaces_in_the_history(board: Board) -> None:
    assert put(board).status_code == 200
    second = put(board, board.secretary, version=1, residual_likelihood=2, description="Sharper wording")
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2 and second.json()["residual_score"] == 8
    third = put(board, version=2, controls=["WRES action plan"])
    assert third.json()["version"] == 3
    (risk,) = query(board.engine, select(BafRisk))
    versions = query(board.engine, select(BafRiskVersion).order_by(BafRiskVersion.version))
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].content["residual_likelihood"] == 3 and versions[0].content["description"].startswith(
        "Because"
    )
    assert versions[1].content["description"] == "Sharper wording"
    assert (versions[0].saved_by_id, versions[0].replaced_by_id) == (board.chair.id, board.secretary.id)
    history = board.get(f"{URL}/history", board.neds[0]).json()
    assert [(h["cycle"], h["version"], h["current"]) for h in history] == [
        ("2026/27", 3, True),
        ("2026/27", 2, False),
        ("2026/27", 1, False),
    ]
    assert [h["residual_score"] for h in history] == [12, 8, 12]  # the third save sent 3 × 4 again
    assert history[2]["saved_by"] == "Hester Chairwoman" and history[2]["replaced_by"] == "Ossian Secretan"
    assert history[0]["content"]["controls"] == ["WRES action plan"]
    assert history[1]["content"]["controls"] == ["WRES action plan", "Inclusive recruitment panels"]


def test_a_stale_version_is_409_and_changes_nothing(board: Board) -> None:
    assert put(board).status_code == 200
    assert put(board, version=1, lead="Chief executive").status_code == 200
    stale = put(board, board.secretary, version=1, lead="Overwrites the chief executive")
    assert stale.status_code == 409
    assert stale.json()["current"] == {"version": 2}
    first_again = put(board, version=0)
    assert first_again.status_code == 409
    (risk,) = query(board.engine, select(BafRisk))
    assert (risk.lead, risk.version) == ("Chief executive", 2)
    assert len(query(board.engine, select(BafRiskVersion))) == 1


def test_each_save_is_audited_with_the_old_and_new_residual_score(board: Board) -> None:
    put(board)
    put(board, version=1, residual_likelihood=2, residual_consequence=3)
    events = query(
        board.engine,
        select(AuditEvent).where(AuditEvent.action == "baf_risk.updated").order_by(AuditEvent.id),
    )
    assert [(e.details["old_residual_score"], e.details["new_residual_score"]) for e in events] == [
        (None, 12),
        (12, 6),
    ]
    assert "12 → 6" in events[1].summary and events[1].actor_id == board.chair.id


def test_a_board_member_reads_the_risk_but_cannot_change_it(board: Board) -> None:
    put(board)
    ned = board.neds[0]
    assert board.get(URL, ned).status_code == 200
    assert board.get(f"{URL}/history", ned).status_code == 200
    assert put(board, ned, version=1, lead="A NED's choice").status_code == 403
    (risk,) = query(board.engine, select(BafRisk))
    assert (risk.lead, risk.version) == ("Director of People", 1)


def test_another_trusts_risk_is_404(board: Board) -> None:
    put(board)
    other = board.other_chair
    assert board.get(URL, other).status_code == 404
    assert board.get(f"{URL}/history", other).status_code == 404
    assert put(board, other, version=1, lead="Taken over").status_code == 404
    assert board.get("/api/v1/organisations/NOPE/baf-risk", other).json() == board.get(URL, other).json()
    # Their own trust has none: the chair of RBS never sees RCF's.
    assert (
        board.get("/api/v1/organisations/RBS/baf-risk", other).json()["detail"]
        == "No race equality risk recorded yet"
    )
    (risk,) = query(board.engine, select(BafRisk))
    assert risk.lead == "Director of People"


# --- Gaps linked to actions --------------------------------------------------------------------------------


def test_gaps_link_to_the_trusts_actions_and_another_trusts_action_is_422(board: Board) -> None:
    plan: Plan = build_plan(board)
    ours = plan.added(title="Start reverse mentoring")
    theirs_assessment = board.open(board.other_chair, trust="RBS").json()["id"]
    theirs = plan.added(person=board.other_chair, assessment_id=theirs_assessment, title="RBS's own action")
    refused = put(
        board,
        gaps=[
            {"kind": "control", "text": "No reverse mentoring", "action_ids": [ours["id"]]},
            {"kind": "assurance", "text": "No audit", "action_ids": [theirs["id"]]},
        ],
    )
    assert refused.status_code == 422
    assert errors_of(refused) == {
        "gaps.1.action_ids": f"Action {theirs['id']} is not one of this trust's actions"
    }
    assert list(errors_of(put(board, gaps=[{"kind": "control", "text": "x", "action_ids": [999999]}]))) == [
        "gaps.0.action_ids"
    ]
    assert query(board.engine, select(BafRisk)) == []
    accepted = put(
        board, gaps=[{"kind": "control", "text": "No reverse mentoring", "action_ids": [ours["id"]]}]
    )
    assert accepted.status_code == 200, accepted.text
    (gap,) = accepted.json()["gaps"]
    assert gap["action_ids"] == [ours["id"]]
    assert gap["actions"] == [
        {
            "id": ours["id"],
            "title": "Start reverse mentoring",
            "status": "not_started",
            "overdue": False,
            "cycle": "2026/27",
        }
    ]


# --- A new cycle ---------------------------------------------------------------------------------------------


def test_last_years_risk_is_shown_until_this_years_is_saved_and_each_year_keeps_its_history(
    db: Session, client: TestClient, clean_database: Engine, settings: Settings
) -> None:
    add_previous_assessment(clean_database)
    board = build_board(db, client, clean_database, settings)
    # Last year's risk, recorded while 2025/26 was the current cycle.
    with Session(clean_database) as session:
        chair = session.get(User, board.chair.id)
        rcf = session.exec(select(Organisation).where(Organisation.ods_code == "RCF")).one()
        command = BafRiskUpdate.model_validate(risk_body() | {"version": 0})
        baf_service.save_baf_risk(session, chair, rcf, command, today=date(2025, 6, 1))
        session.commit()
    shown = board.get(URL, board.neds[0]).json()
    assert (shown["cycle"], shown["current_cycle"], shown["version"]) == ("2025/26", False, 1)
    saved = put(board, version=1, residual_likelihood=2)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["cycle"], saved.json()["current_cycle"], saved.json()["version"]) == (
        "2026/27",
        True,
        1,
    )
    risks = query(clean_database, select(BafRisk).order_by(BafRisk.id))
    assert len(risks) == 2 and risks[0].residual_likelihood == 3  # last year's left as it was
    history = board.get(f"{URL}/history", board.chair).json()
    assert [(h["cycle"], h["version"], h["current"]) for h in history] == [
        ("2026/27", 1, True),
        ("2025/26", 1, True),
    ]


def test_a_gap_shows_its_action_as_carried_forward_to_this_year(
    db: Session, client: TestClient, clean_database: Engine, settings: Settings
) -> None:
    previous_id = add_previous_assessment(clean_database)
    board = build_board(db, client, clean_database, settings)
    last_year = Plan(board=board, assessment_id=previous_id)
    old = last_year.added(title="Reverse mentoring", status="in_progress")
    assert (
        put(board, gaps=[{"kind": "control", "text": "No mentoring", "action_ids": [old["id"]]}]).status_code
        == 200
    )
    new_assessment = open_assessment(board)
    carried = last_year.get(f"/api/v1/assessments/{new_assessment}/actions").json()[0]
    (gap,) = board.get(URL, board.chair).json()["gaps"]
    assert gap["action_ids"] == [old["id"]]
    assert [(a["id"], a["cycle"]) for a in gap["actions"]] == [(carried["id"], "2026/27")]
