"""The sector heatmap: suppression, batch snapshots, secondary suppression, the role view, access."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse, Rating
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import refresh_snapshots
from api.frameworks.models import Criterion
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from api.sector.service import BY_OPTIONS
from tests.factories import (
    api_token,
    api_token_with_second_factor,
    bearer,
    make_cycle,
    make_user,
    sign_in_with_second_factor,
)

K = 5


@pytest.fixture
def cycle(db: Session) -> Cycle:
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    return make_cycle(db)


def _trusts(db: Session, peer_type: str) -> list[Organisation]:
    return list(
        db.exec(
            select(Organisation).where(Organisation.peer_type == peer_type).order_by(Organisation.ods_code)
        ).all()
    )


def _submit(db: Session, cycle: Cycle, organisation: Organisation, score: float) -> Assessment:
    assessment = Assessment(
        organisation_id=organisation.id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        status="submitted",
    )
    db.add(assessment)
    db.commit()
    for key, kind in ((OVERALL_KEY, "overall"), ("accountability", "priority"), ("baf", "baf")):
        db.add(StoredScore(assessment_id=assessment.id, section_key=key, kind=kind, score=score, count=1))
    db.commit()
    return assessment


def _refresh(db: Session, cycle: Cycle) -> None:
    refresh_snapshots(db, cycle, K, today=date(2026, 11, 23))
    db.commit()


def _heatmap(client: TestClient, token: str, by: str = "trust_type") -> dict:
    response = client.get(
        "/api/v1/sector/heatmap", params={"cycle": "2026/27", "by": by}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _cell(answer: dict, section: str, group: str) -> dict:
    return next(c for c in answer["cells"] if c["section"] == section and c["group"] == group)


def _in_region(db: Session, region: str) -> list[Organisation]:
    return list(
        db.exec(
            select(Organisation).where(Organisation.region == region).order_by(Organisation.ods_code)
        ).all()
    )


def test_a_cell_below_k_trusts_is_suppressed_and_at_k_it_is_shown(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    for organisation in _in_region(db, "South West")[: K - 1]:
        _submit(db, cycle, organisation, 2.0)
    for organisation in _in_region(db, "East of England")[: K - 1]:
        _submit(db, cycle, organisation, 2.0)
    for organisation in _in_region(db, "London")[:K]:
        _submit(db, cycle, organisation, 3.0)
    _refresh(db, cycle)
    answer = _heatmap(client, api_token_with_second_factor(client, db, "analyst@np.example.org"), by="region")
    south_west = _cell(answer, "accountability", "South West")
    assert south_west["suppressed"] is True and south_west["median"] is None and south_west["n"] is None
    assert south_west["suppression"] == "fewer than K"
    london = _cell(answer, "accountability", "London")
    assert london["suppressed"] is False and london["median"] == 3.0 and london["n"] == "5–9"
    # Nobody in the Midlands has submitted: shown as suppressed, never as a count of zero.
    midlands = _cell(answer, "accountability", "Midlands")
    assert midlands["suppressed"] is True and midlands["n"] is None
    # 13 submitted, but with regions hidden the whole-sector count is shown as what the regions'
    # counts add up to (London 5–9, six regions of fewer than 5): 5 to 33, so "5–49".
    assert _cell(answer, "accountability", "all")["n"] == "5–49"


def test_the_next_smallest_cell_is_suppressed_too_so_no_cell_can_be_subtracted(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    for organisation in _trusts(db, "ambulance")[:2]:
        _submit(db, cycle, organisation, 2.0)
    for organisation in _trusts(db, "non_acute")[:6]:
        _submit(db, cycle, organisation, 1.0)
    for organisation in _trusts(db, "acute")[:12]:
        _submit(db, cycle, organisation, 3.0)
    _refresh(db, cycle)
    answer = _heatmap(client, api_token_with_second_factor(client, db, "analyst@np.example.org"))
    assert _cell(answer, "baf", "ambulance")["suppression"] == "fewer than K"
    secondary = _cell(answer, "baf", "non_acute")
    assert (
        secondary["suppressed"] is True
        and secondary["suppression"] == "secondary"
        and secondary["median"] is None
    )
    assert _cell(answer, "baf", "acute")["suppressed"] is False


def test_the_page_says_in_the_cell_why_each_figure_is_not_shown(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    for organisation in _trusts(db, "ambulance")[:2]:
        _submit(db, cycle, organisation, 2.0)
    for organisation in _trusts(db, "non_acute")[:6]:
        _submit(db, cycle, organisation, 1.0)
    for organisation in _trusts(db, "acute")[:12]:
        _submit(db, cycle, organisation, 3.0)
    _refresh(db, cycle)
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector", params={"cycle": "2026/27"}).text
    cells = [" ".join(c.split()) for c in re.findall(r'app-heat-suppressed">([^<]*)</td>', page)]
    assert "Not shown: fewer than 5 trusts submitted" in cells
    assert (
        "Not shown, though enough trusts submitted: it is hidden too, so the smaller hidden group "
        "cannot be worked out from the total"
    ) in cells
    assert "Suppressed (too few trusts)" not in page


def test_one_more_submission_does_not_move_the_heatmap_until_the_batch_refresh(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    acute = _trusts(db, "acute")
    for organisation in acute[:10]:
        _submit(db, cycle, organisation, 1.0)
    _refresh(db, cycle)
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")
    before = _heatmap(client, token)

    def snapshots() -> set[tuple[str, str, int]]:
        rows = db.exec(select(PeerSnapshot).where(PeerSnapshot.cycle_id == cycle.id)).all()
        return {(s.group_kind, s.group_value, len(s.assessment_ids)) for s in rows}

    def groups_only(answer: dict) -> dict:
        return {
            **answer,
            "columns": [c for c in answer["columns"] if c["key"] != "all"],
            "cells": [c for c in answer["cells"] if c["group"] != "all"],
        }

    unchanged = 0
    for count, organisation in enumerate(acute[10:15], start=1):
        taken = snapshots()
        _submit(db, cycle, organisation, 4.0)
        _refresh(db, cycle)
        if count < K:
            after = _heatmap(client, token)
            assert groups_only(after) == groups_only(before)
            # The whole-sector count is what every breakdown's groups add up to, so it may move
            # when another breakdown's group is refreshed (as that heatmap shows), never otherwise.
            if snapshots() == taken:
                assert after == before
                unchanged += 1
            before = after
    assert unchanged > 0  # some submissions moved no snapshot at all: the whole answer held still
    assert groups_only(_heatmap(client, token)) != groups_only(before)


def test_the_change_since_last_year_is_against_last_years_figures_as_published(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    """Last year the ambulance cell was hidden (2 trusts), so the non-acute one (6 trusts, median 1.0)
    was hidden too. Had this year's non-acute cell a change, its median less the change would give
    that hidden 1.0 back: so it has none. Cells shown both years have one."""
    last = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
    for peer_type, this_many, last_year, this_year in (
        ("ambulance", (2, 6), 1.0, 2.0),
        ("non_acute", (6, 6), 1.0, 2.5),
        ("acute", (12, 12), 3.0, 3.5),
    ):
        trusts = _trusts(db, peer_type)
        for organisation in trusts[: this_many[0]]:
            _submit(db, last, organisation, last_year)
        for organisation in trusts[: this_many[1]]:
            _submit(db, cycle, organisation, this_year)
    refresh_snapshots(db, last, K, today=date(2026, 11, 23))  # closed: the final figures
    _refresh(db, cycle)
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")

    last_year = client.get(
        "/api/v1/sector/heatmap", params={"cycle": "2025/26", "by": "trust_type"}, headers=bearer(token)
    ).json()
    assert _cell(last_year, "accountability", "non_acute")["suppression"] == "secondary"
    this_year = _heatmap(client, token)
    assert this_year["previous_cycle"] == "2025/26"
    non_acute = _cell(this_year, "accountability", "non_acute")
    assert non_acute["suppressed"] is False and non_acute["median"] == 2.5
    assert non_acute["change"] is None  # 2.5 less a change would be last year's hidden median
    assert _cell(this_year, "accountability", "acute")["change"] == 0.5
    # Every breakdown, every output: a change only where both years' cells are shown, and then
    # exactly the difference of the two figures shown.
    for by in BY_OPTIONS:
        params = {"cycle": "2026/27", "by": by}
        answer = client.get("/api/v1/sector/heatmap", params=params, headers=bearer(token)).json()
        before = client.get(
            "/api/v1/sector/heatmap", params={**params, "cycle": "2025/26"}, headers=bearer(token)
        ).json()
        rows = [
            row
            for row in csv.DictReader(
                io.StringIO(
                    client.get("/api/v1/sector/heatmap.csv", params=params, headers=bearer(token)).text
                )
            )
            if row["Table"].startswith("Heatmap")
        ]
        for cell, row in zip(answer["cells"], rows, strict=True):
            old = _cell(before, cell["section"], cell["group"])
            shown_both = not cell["suppressed"] and not old["suppressed"]
            expected = round(cell["median"] - old["median"], 1) if shown_both else None
            assert cell["change"] == expected, (by, cell, old)
            assert row["Change since last cycle"] == ("" if expected is None else str(expected))


def test_only_analysts_and_admins_see_the_heatmap(client: TestClient, db: Session, cycle: Cycle) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    token = api_token(client, "chair@rcf.example.org")
    assert client.get("/api/v1/sector/heatmap?cycle=2026/27", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/sector/heatmap?cycle=2026/27").status_code == 401


def test_analysts_never_receive_a_trusts_own_figures(client: TestClient, db: Session, cycle: Cycle) -> None:
    own = _submit(db, cycle, _trusts(db, "acute")[0], 2.0)
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")
    for path in ("", "/scores", "/benchmark", "/ratings", "/consensus", "/trend"):
        assert client.get(f"/api/v1/assessments/{own.id}{path}", headers=bearer(token)).status_code == 404


def test_csv_and_xlsx_hold_the_same_cells(client: TestClient, db: Session, cycle: Cycle) -> None:
    for organisation in _trusts(db, "acute")[:K]:
        _submit(db, cycle, organisation, 3.0)
    _refresh(db, cycle)
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")
    answer = _heatmap(client, token)
    csv_response = client.get("/api/v1/sector/heatmap.csv?cycle=2026/27&by=trust_type", headers=bearer(token))
    rows = list(csv.reader(io.StringIO(csv_response.text)))
    assert rows[0][:5] == ["Table", "Cycle", "Framework", "Measure", "Group"]
    heatmap_rows = [row for row in rows if row[0].startswith("Heatmap")]
    assert len(heatmap_rows) == len(answer["cells"])
    xlsx = client.get("/api/v1/sector/heatmap.xlsx?cycle=2026/27&by=trust_type", headers=bearer(token))
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames == [
        "Heatmap",
        "Participation",
        "Maturity bands",
        "Headline figures",
        "Role view",
        "About",
    ]
    assert workbook["Heatmap"].max_row == 1 + len(heatmap_rows)
    spreadsheet_rows = sum(workbook[name].max_row - 1 for name in workbook.sheetnames if name != "About")
    assert spreadsheet_rows == len(rows) - 1


def test_unknown_cycle_is_422_naming_the_field(client: TestClient, db: Session, cycle: Cycle) -> None:
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")
    response = client.get("/api/v1/sector/heatmap?cycle=2031/32", headers=bearer(token))
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "cycle"


def _with_respondents(db: Session, cycle: Cycle, chairs: int) -> None:
    """`chairs` trusts each with a chair who rated accountability at 3 and answered the headline."""
    criterion = db.exec(
        select(Criterion).where(
            Criterion.key.like("accountability-%"), Criterion.framework_id == cycle.framework_id
        )
    ).first()
    for index, organisation in enumerate(_trusts(db, "acute")[:chairs]):
        assessment = _submit(db, cycle, organisation, 2.0)
        chair = make_user(
            db, f"chair{index}@t.example.org", role="chair", trust=organisation.ods_code, password=None
        )
        db.add(
            MemberResponse(
                assessment_id=assessment.id, respondent_id=chair.id, board_role="chair", headline_score=8
            )
        )
        db.add(
            Rating(assessment_id=assessment.id, respondent_id=chair.id, criterion_id=criterion.id, level=3)
        )
        db.commit()


def test_role_view_needs_eleven_respondents(client: TestClient, db: Session, cycle: Cycle) -> None:
    _with_respondents(db, cycle, 10)
    _refresh(db, cycle)
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector?cycle=2026/27").text
    chairs_row = page.split('<th scope="row" class="nhsuk-table__header">Chairs</th>')[1].split("</tr>")[0]
    assert "3.0" not in chairs_row and "Suppressed" in chairs_row


def test_role_view_shows_medians_from_eleven_respondents(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    _with_respondents(db, cycle, 11)
    _refresh(db, cycle)
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector?cycle=2026/27")
    assert page.status_code == 200
    chairs_row = page.text.split('<th scope="row" class="nhsuk-table__header">Chairs</th>')[1].split("</tr>")[
        0
    ]
    assert "8.0" in chairs_row and "3.0" in chairs_row


def test_shares_and_people_figures_are_no_finer_than_one_trust_or_person_can_move_them(
    client: TestClient, db: Session, cycle: Cycle
) -> None:
    """12 trusts, each with its chair answering: every share has a base under 20 (to 10 points) and
    every figure from people comes from fewer than 22 of them (to halves). At 1 point, 5 of 12 would
    show as 42%, which with "10–19" trusts gives the count back."""
    answers = [8, 9, 10, 7, 6, 8, 5, 10, 9, 3, 2, 8]  # mean 7.08; 7 of 12 answer 8 to 10; 2 answer 10
    embedded = db.exec(
        select(Criterion).where(
            Criterion.indicator == "embedded_in_business", Criterion.framework_id == cycle.framework_id
        )
    ).one()
    for index, (organisation, answer) in enumerate(zip(_trusts(db, "acute"), answers, strict=False)):
        assessment = _submit(db, cycle, organisation, 2.0)
        chair = make_user(
            db, f"chair{index}@t.example.org", role="chair", trust=organisation.ods_code, password=None
        )
        db.add(
            MemberResponse(
                assessment_id=assessment.id, respondent_id=chair.id, board_role="chair", headline_score=answer
            )
        )
        db.add(
            ConsensusRating(
                assessment_id=assessment.id, criterion_id=embedded.id, level=4 if index < 5 else 2
            )
        )
        db.commit()
    _refresh(db, cycle)
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector?cycle=2026/27")
    assert page.status_code == 200
    text = page.text

    def row(label: str) -> str:
        return text.split(label, 1)[1].split("</tr>")[0]

    assert "40% of boards" in row("fully embedded as core board business")  # 5 of 12: 41.7%
    assert ">7.0<" in row("Mean answer to the 0 to 10 question")  # 7.08, from 12 people: to halves
    assert ">60%<" in row("Share of respondents answering 8 to 10")  # 58.3%
    assert ">20%<" in row("Share of respondents answering 10 (fully embedded)")  # 16.7%
    assert ">7.0<" in row('<th scope="row" class="nhsuk-table__header">Chairs</th>')
