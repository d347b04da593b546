"""The workbook (XLSX) and the consensus CSV through HTTP: sheets, formula escaping, the framework
version on every row, an anonymous spread, who may download, and the audit trail.

`build_exports_board` (also used by test_board_report.py) builds trust RCF's 2026/27 assessment:
a chair and three NEDs who rated, comments and a rationale that start like spreadsheet formulas,
evidence, an overdue action, and trust RBS's chair next door.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import User
from api.actions.models import Action
from api.assessments.models import Assessment, AssessmentRater, ConsensusRating, Cycle, Evidence, Rating
from api.assessments.repository import criteria_of
from api.audit.models import AuditEvent
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkRecord
from tests.factories import api_token, bearer, make_cycle, make_user, organisation, sign_in

TRUST, OTHER_TRUST = "RCF", "RBS"
HYPERLINK_COMMENT = '=HYPERLINK("https://evil.example/x","Click for more")'
HYPERLINK_RATIONALE = '=HYPERLINK("https://evil.example/r","Agreed at board")'
PLUS_EVIDENCE_TITLE = "+cmd|' /C calc'!A0"
AT_ACTION_TITLE = "@SUM(1+1) review the race equality plan"
MINUS_COMMENT = "-2 levels below last year, in my view"
PLAIN_COMMENTS = ["zebra crossing of views", "Apples: the network chair presented"]
TWO_RATER_COMMENT = "Only two of us rated this one"
WORKBOOK_SHEETS = [
    "Summary",
    "Scores",
    "Consensus",
    "Rating spread",
    "Evidence",
    "Benchmarks",
    "Year on year",
    "Action plan",
    "Framework",
]
EXPORTS = {
    "workbook": ("export.xlsx", "download/workbook.xlsx"),
    "consensus_csv": ("export.csv", "download/consensus.csv"),
    "board_report": ("report.pdf", "download/board-report.pdf"),
}


@dataclass
class ExportsBoard:
    assessment_id: int
    cycle: Cycle
    framework_key: str
    framework_version: int
    trust_name: str
    chair: User
    neds: list[User]
    other_chair: User
    criteria: list[Criterion]
    action_title: str

    @property
    def members(self) -> list[User]:
        return [self.chair, *self.neds]


def build_exports_board(db: Session) -> ExportsBoard:
    cycle = make_cycle(db)
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust=TRUST, name="Ngozi Chairperson")
    neds = [
        make_user(
            db, "quentin.ned@rcf.example.org", role="board_member", trust=TRUST, name="Quentin Ravelstone"
        ),
        make_user(
            db, "wilhelmina.ned@rcf.example.org", role="board_member", trust=TRUST, name="Wilhelmina Throssel"
        ),
        make_user(
            db, "bartholomew.ned@rcf.example.org", role="board_member", trust=TRUST, name="Bartholomew Ek"
        ),
        make_user(
            db, "ottilie.ned@rcf.example.org", role="board_member", trust=TRUST, name="Ottilie Marchbank"
        ),
        make_user(
            db, "peregrine.ned@rcf.example.org", role="board_member", trust=TRUST, name="Peregrine Vose"
        ),
    ]
    other_chair = make_user(db, "chair@rbs.example.org", role="chair", trust=OTHER_TRUST, name="Other Chair")
    trust = organisation(db, TRUST)
    # Rating has closed, so the spread can be shown (docs/anonymity.md).
    assessment = Assessment(
        organisation_id=trust.id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        rating_closed_at=utcnow(),
    )
    db.add(assessment)
    db.commit()
    db.add_all(AssessmentRater(assessment_id=assessment.id, user_id=person.id) for person in [chair, *neds])
    criteria = [criterion for _section, criterion in criteria_of(db, assessment)]
    first, second, third = criteria[0], criteria[1], criteria[2]
    # The first criterion: six raters (the chair and five others), levels 0 to 3 (3 levels apart, so
    # flagged for discussion), comments that look like formulas beside plain ones.
    comments = [HYPERLINK_COMMENT, MINUS_COMMENT, *PLAIN_COMMENTS, "", ""]
    for member, level, comment in zip([chair, *neds], [0, 3, 3, 2, 2, 3], comments, strict=True):
        db.add(
            Rating(
                assessment_id=assessment.id,
                respondent_id=member.id,
                criterion_id=first.id,
                level=level,
                comment=comment,
            )
        )
    # The second criterion: only two raters, so only "2 have rated" may show.
    for member, level in zip(neds[:2], [0, 4], strict=True):
        db.add(
            Rating(
                assessment_id=assessment.id,
                respondent_id=member.id,
                criterion_id=second.id,
                level=level,
                comment=TWO_RATER_COMMENT,
            )
        )
    consensus = ConsensusRating(
        assessment_id=assessment.id, criterion_id=first.id, level=3, rationale=HYPERLINK_RATIONALE
    )
    db.add(consensus)
    # Agreed at 4 with no evidence: unevidenced.
    db.add(ConsensusRating(assessment_id=assessment.id, criterion_id=third.id, level=4, rationale="Strong"))
    db.commit()
    db.add(
        Evidence(
            consensus_rating_id=consensus.id,
            kind="link",
            title=PLUS_EVIDENCE_TITLE,
            url="https://trust.example/minutes",
        )
    )
    db.add(
        Action(
            assessment_id=assessment.id,
            organisation_id=trust.id,
            title=AT_ACTION_TITLE,
            owner="Director of People",
            due_date=date.today() - timedelta(days=10),
            status="in_progress",
        )
    )
    db.commit()
    framework = db.get(FrameworkRecord, cycle.framework_id)
    assert framework is not None
    return ExportsBoard(
        assessment_id=assessment.id,
        cycle=cycle,
        framework_key=framework.key,
        framework_version=framework.version,
        trust_name=trust.name,
        chair=chair,
        neds=neds,
        other_chair=other_chair,
        criteria=criteria,
        action_title=AT_ACTION_TITLE,
    )


@pytest.fixture
def board(db: Session) -> ExportsBoard:
    return build_exports_board(db)


def api_get(client: TestClient, board: ExportsBoard, export: str, email: str = "chair@rcf.example.org"):  # noqa: ANN201
    token = api_token(client, email)
    return client.get(
        f"/api/v1/assessments/{board.assessment_id}/{EXPORTS[export][0]}", headers=bearer(token)
    )


def open_workbook(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def sheet_values(sheet) -> list[object]:  # noqa: ANN001
    return [cell.value for row in sheet.iter_rows() for cell in row if cell.value is not None]


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


# --- The workbook ---------------------------------------------------------------------------------------


def test_workbook_opens_with_openpyxl_and_holds_the_named_sheets(
    client: TestClient, board: ExportsBoard
) -> None:
    response = api_get(client, board, "workbook")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = open_workbook(response.content)
    assert workbook.sheetnames == WORKBOOK_SHEETS
    summary = dict(
        (row[0], row[1])
        for row in workbook["Summary"].iter_rows(min_row=2, max_col=2, values_only=True)
        if row[0]
    )
    assert summary["Trust"] == board.trust_name
    assert summary["Cycle"] == "2026/27"
    assert summary["Status"] == "Provisional: not yet signed off"
    assert summary["Framework version"] == f"{board.framework_key} version {board.framework_version}"
    framework = dict(
        (row[0], row[1])
        for row in workbook["Framework"].iter_rows(min_row=2, max_row=9, max_col=2, values_only=True)
    )
    assert framework["Key"] == board.framework_key and framework["Version"] == board.framework_version
    actions = list(workbook["Action plan"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[3], row[5], row[6]) for row in actions] == [
        ("'" + AT_ACTION_TITLE, "Director of People", "In progress", "Yes")
    ]


def test_text_that_looks_like_a_formula_comes_out_escaped_in_the_workbook(
    client: TestClient, board: ExportsBoard
) -> None:
    workbook = open_workbook(api_get(client, board, "workbook").content)
    # Nothing in the whole workbook is a formula a spreadsheet would run.
    formulas = [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []
    spread = sheet_values(workbook["Rating spread"])
    assert "'" + HYPERLINK_COMMENT in spread and HYPERLINK_COMMENT not in spread
    assert "'" + MINUS_COMMENT in spread and MINUS_COMMENT not in spread
    consensus = sheet_values(workbook["Consensus"])
    assert "'" + HYPERLINK_RATIONALE in consensus and HYPERLINK_RATIONALE not in consensus
    evidence = sheet_values(workbook["Evidence"])
    assert "'" + PLUS_EVIDENCE_TITLE in evidence and PLUS_EVIDENCE_TITLE not in evidence
    # Plain text is left exactly as written.
    assert set(PLAIN_COMMENTS) <= set(spread)


def test_the_rating_spread_is_anonymous(client: TestClient, board: ExportsBoard) -> None:
    workbook = open_workbook(api_get(client, board, "workbook").content)
    spread = workbook["Rating spread"]
    header = [cell.value for cell in spread[1]]
    rows = {row[1]: row for row in spread.iter_rows(min_row=2, values_only=True)}
    first, second = rows[board.criteria[0].key], rows[board.criteria[1].key]
    counts = dict(zip(header[4:9], first[4:9], strict=True))
    assert counts == {
        "Level 0 Not started": 1,
        "Level 1 Emerging": 0,
        "Level 2 Developing": 2,
        "Level 3 Established": 3,
        "Level 4 Embedded": 0,
    }
    assert first[3] == 6 and first[header.index("Median")] == 2.5
    assert (first[header.index("Lowest level")], first[header.index("Highest level")]) == (0, 3)
    # Comments in alphabetical order (case-insensitive), never by person or time.
    comment_column = header.index("Members' comments, in alphabetical order")
    comments = [c for c in first[comment_column:] if c]
    written = sorted([HYPERLINK_COMMENT, MINUS_COMMENT, *PLAIN_COMMENTS], key=str.casefold)
    assert comments == ["'" + c if c.startswith(("=", "-")) else c for c in written]
    # Two raters: only how many have rated, no levels, no comments.
    assert second[3] == 2
    assert all(value in (None, "") for value in second[4 : comment_column - 1])
    assert TWO_RATER_COMMENT not in sheet_values(spread)
    # No member is named anywhere in the spread, by name or email; the NEDs nowhere in the workbook.
    spread_text = " ".join(str(v) for v in sheet_values(spread)).casefold()
    for member in board.members:
        assert member.name.casefold() not in spread_text
        assert member.email.casefold() not in spread_text
    everything = " ".join(str(v) for sheet in workbook.worksheets for v in sheet_values(sheet)).casefold()
    for ned in board.neds:
        assert ned.name.casefold() not in everything and ned.email.casefold() not in everything


# --- The consensus CSV ----------------------------------------------------------------------------------


def test_csv_has_the_framework_version_on_every_row_and_escapes_formulas(
    client: TestClient, board: ExportsBoard
) -> None:
    response = api_get(client, board, "consensus_csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = read_csv(response.content)
    header, data = rows[0], rows[1:]
    assert header[:2] == ["Framework key", "Framework version"]
    assert len(data) == len(board.criteria)
    assert all(row[:3] == [board.framework_key, str(board.framework_version), "2026/27"] for row in data)
    by_key = {row[header.index("Criterion key")]: row for row in data}
    first = by_key[board.criteria[0].key]
    assert first[header.index("Rationale")] == "'" + HYPERLINK_RATIONALE
    assert first[header.index("Agreed level")] == "3"
    assert first[header.index("Evidence items")] == "1"
    third = by_key[board.criteria[2].key]
    assert third[header.index("Level 3 or 4 without evidence")] == "Yes"
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in data for cell in row)


# --- Headers, who may download, the audit trail ---------------------------------------------------------


def test_downloads_are_named_for_the_trust_and_cycle_and_never_cached(
    client: TestClient, board: ExportsBoard
) -> None:
    expected = {
        "workbook": "RCF-2026-27-race-equality-workbook.xlsx",
        "consensus_csv": "RCF-2026-27-race-equality-consensus.csv",
        "board_report": "RCF-2026-27-race-equality-board-report.pdf",
    }
    for export, filename in expected.items():
        response = api_get(client, board, export)
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
        assert response.headers["cache-control"] == "private, no-store"


def test_a_board_member_downloads_from_the_results_page(client: TestClient, board: ExportsBoard) -> None:
    sign_in(client, board.neds[0].email)
    page = client.get(f"/assessments/{board.assessment_id}/results")
    assert page.status_code == 200
    for export, (_api_path, page_path) in EXPORTS.items():
        url = f"/assessments/{board.assessment_id}/{page_path}"
        assert f'href="{url}"' in page.text, export
        response = client.get(url)
        assert response.status_code == 200, (export, response.text[:200])
        assert response.headers["cache-control"] == "private, no-store"
    overview = client.get(f"/assessments/{board.assessment_id}")
    assert f'href="/assessments/{board.assessment_id}/download/board-report.pdf"' in overview.text


def test_another_trusts_member_gets_404_from_every_export(client: TestClient, board: ExportsBoard) -> None:
    token = api_token(client, board.other_chair.email)
    for export, (api_path, _page_path) in EXPORTS.items():
        response = client.get(f"/api/v1/assessments/{board.assessment_id}/{api_path}", headers=bearer(token))
        assert response.status_code == 404, export
        assert board.trust_name not in response.text
    sign_in(client, board.other_chair.email)
    for export, (_api_path, page_path) in EXPORTS.items():
        response = client.get(f"/assessments/{board.assessment_id}/{page_path}")
        assert response.status_code == 404, export
        assert board.trust_name not in response.text


def test_not_signed_in_is_401_for_the_api_and_a_sign_in_redirect_for_pages(
    client: TestClient, board: ExportsBoard
) -> None:
    for export, (api_path, page_path) in EXPORTS.items():
        response = client.get(f"/api/v1/assessments/{board.assessment_id}/{api_path}")
        assert response.status_code == 401, export
        assert response.headers["www-authenticate"] == "Bearer"
        page = client.get(f"/assessments/{board.assessment_id}/{page_path}", follow_redirects=False)
        assert page.status_code == 303, export
        assert page.headers["location"].startswith("/sign-in?next=")


def test_every_download_is_audited_with_the_trust_and_the_kind(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    for export in EXPORTS:
        assert api_get(client, board, export).status_code == 200
    sign_in(client, board.neds[0].email)
    assert client.get(f"/assessments/{board.assessment_id}/download/workbook.xlsx").status_code == 200
    # A refused download records nothing.
    token = api_token(client, board.other_chair.email)
    client.get(f"/api/v1/assessments/{board.assessment_id}/export.csv", headers=bearer(token))
    events = db.exec(
        select(AuditEvent).where(AuditEvent.action == "export.downloaded").order_by(AuditEvent.id)
    ).all()
    db.rollback()
    trust_id = organisation(db, TRUST).id
    db.rollback()
    assert [(e.actor_id, e.organisation_id, e.details["kind"]) for e in events] == [
        (board.chair.id, trust_id, "workbook"),
        (board.chair.id, trust_id, "consensus_csv"),
        (board.chair.id, trust_id, "board_report"),
        (board.neds[0].id, trust_id, "workbook"),
    ]
    assert all(e.object_type == "assessment" and e.object_id == board.assessment_id for e in events)
