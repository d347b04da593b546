"""The board report (PDF) through HTTP: a real PDF whose every page names the trust and the cycle,
the sign-off status, peer figures exactly as the benchmark gives them (or the plain sentence when
suppressed), the perception-gap flags, the action plan and the BAF risk, and a methods page."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.baf.models import BafRisk
from api.benchmarking.service import refresh_snapshots
from api.organisations.models import Organisation
from api.reports.pdf import NoFetch, RefusedFetch, css_string, html_to_pdf
from api.scoring.models import OVERALL_KEY, StoredScore
from api.scoring.service import store_scores
from tests.factories import api_token, bearer, organisation
from tests.reports.test_exports import AT_ACTION_TITLE, TRUST, ExportsBoard, build_exports_board

K = 5


@pytest.fixture
def board(db: Session) -> ExportsBoard:
    return build_exports_board(db)


def report_pages(client: TestClient, board: ExportsBoard, email: str = "chair@rcf.example.org") -> list[str]:
    token = api_token(client, email)
    response = client.get(f"/api/v1/assessments/{board.assessment_id}/report.pdf", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def squash(text: str) -> str:
    return " ".join(text.split())


def test_the_report_is_a_pdf_with_the_trust_and_cycle_on_every_page(
    client: TestClient, board: ExportsBoard
) -> None:
    pages = report_pages(client, board)
    assert len(pages) >= 4  # a cover, scores, comparison, methods at the least
    for number, text in enumerate(pages, start=1):
        assert board.trust_name in text, f"page {number} does not name the trust"
        assert "2026/27" in text, f"page {number} does not name the cycle"
        assert f"Page {number} of {len(pages)}" in text, f"page {number} has no page number"
    assert "Page 1 of" in pages[0]
    everything = " ".join(pages)
    for heading in (
        "Scores by section",
        "Comparison with other trusts",
        "Where members see it differently",
        "Year on year",
        "Action plan",
        "How this report was produced",
    ):
        assert heading in everything, heading


def test_the_report_says_provisional_until_signed_off_and_then_who_signed_off(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    pages = report_pages(client, board)
    assert all("Provisional: not yet signed off" in text for text in pages)
    assessment = db.get(Assessment, board.assessment_id)
    assessment.status = "submitted"
    assessment.submitted_by_id = board.chair.id
    assessment.submitted_at = datetime(2027, 2, 14, 10, 30, tzinfo=UTC)
    db.add(assessment)
    store_scores(db, assessment)
    db.commit()
    pages = report_pages(client, board, email=board.neds[0].email)
    signed = "Signed off by Ngozi Chairperson on 14 February 2027"
    assert all(signed in text for text in pages)
    assert "Provisional" not in " ".join(pages)


def test_flags_list_members_who_differ_and_high_levels_without_evidence(
    client: TestClient, board: ExportsBoard
) -> None:
    text = " ".join(report_pages(client, board))
    differ = text[
        text.index("Statements flagged for discussion") : text.index("High levels without evidence")
    ]
    start = text.index("High levels without evidence")
    unevidenced = text[start : text.index("Year on year", start)]
    first, second, third = board.criteria[:3]
    assert squash(first.statement)[:60] in differ
    assert squash(second.statement)[:60] not in differ  # only 2 raters: never flagged
    assert squash(third.statement)[:60] in unevidenced  # agreed at 4 with no evidence
    assert squash(first.statement)[:60] not in unevidenced  # agreed at 3 with evidence
    # The report never names a member or quotes their comments.
    for ned in board.neds:
        assert ned.name not in text
    assert "Click for more" not in text


def test_action_plan_and_baf_risk_appear_when_they_exist(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    text = " ".join(report_pages(client, board))
    assert "No race equality risk is recorded on the board assurance framework yet" in text
    assert "Race equality risk on the board assurance framework" not in text
    assert AT_ACTION_TITLE in text and "Overdue" in text
    db.add(
        BafRisk(
            organisation_id=organisation(db, TRUST).id,
            cycle_id=board.cycle.id,
            description="Ethnic minority staff may keep facing worse experiences at work.",
            strategic_objective="A fair place to work",
            lead="Director of People",
            inherent_likelihood=4,
            inherent_consequence=5,
            residual_likelihood=3,
            residual_consequence=4,
            target_likelihood=2,
            target_consequence=2,
            controls=["WRES action plan reviewed quarterly"],
            assurances=[{"line": 3, "source": "Internal audit of recruitment practice"}],
            gaps=[
                {"kind": "assurance", "text": "No independent review of disciplinary cases", "action_ids": []}
            ],
        )
    )
    db.commit()
    text = " ".join(report_pages(client, board))
    baf = text[text.rindex("Race equality risk on the board assurance framework") :]
    for expected in (
        "Ethnic minority staff may keep facing worse experiences at work.",
        "20 Extreme",  # inherent 4 × 5
        "12 High",  # residual 3 × 4
        "4 Moderate",  # target 2 × 2
        "WRES action plan reviewed quarterly",
        "Third line (independent) Internal audit of recruitment practice",
        "No independent review of disciplinary cases",
    ):
        assert expected in baf, expected


def test_the_baf_risk_in_the_report_gives_its_appetite_and_the_lead_committees_assurance(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    db.add(
        BafRisk(
            organisation_id=organisation(db, TRUST).id,
            cycle_id=board.cycle.id,
            description="Ethnic minority staff may keep facing worse experiences at work.",
            residual_likelihood=3,
            residual_consequence=4,
            target_likelihood=2,
            target_consequence=2,
            appetite_level="cautious",
            appetite_low=4,
            appetite_high=6,
            appetite_rationale="Progression gaps persist while the talent programme starts",
            target_date=date(2027, 3, 31),
            assurances=[{"line": 3, "source": "NHS Staff Survey results by ethnicity"}],
            lead_committee="People Committee",
            assurance_level="limited",
        )
    )
    db.commit()
    text = " ".join(report_pages(client, board))
    baf = text[text.rindex("Race equality risk on the board assurance framework") :]
    for expected in (
        "Inherent before any controls Not recorded",  # inherent scores are optional
        "Risk appetite Cautious 4–6",
        "In or out of appetite Out of appetite: the residual score is above the range (residual 12)",
        "Progression gaps persist while the talent programme starts",
        "Date to reach target 31 March 2027",
        "Third line (independent) NHS Staff Survey results by ethnicity",  # the trust's choice of line
        "Lead committee People Committee",
        "Lead committee's level of assurance Limited",
    ):
        assert expected in baf, expected


def _submit_peer(db: Session, cycle: Cycle, trust: Organisation, overall: float) -> None:
    assessment = Assessment(
        organisation_id=trust.id, cycle_id=cycle.id, framework_id=cycle.framework_id, status="submitted"
    )
    db.add(assessment)
    db.commit()
    db.add(
        StoredScore(
            assessment_id=assessment.id, section_key=OVERALL_KEY, kind="overall", score=overall, count=10
        )
    )
    db.commit()


def test_peer_figures_are_the_benchmarks_own_and_suppressed_groups_get_a_sentence(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    own = organisation(db, TRUST)
    peers = db.exec(
        select(Organisation)
        # Same region, another type of trust: the "same type" group stays suppressed.
        .where(Organisation.region == own.region, Organisation.peer_type != own.peer_type)
        .order_by(Organisation.ods_code)
    ).all()[:6]
    for trust, score in zip(peers, [1.0, 1.2, 1.3, 2.6, 3.6, 3.9], strict=True):
        _submit_peer(db, board.cycle, trust, score)
    refresh_snapshots(db, board.cycle, K, today=date(2026, 11, 23))
    db.commit()
    token = api_token(client, board.chair.email)
    answer = client.get(
        f"/api/v1/assessments/{board.assessment_id}/benchmark",
        params={"group": "region"},
        headers=bearer(token),
    ).json()
    overall = next(s for s in answer["sections"] if s["key"] == OVERALL_KEY)
    assert answer["suppressed"] is False and answer["precision"] == 0.5
    text = " ".join(report_pages(client, board))
    region = text[text.index(answer["group_label"]) :]
    assert f"{answer['peer_count_band']} other trusts" in region
    assert "rounded to the nearest half point" in region
    figures = f"Overall maturity – {overall['q1']:.1f} {overall['median']:.1f} {overall['q3']:.1f}"
    assert figures in region, (figures, region[:600])
    # Never a finer figure than the benchmark's: the exact median of the six (1.95) is not shown.
    assert (overall["q1"], overall["median"], overall["q3"]) == (1.0, 2.0, 3.5)
    assert "1.95" not in text
    # Groups with fewer than K other trusts: the plain sentence, no figures.
    assert "Not shown: fewer than 5 other trusts in this group have submitted" in text


@pytest.mark.changes_reference_data
def test_a_trust_name_that_looks_like_css_or_html_is_printed_as_written(
    client: TestClient, db: Session, board: ExportsBoard
) -> None:
    trust = organisation(db, TRUST)
    trust.name = 'St "Quote" & </style> Trust \\ NHS'
    db.add(trust)
    db.commit()
    try:
        pages = report_pages(client, board)
        assert all('St "Quote" & </style> Trust \\ NHS' in text for text in pages)
    finally:
        trust.name = board.trust_name
        db.add(trust)
        db.commit()


def test_css_strings_escape_everything_but_letters_digits_and_spaces() -> None:
    escaped = str(css_string('A & B "C" · 2026/27'))
    assert re.fullmatch(r"[A-Za-z0-9 \\]*", escaped) is not None
    assert '"' not in escaped and "<" not in escaped and "&" not in escaped
    assert escaped.startswith("A \\26  B ")


def test_the_report_fetches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every URL in the document goes to the report's fetcher, which refuses it: nothing is fetched."""
    asked: list[str] = []

    def refuse(self: NoFetch, url: str, headers: object = None) -> object:
        asked.append(url)
        raise RefusedFetch(url)

    monkeypatch.setattr(NoFetch, "fetch", refuse)
    pdf = html_to_pdf(
        '<p>Logo</p><img src="https://example.org/logo.png"><link rel="stylesheet" href="x.css">'
    )
    assert pdf.startswith(b"%PDF-")
    assert "https://example.org/logo.png" in asked
    assert any(url.endswith("/x.css") for url in asked)
    with pytest.raises(RefusedFetch):
        NoFetch().fetch("https://example.org/logo.png")


def test_column_headings_wrap_inside_their_columns_and_never_run_together(
    client: TestClient, board: ExportsBoard
) -> None:
    """A heading that cannot wrap ran into the next one: "Members' medianGap" on page 2."""
    pages = report_pages(client, board)
    scores = next(page for page in pages if "Score (of 4)" in page)
    assert "medianGap" not in scores and "median Gap" in scores
