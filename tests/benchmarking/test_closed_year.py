"""A closed year's figures are final: nothing new is submitted after the close date, and a submission
a platform admin reopens and signs off again moves no peer or sector figure (docs/anonymity.md)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import refresh_snapshots
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from api.settings import Settings
from tests.assessments.helpers import CYCLE, OTHER_TRUST, TRUST, Board, build_board, open_assessment, query
from tests.factories import api_token_with_second_factor, make_user, sign_in

GROUPS = ("all", "trust_type", "region", "size_band")
SECTOR_OUTPUTS = [
    f"/api/v1/sector/heatmap{suffix}?cycle={CYCLE}&by={by}"
    for suffix in ("", ".csv", ".xlsx")
    for by in ("trust_type", "region", "size_band")
]


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def _submit_directly(engine: Engine, organisation: Organisation, cycle: Cycle, score: float) -> int:
    """Another trust's submission, with its stored scores, as sign-off leaves them."""
    with Session(engine) as session:
        assessment = Assessment(
            organisation_id=organisation.id,
            cycle_id=cycle.id,
            framework_id=cycle.framework_id,
            status="submitted",
        )
        session.add(assessment)
        session.flush()
        for key, kind in ((OVERALL_KEY, "overall"), ("accountability", "priority"), ("baf", "baf")):
            session.add(
                StoredScore(assessment_id=assessment.id, section_key=key, kind=kind, score=score, count=1)
            )
        session.commit()
        assert assessment.id is not None
        return assessment.id


def _cycle(engine: Engine) -> Cycle:
    (cycle,) = query(engine, select(Cycle).where(Cycle.name == CYCLE))
    return cycle


def _close_the_year(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(
            update(Cycle).where(Cycle.name == CYCLE).values(closes_on=date.today() - timedelta(days=1))  # type: ignore[arg-type]
        )
        session.commit()


@pytest.fixture
def sector(board: Board, db: Session, clean_database: Engine, settings: Settings) -> dict:
    """RCF signed off through the API at level 2; RBS and eleven other acute trusts (some in RBS's
    region) submitted at scores from 1.0 up; the in-cycle snapshots taken. Then the year closes."""
    engine = clean_database
    rcf = open_assessment(board)
    board.agree_all(rcf, level=2)
    assert board.submit(rcf).status_code == 200
    organisations = query(engine, select(Organisation).where(Organisation.peer_type == "acute"))
    by_code = {o.ods_code: o for o in organisations}
    rbs = by_code[OTHER_TRUST]
    others = [o for o in organisations if o.ods_code not in (TRUST, OTHER_TRUST)]
    near = [o for o in others if o.region == rbs.region][:6]
    rest = [o for o in others if o not in near][:6]
    cycle = _cycle(engine)
    rbs_id = _submit_directly(engine, rbs, cycle, 2.5)
    for step, organisation in enumerate(near + rest):
        _submit_directly(engine, organisation, cycle, 1.0 + step * 0.25)
    with Session(engine) as session:
        refresh_snapshots(session, session.get(Cycle, cycle.id), settings.k_anonymity)
        session.commit()
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    analyst = api_token_with_second_factor(board.client, db, "analyst@np.example.org")
    db.close()
    return {"rcf": rcf, "rbs": rbs_id, "analyst": {"Authorization": f"Bearer {analyst}"}}


def _what_peers_see(board: Board, sector: dict) -> dict[str, bytes]:
    """RBS's benchmark against every peer group and its trend, and every sector heatmap output."""
    seen = {}
    for group in GROUPS:
        response = board.get(
            f"/api/v1/assessments/{sector['rbs']}/benchmark?group={group}", board.other_chair
        )
        assert response.status_code == 200, response.text
        seen[f"benchmark {group}"] = response.content
    seen["trend"] = board.get(f"/api/v1/assessments/{sector['rbs']}/trend", board.other_chair).content
    for path in SECTOR_OUTPUTS:
        response = board.client.get(path, headers=sector["analyst"])
        assert response.status_code == 200, response.text
        seen[path] = _cells(response.content) if ".xlsx" in path else response.content
    return seen


def _cells(xlsx: bytes) -> bytes:
    """A workbook's cell values (its file also holds the time it was written)."""
    workbook = load_workbook(io.BytesIO(xlsx))
    return repr([list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]).encode()


def _heatmap_json(board: Board, sector: dict) -> dict:
    return board.client.get(
        f"/api/v1/sector/heatmap?cycle={CYCLE}&by=trust_type", headers=sector["analyst"]
    ).json()


def test_a_reopened_and_resubmitted_assessment_after_the_close_moves_no_peer_or_sector_figure(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    _close_the_year(clean_database)
    before = _what_peers_see(board, sector)
    heatmap_before = _heatmap_json(board, sector)
    assert not heatmap_before["cells"][0]["suppressed"]  # there is a figure to move

    # A platform admin reopens RCF's submission; the board changes every agreed level and signs off again.
    assert board.reopen(sector["rcf"]).status_code == 200
    assert _what_peers_see(board, sector) == before
    for key in board.criterion_keys:
        response = board.agree(board.chair, sector["rcf"], key, 4, version=1)
        assert response.status_code == 200, response.text
    resubmitted = board.submit(sector["rcf"])
    assert resubmitted.status_code == 200, resubmitted.text
    assert resubmitted.json()["status"] == "submitted"

    assert _what_peers_see(board, sector) == before
    assert _heatmap_json(board, sector) == heatmap_before
    # RCF's own record has its corrected score; the peers it is compared with have not moved.
    own = board.get(f"/api/v1/assessments/{sector['rcf']}/benchmark?group=all", board.chair).json()
    assert own["sections"][0]["own"] == 4.0
    snapshots = query(clean_database, select(PeerSnapshot))
    assert snapshots and all(s.final for s in snapshots if s.group_kind in GROUPS and s.assessment_ids)


def test_the_final_figures_are_as_the_submissions_stood_at_the_close_even_if_a_reopening_comes_first(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    """Nobody has looked since the close when the admin reopens: the final figures are taken first,
    with RCF's submission in them, and its resubmission does not move them."""
    _close_the_year(clean_database)
    assert board.reopen(sector["rcf"]).status_code == 200
    (everyone,) = query(clean_database, select(PeerSnapshot).where(PeerSnapshot.group_kind == "all"))
    assert everyone.final and sector["rcf"] in everyone.assessment_ids
    before = _what_peers_see(board, sector)
    for key in board.criterion_keys:
        assert board.agree(board.chair, sector["rcf"], key, 0, version=1).status_code == 200
    assert board.submit(sector["rcf"]).status_code == 200
    assert _what_peers_see(board, sector) == before


def test_nothing_new_is_submitted_after_the_close_date(
    board: Board, sector: dict, clean_database: Engine
) -> None:
    """RBS's board had a draft: once the year has closed, sign-off is refused (API and page), and
    the figures do not move."""
    with Session(clean_database) as session:
        session.execute(
            update(Assessment).where(Assessment.id == sector["rbs"]).values(status="in_progress")  # type: ignore[arg-type]
        )
        session.commit()
    for key in board.criterion_keys:  # every level agreed: sign-off is refused for the date alone
        assert board.agree(board.other_chair, sector["rbs"], key, 3).status_code == 200
    _close_the_year(clean_database)
    before = _what_peers_see(board, sector)

    refused = board.submit(sector["rbs"], board.other_chair)
    assert refused.status_code == 409, refused.text
    assert (
        "closed on" in refused.json()["detail"] and "can no longer be submitted" in refused.json()["detail"]
    )
    assert query(clean_database, select(Assessment.status).where(Assessment.id == sector["rbs"])) == [
        "in_progress"
    ]
    assert _what_peers_see(board, sector) == before

    client = board.client
    sign_in(client, "chair@alderhey.example")
    page = client.get(f"/assessments/{sector['rbs']}/submit")
    assert page.status_code == 200
    assert "You cannot submit: the year has closed" in page.text
    assert "Sign off and submit" not in page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert token
    posted = client.post(f"/assessments/{sector['rbs']}/submit", data={"csrf_token": token[1]})
    assert posted.status_code == 409 and "can no longer be submitted" in posted.text
    assert _what_peers_see(board, sector) == before


def test_sign_off_on_the_close_date_itself_is_still_accepted(board: Board, clean_database: Engine) -> None:
    with Session(clean_database) as session:
        session.execute(update(Cycle).where(Cycle.name == CYCLE).values(closes_on=date.today()))  # type: ignore[arg-type]
        session.commit()
    rcf = open_assessment(board)
    board.agree_all(rcf, level=1)
    assert board.submit(rcf).status_code == 200
