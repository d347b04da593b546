"""Settings reach services one way: the app's own (create_app's), never the process environment.

An app built with a non-default K (2; the environment's default is 5) must sign off the same way on
the page and through the API: two submissions in a peer group are K, so sign-off takes the group's
snapshot. A door that read K from the environment instead would take none (two is under five).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.benchmarking.models import PeerSnapshot
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from api.settings import Settings
from tests.assessments.helpers import CYCLE, OTHER_TRUST, Board, build_board, open_assessment, query
from tests.factories import sign_in

APP_K = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    assert Settings.model_fields["k_anonymity"].default != APP_K  # the environment's K differs
    return settings.model_copy(update={"k_anonymity": APP_K})


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def _other_trust_submitted(engine: Engine) -> int:
    """RBS's submission with its stored scores, as sign-off leaves them (one of the K)."""
    with Session(engine) as session:
        (cycle,) = session.exec(select(Cycle).where(Cycle.name == CYCLE)).all()
        (rbs,) = session.exec(select(Organisation).where(Organisation.ods_code == OTHER_TRUST)).all()
        assessment = Assessment(
            organisation_id=rbs.id, cycle_id=cycle.id, framework_id=cycle.framework_id, status="submitted"
        )
        session.add(assessment)
        session.flush()
        session.add(
            StoredScore(assessment_id=assessment.id, section_key=OVERALL_KEY, kind="overall", score=2.0)
        )
        session.commit()
        assert assessment.id is not None
        return assessment.id


def _sign_off_on_the_page(board: Board, assessment_id: int) -> None:
    sign_in(board.client, "chair@airedale.example")
    page = board.client.get(f"/assessments/{assessment_id}/submit")
    assert page.status_code == 200, page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert token
    posted = board.client.post(
        f"/assessments/{assessment_id}/submit",
        data={"csrf_token": token[1], "confirmed": "true"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text


@pytest.mark.parametrize("door", ["page", "api"])
def test_sign_off_uses_the_apps_k_on_both_doors(board: Board, clean_database: Engine, door: str) -> None:
    rcf = open_assessment(board)
    board.agree_all(rcf, level=2)
    rbs = _other_trust_submitted(clean_database)

    if door == "page":
        _sign_off_on_the_page(board, rcf)
    else:
        response = board.submit(rcf)
        assert response.status_code == 200, response.text

    assert query(clean_database, select(Assessment.status).where(Assessment.id == rcf)) == ["submitted"]
    everyone = query(clean_database, select(PeerSnapshot).where(PeerSnapshot.group_kind == "all"))
    assert [s.assessment_ids for s in everyone] == [sorted([rcf, rbs])]
