"""The sector view as a publication: a survey replayed with a known answer set (the 2022 survey's
size and role mix, board role "other" included) shows exactly its figures, at the precision the
disclosure rules allow for its base, on the page and in every download (docs/sector-method.md)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse
from api.benchmarking.service import refresh_snapshots
from api.frameworks.models import Criterion
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from tests.factories import make_cycle, make_user, sign_in_with_second_factor

K = 5


def _answers(people: int, tens: int, eights: int, total: int) -> list[int]:
    """`people` answers to the 0 to 10 question: `tens` of 10, `eights` of 8, the rest between
    0 and 7, adding up to `total`."""
    rest = people - tens - eights
    base, extra = divmod(total - 10 * tens - 8 * eights, rest)
    assert base >= 0 and base + (1 if extra else 0) <= 7
    return [10] * tens + [8] * eights + [base + 1] * extra + [base] * (rest - extra)


# 254 respondents, as in 2022: 70 chairs, 33 chief executives, 114 NEDs and 37 others (20 executive
# directors, 5 board secretaries, 12 recorded as "other"). Sum 1422: mean 5.598. 56 answer 8 to 10
# (22.05%), 10 answer 10 (3.94%). Chairs 434 of 70: 6.2. Leaving out the 17 secretaries and
# "other" (as before every respondent counted): 55 of 237 answer 8 to 10, 23.2%.
SURVEY = {
    "chair": _answers(70, 4, 16, 434),
    "chief_executive": _answers(33, 2, 6, 181),  # 5.48
    "ned": _answers(114, 3, 21, 604),  # 5.30
    "executive": _answers(20, 1, 2, 108),
    "secretary": _answers(5, 0, 0, 25),
    "other": _answers(12, 0, 1, 70),  # with executives and secretaries: 203 of 37, 5.49
}
TRUSTS = 70  # each with its chair; boards' agreed level on "embedded" is 4 at 14 of them (20%)
EXPECTED = {
    "mean": "5.6",  # 254 people: to one decimal
    "share_8_to_10": "22%",  # a base of 100 or more: whole percentages
    "share_10": "4%",
    "chairs": "6.2",
    "chief_executives": "5.5",
    "neds": "5.3",
    "others": "5.5",
    # Weighted 28:14:45:11 as the 2022 responses: mean 5.604 (to one decimal: 33 or more people in
    # the smallest group); 22.51% and 4.01% to 5 points (the smallest group has 20 to 99 people).
    "mean_reweighted": "5.6",
    "share_8_to_10_reweighted": "25%",
    "share_10_reweighted": "5%",
    "embedded_boards": "20%",  # 14 of 70 boards, to 5 points
}


@pytest.fixture
def replay(db: Session) -> Cycle:
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    cycle = make_cycle(db)
    trusts = list(
        db.exec(select(Organisation).where(Organisation.peer_type == "acute").order_by(Organisation.ods_code))
    )[:TRUSTS]
    assert len(trusts) == TRUSTS
    embedded = db.exec(
        select(Criterion).where(
            Criterion.indicator == "embedded_in_business", Criterion.framework_id == cycle.framework_id
        )
    ).one()
    assessments = []
    for index, organisation in enumerate(trusts):
        assessment = Assessment(
            organisation_id=organisation.id,
            cycle_id=cycle.id,
            framework_id=cycle.framework_id,
            status="submitted",
        )
        db.add(assessment)
        db.flush()
        db.add(
            StoredScore(
                assessment_id=assessment.id, section_key=OVERALL_KEY, kind="overall", score=2.0, count=1
            )
        )
        db.add(
            ConsensusRating(
                assessment_id=assessment.id, criterion_id=embedded.id, level=4 if index % 5 == 0 else 2
            )
        )
        assessments.append(assessment)
    person = 0
    for board_role, answers in SURVEY.items():
        for index, answer in enumerate(answers):
            # Chairs one to a board; everyone else spread across the boards in turn.
            assessment = assessments[index % TRUSTS] if board_role != "chair" else assessments[index]
            person += 1
            user = User(email=f"respondent{person}@replay.example.org", name=f"Respondent {person}")
            db.add(user)
            db.flush()
            db.add(
                MemberResponse(
                    assessment_id=assessment.id,
                    respondent_id=user.id,
                    board_role=board_role,
                    headline_score=answer,
                )
            )
    db.commit()
    refresh_snapshots(db, cycle, K, today=date(2026, 11, 23))
    db.commit()
    return cycle


def _row(html: str, label: str) -> list[str]:
    """The cells of the table row headed `label`, as text."""
    row = html.split(f">{label}</th>", 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_the_page_shows_the_replayed_surveys_figures_counting_everyone(
    client: TestClient, db: Session, replay: Cycle
) -> None:
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector?cycle=2026/27")
    assert page.status_code == 200
    html = page.text
    mean = _row(html, "Mean answer to the 0 to 10 question")
    high = _row(html, "Share of respondents answering 8 to 10")
    top = _row(html, "Share of respondents answering 10 (fully embedded)")
    # This year, its base, 2022, and this year weighted to the 2022 role mix.
    assert mean == [EXPECTED["mean"], "200–499 people from 50–99 trusts", "5.6", EXPECTED["mean_reweighted"]]
    assert high == [
        EXPECTED["share_8_to_10"],
        "200–499 people from 50–99 trusts",
        "22%",
        EXPECTED["share_8_to_10_reweighted"],
    ]
    assert top == [
        EXPECTED["share_10"],
        "200–499 people from 50–99 trusts",
        "4%",
        EXPECTED["share_10_reweighted"],
    ]
    assert _row(html, "Chairs")[:3] == ["50–99 people from 50–99 trusts", EXPECTED["chairs"], "6.2"]
    assert _row(html, "Chief executives")[:3] == [
        "20–49 people from 20–49 trusts",
        EXPECTED["chief_executives"],
        "Not published",
    ]
    assert _row(html, "Non-executive directors")[1] == EXPECTED["neds"]
    assert _row(html, "Other board members")[:2] == ["20–49 people from 20–49 trusts", EXPECTED["others"]]
    assert "These figures include the 50–199 boards that had signed off by" in html


def test_a_board_level_measure_has_no_2022_column(client: TestClient, db: Session, replay: Cycle) -> None:
    """The share of boards agreeing level 4 on one criterion is not what the 2022 survey measured
    (4% of individuals answering 10): it stands alone, with no 2022 figure beside it."""
    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    html = client.get("/sector?cycle=2026/27").text
    board_table = html.split('id="board-measures"', 1)[1].split("</table>", 1)[0]
    assert "2022" not in board_table
    embedded = _row(
        board_table, "Boards agreeing race equality is fully embedded as core board business (level 4)"
    )
    assert embedded == [f"{EXPECTED['embedded_boards']} of boards", "50–99 trusts"]
    assert "4% in 2022" not in html


def _figures(rows: list[list[object]]) -> dict[tuple[str, str], list[object]]:
    """(measure, group) → the row, for the headline figures and the role view's means."""
    return {(str(row[3]), str(row[4])): row for row in rows[1:] if not str(row[0]).startswith("Heatmap")}


def _check_downloaded(rows: list[list[object]], text: bool) -> None:
    """The downloaded table holds exactly the replayed survey's figures, with bases and 2022."""

    def shown(value: str) -> object:
        # In the CSV everything is text; in the workbook numbers are numbers (percents without "%").
        number = value.rstrip("%")
        return number if text else (float(number) if "." in number else int(number))

    header = [str(v) for v in rows[0]]
    col = {name: header.index(name) for name in header}
    figures = _figures(rows)
    for label, key, baseline in (
        ("Mean answer to the 0 to 10 question", "mean", "5.6"),
        ("Share of respondents answering 8 to 10 (percent of respondents)", "share_8_to_10", "22"),
        ("Share of respondents answering 10 (fully embedded) (percent of respondents)", "share_10", "4"),
    ):
        row = figures[(label, "All respondents")]
        assert row[col["Value"]] == shown(EXPECTED[key]), label
        assert row[col["2022"]] == shown(baseline), label
        assert row[col["Weighted to the 2022 role mix"]] == shown(EXPECTED[f"{key}_reweighted"]), label
        assert (row[col["Base: people"]], row[col["Base: trusts"]]) == ("200–499", "50–99")
        assert row[col["Framework"]] == "race-equality-board-v1, version 1"
        assert row[col["Suppressed"]] == "no"
    for role, key in (
        ("Chairs", "chairs"),
        ("Chief executives", "chief_executives"),
        ("Other board members", "others"),
    ):
        row = figures[("Mean answer to the 0 to 10 question", role)]
        assert row[col["Value"]] == shown(EXPECTED[key]), role
    assert figures[("Mean answer to the 0 to 10 question", "Chairs")][col["2022"]] == shown("6.2")
    board = figures[
        (
            "Boards agreeing race equality is fully embedded as core board business (level 4) (percent of boards)",
            "All trusts",
        )
    ]
    assert board[col["Value"]] == shown(EXPECTED["embedded_boards"])
    assert board[col["2022"]] in ("", None)  # no 2022 figure: not the same measure
    # A role section median with too few people is marked, with no value.
    suppressed = next(r for r in rows[1:] if str(r[0]) == "By respondent role" and "median" in str(r[3]))
    assert suppressed[col["Value"]] in ("", None) and str(suppressed[col["Suppressed"]]).startswith("yes")


def test_the_page_downloads_show_the_same_figures_with_the_browser_session_and_are_audited(
    client: TestClient, db: Session, replay: Cycle
) -> None:
    from openpyxl import load_workbook

    from api.audit.models import AuditEvent

    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    page = client.get("/sector?cycle=2026/27").text
    assert 'href="/sector/heatmap.csv?cycle=2026/27&amp;by=trust_type"' in page
    assert "/api/v1/sector" not in page  # no link the browser session cannot follow
    csv_response = client.get("/sector/heatmap.csv", params={"cycle": "2026/27"})
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    assert "no-store" in csv_response.headers["cache-control"]
    _check_downloaded(list(csv.reader(io.StringIO(csv_response.text))), text=True)
    xlsx = client.get("/sector/heatmap.xlsx", params={"cycle": "2026/27"})
    assert xlsx.status_code == 200
    workbook = load_workbook(io.BytesIO(xlsx.content))
    rows: list[list[object]] = [[cell for cell in next(workbook["Heatmap"].iter_rows(values_only=True))]]
    for name in ("Headline figures", "Role view"):
        rows += [list(r) for r in list(workbook[name].iter_rows(values_only=True))[1:]]
    _check_downloaded(rows, text=False)
    assert ["Framework", "race-equality-board-v1, version 1"] in [
        list(r) for r in workbook["About"].iter_rows(values_only=True)
    ]
    downloads = db.exec(select(AuditEvent.summary).where(AuditEvent.action == "export.downloaded")).all()
    assert sorted(downloads) == [
        "Sector figures 2026/27 by trust_type (CSV)",
        "Sector figures 2026/27 by trust_type (XLSX)",
    ]


def test_the_state_of_the_sector_pdf_shows_the_same_figures(
    client: TestClient, db: Session, replay: Cycle
) -> None:
    from pypdf import PdfReader

    from api.audit.models import AuditEvent

    sign_in_with_second_factor(client, db, "analyst@np.example.org")
    assert (
        'href="/sector/report.pdf?cycle=2026/27&amp;by=trust_type"'
        in client.get("/sector?cycle=2026/27").text
    )
    response = client.get("/sector/report.pdf", params={"cycle": "2026/27"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages
    )
    base = "200–499 people from 50–99 trusts"
    mean, high, top = EXPECTED["mean"], EXPECTED["share_8_to_10"], EXPECTED["share_10"]
    assert f"Mean answer to the 0 to 10 question {mean} {base} 5.6 {EXPECTED['mean_reweighted']}" in text
    assert (
        f"Share of respondents answering 8 to 10 {high} {base} 22% {EXPECTED['share_8_to_10_reweighted']}"
        in text
    )
    assert f"answering 10 (fully embedded) {top} {base} 4% {EXPECTED['share_10_reweighted']}" in text
    assert f"Chairs 50–99 people from 50–99 trusts {EXPECTED['chairs']} 6.2" in text
    assert f"Other board members 20–49 people from 20–49 trusts {EXPECTED['others']} Not published" in text
    assert (
        f"fully embedded as core board business (level 4) {EXPECTED['embedded_boards']} 50–99 trusts" in text
    )
    assert "Method" in text and "Suppression and rounding" in text and "Participation" in text
    assert db.exec(select(AuditEvent.summary).where(AuditEvent.action == "export.downloaded")).all() == [
        "State of the sector 2026/27 by trust_type (PDF)"
    ]
