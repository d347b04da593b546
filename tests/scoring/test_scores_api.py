"""GET /api/v1/assessments/{id}/scores, worked out by hand for known agreed levels."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from api.assessments.models import Assessment, AssessmentRater, ConsensusRating, Evidence, Rating
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkSection
from api.scoring.service import store_scores
from tests.factories import api_token, bearer, make_cycle, make_user, organisation, sign_in


@pytest.fixture
def scored(db: Session) -> dict:
    cycle = make_cycle(db)
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    neds = [make_user(db, f"ned{i}@rcf.example.org", role="board_member", trust="RCF") for i in range(7)]
    make_user(db, "chair@rbs.example.org", role="chair", trust="RBS")
    # Rating has closed, so members' figures can be shown (docs/anonymity.md).
    assessment = Assessment(
        organisation_id=organisation(db, "RCF").id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        rating_closed_at=utcnow(),
    )
    db.add(assessment)
    db.commit()
    db.add_all(AssessmentRater(assessment_id=assessment.id, user_id=person.id) for person in [chair, *neds])
    db.commit()
    rows = db.exec(
        select(FrameworkSection, Criterion)
        .join(Criterion, Criterion.section_id == FrameworkSection.id)
        .where(Criterion.framework_id == cycle.framework_id)
        .order_by(FrameworkSection.number, Criterion.position)
    ).all()
    by_section: dict[str, list[Criterion]] = {}
    for section, criterion in rows:
        if not criterion.applies_to or "acute" in criterion.applies_to:
            by_section.setdefault(section.key, []).append(criterion)
    return {"assessment": assessment, "chair": chair, "neds": neds, "sections": by_section}


def _agree(
    db: Session, assessment: Assessment, criterion: Criterion, level: int | None, evidence: bool = False
) -> None:
    consensus = ConsensusRating(assessment_id=assessment.id, criterion_id=criterion.id, level=level)
    db.add(consensus)
    db.commit()
    if evidence:
        db.add(
            Evidence(
                consensus_rating_id=consensus.id, kind="link", title="Minutes", url="https://x.example/m"
            )
        )
        db.commit()


def test_scores_by_hand_with_a_missing_section_and_an_unagreed_criterion(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, sections = scored["assessment"], scored["sections"]
    # Accountability: 4 criteria agreed 1, 2, 3 and one with no agreed level → mean of 1, 2, 3 = 2.0.
    accountability = sections["accountability"]
    for criterion, level in zip(accountability, [1, 2, 3, None], strict=True):
        _agree(db, assessment, criterion, level, evidence=level == 3)
    # Education: all 4 agreed at 3 → 3.0. Every other priority has no agreed level at all.
    for criterion in sections["education"]:
        _agree(db, assessment, criterion, 3)
    # BAF: 2 and 4 → 3.0, reported beside the overall score, never inside it.
    baf = sections["baf"]
    _agree(db, assessment, baf[0], 2)
    _agree(db, assessment, baf[1], 4)

    token = api_token(client, "chair@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    by_key = {s["key"]: s for s in scores["sections"]}
    assert by_key["accountability"]["score"] == 2.0
    assert by_key["education"]["score"] == 3.0
    assert by_key["safe-spaces"]["score"] is None and by_key["safe-spaces"]["band"] is None
    # Overall: the mean of the priorities that have a score (2.0 and 3.0), stated as covering 2 of 10.
    assert scores["overall"] == {"score": 2.5, "percent": 63, "band": "Developing"}
    assert scores["priorities_scored"] == 2
    assert scores["baf"]["score"] == 3.0 and scores["baf"]["band"] == "Established"
    assert scores["provisional"] is True
    total = sum(len(c) for c in sections.values())
    assert scores["evidence_coverage"] == round(1 / total, 2)
    unevidenced = [
        c["key"] for s in scores["sections"] + [scores["baf"]] for c in s["criteria"] if c["unevidenced"]
    ]
    assert unevidenced == [c.key for c in sections["education"]] + [baf[1].key]


def test_submitted_scores_come_from_the_stored_scores(client: TestClient, db: Session, scored: dict) -> None:
    assessment = scored["assessment"]
    for criterion in scored["sections"]["accountability"]:
        _agree(db, assessment, criterion, 2)
    assessment = db.get(Assessment, assessment.id)
    assessment.status = "submitted"
    db.add(assessment)
    store_scores(db, assessment)
    db.commit()
    # A later change to a consensus row (impossible through the service) must not move the stored score.
    first = db.exec(select(ConsensusRating).where(ConsensusRating.assessment_id == assessment.id)).first()
    first.level = 4
    db.add(first)
    db.commit()
    token = api_token(client, "chair@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    assert scores["provisional"] is False
    assert scores["overall"]["score"] == 2.0


def test_perception_gap_and_disagreement_from_members_ratings(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, neds = scored["assessment"], scored["neds"]
    criterion = scored["sections"]["accountability"][0]
    # ned0 (the reader) and five others rated.
    for ned, level in zip(neds, [1, 3, 3, 3, 1, 3], strict=False):
        db.add(
            Rating(assessment_id=assessment.id, respondent_id=ned.id, criterion_id=criterion.id, level=level)
        )
    db.commit()
    _agree(db, assessment, criterion, 2)
    token = api_token(client, "ned0@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    section = next(s for s in scores["sections"] if s["key"] == "accountability")
    first = section["criteria"][0]
    # Members one or two levels apart, agreed 1 below their median: ordinary, not flagged.
    assert (first["members_median"], first["gap"], first["disagreement"]) == (3.0, -1.0, False)
    assert section["disagreement"] is False
    assert section["members_median"] == 3.0 and section["gap"] == -1.0


@pytest.mark.parametrize(
    ("levels", "agreed", "flagged"),
    [
        ([1, 3, 3, 3, 1, 3], 2, False),  # two levels apart, agreed 1.0 from the median
        ([0, 3, 3, 3, 1, 3], 2, True),  # three levels apart
        ([2, 3, 3, 3, 2, 3], 1, True),  # agreed 2.0 from the median 3
        ([2, 3, 3, 2, 2, 3], 4, True),  # agreed 1.5 from the median 2.5
        ([2, 3, 3, 3, 2, 3], 2, False),  # agreed 1.0 from the median 3
    ],
)
def test_only_real_disagreement_is_flagged(
    client: TestClient, db: Session, scored: dict, levels: list[int], agreed: int, flagged: bool
) -> None:
    assessment, neds = scored["assessment"], scored["neds"]
    criterion = scored["sections"]["accountability"][0]
    for ned, level in zip(neds, levels, strict=False):
        db.add(
            Rating(assessment_id=assessment.id, respondent_id=ned.id, criterion_id=criterion.id, level=level)
        )
    db.commit()
    _agree(db, assessment, criterion, agreed)
    token = api_token(client, "ned0@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    section = next(s for s in scores["sections"] if s["key"] == "accountability")
    assert section["criteria"][0]["disagreement"] is flagged
    assert section["disagreement"] is flagged


def test_members_spread_is_withheld_below_five_other_raters(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, neds = scored["assessment"], scored["neds"]
    criterion = scored["sections"]["accountability"][0]
    for ned, level in zip(neds[:2], [0, 4], strict=True):
        db.add(
            Rating(assessment_id=assessment.id, respondent_id=ned.id, criterion_id=criterion.id, level=level)
        )
    db.commit()
    token = api_token(client, "ned0@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    first = next(s for s in scores["sections"] if s["key"] == "accountability")["criteria"][0]
    assert first["members_median"] is None and first["disagreement"] is False


def test_another_trusts_scores_are_404(client: TestClient, scored: dict) -> None:
    token = api_token(client, "chair@rbs.example.org")
    response = client.get(f"/api/v1/assessments/{scored['assessment'].id}/scores", headers=bearer(token))
    assert response.status_code == 404


# Seven members' own ratings of accountability's four criteria: their means are 2.25, 2.5, 2.75,
# 1.75, 3.0, 2.25 and 2.0, so the members' median is 2.25 exactly, shown 2.3 (half away from zero).
SEVEN_MEMBERS = [
    [2, 2, 2, 3],
    [2, 2, 3, 3],
    [2, 3, 3, 3],
    [1, 2, 2, 2],
    [3, 3, 3, 3],
    [2, 2, 2, 3],
    [2, 2, 2, 2],
]


def _tenths(value: float | None) -> bool:
    return value is None or abs(value * 10 - round(value * 10)) < 1e-9


def test_members_figures_are_no_more_precise_anywhere_than_the_results_page_shows(
    client: TestClient, db: Session
) -> None:
    """Members' medians, ranges and gaps to one decimal, the same in the JSON, the page, the
    workbook and the CSV: a finer median of members' means could give a member's own mean back."""
    cycle = make_cycle(db)
    members = [make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")]
    members += [make_user(db, f"member{i}@rcf.example.org", trust="RCF") for i in range(6)]
    assessment = Assessment(
        organisation_id=organisation(db, "RCF").id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        rating_closed_at=utcnow(),
    )
    db.add(assessment)
    db.commit()
    db.add_all(AssessmentRater(assessment_id=assessment.id, user_id=member.id) for member in members)
    db.commit()
    accountability = db.exec(
        select(Criterion)
        .join(FrameworkSection, FrameworkSection.id == Criterion.section_id)
        .where(FrameworkSection.key == "accountability", Criterion.framework_id == cycle.framework_id)
        .order_by(Criterion.position)
    ).all()
    for member, levels in zip(members, SEVEN_MEMBERS, strict=True):
        for criterion, level in zip(accountability, levels, strict=True):
            db.add(
                Rating(
                    assessment_id=assessment.id,
                    respondent_id=member.id,
                    criterion_id=criterion.id,
                    level=level,
                )
            )
    db.commit()
    for criterion, level in zip(accountability, [3, 2, 3, 2], strict=True):  # agreed: 2.5
        _agree(db, assessment, criterion, level)

    token = api_token(client, "chair@rcf.example.org")
    scores = client.get(f"/api/v1/assessments/{assessment.id}/scores", headers=bearer(token)).json()
    section = next(s for s in scores["sections"] if s["key"] == "accountability")
    # 2.25 shown 2.3; the spread of the middle half 2.125 to 2.625 is 0.5; the gap is 2.5 − 2.3.
    assert (section["members_median"], section["members_iqr"], section["gap"]) == (2.3, 0.5, 0.2)
    for figures in [section, *section["criteria"]]:
        assert all(_tenths(figures[name]) for name in ("members_median", "members_iqr", "gap")), figures

    sign_in(client, "chair@rcf.example.org")
    page = client.get(f"/assessments/{assessment.id}/results").text
    row = page[page.index(f"1. {section['title']}") :]
    row = row[: row.index("</tr>")]
    assert "</span>2.3</td>" in row and "</span>+0.2</td>" in row

    workbook = load_workbook(
        io.BytesIO(client.get(f"/assessments/{assessment.id}/download/workbook.xlsx").content)
    )
    (scores_row,) = [r for r in workbook["Scores"].iter_rows(values_only=True) if r[1] == section["title"]]
    assert (scores_row[6], scores_row[7]) == (2.3, 0.2)
    criteria = {c["key"]: c for c in section["criteria"]}
    header, *rows = list(workbook["Consensus"].iter_rows(values_only=True))
    key, median, gap = (
        header.index("Criterion key"),
        header.index("Members' median"),
        header.index(next(h for h in header if h and h.startswith("Gap"))),
    )
    checked = 0
    for row_ in rows:
        if row_[key] in criteria:
            expected = criteria[row_[key]]
            assert (row_[median], row_[gap]) == (expected["members_median"], expected["gap"])
            checked += 1
    assert checked == len(criteria)


def _rate_all(
    db: Session, assessment: Assessment, criterion: Criterion, raters: list, levels: list[int]
) -> None:
    for person, level in zip(raters, levels, strict=True):
        db.add(
            Rating(
                assessment_id=assessment.id, respondent_id=person.id, criterion_id=criterion.id, level=level
            )
        )
    db.commit()


def _discuss_first(html: str) -> list[str]:
    import re

    if 'id="to-discuss"' not in html:
        return []
    block = html.split('id="to-discuss"')[1].split("</ol>")[0]
    return [re.sub(r"\s+", " ", item).strip() for item in re.findall(r"<li>([^<]*)<span", block)]


def test_results_page_shows_the_three_statements_to_discuss_first(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, neds = scored["assessment"], scored["neds"]
    criteria = scored["sections"]["accountability"] + scored["sections"]["education"]
    # Six raters: the reader (ned0) and five others. Widest apart first, then agreed furthest away.
    plans = [
        ([1, 2, 2, 2, 3, 3], 2),  # ordinary scatter: never flagged
        ([0, 3, 3, 3, 3, 3], 3),  # 3 apart
        ([0, 4, 2, 2, 2, 2], 2),  # 4 apart: first
        ([2, 2, 2, 2, 2, 3], 4),  # agreed 2 from the median: flagged, last of the four
        ([1, 4, 3, 3, 3, 3], 1),  # 3 apart and agreed 2 from the median: second
    ]
    for criterion, (levels, agreed) in zip(criteria, plans, strict=False):
        _rate_all(db, assessment, criterion, neds[:6], levels)
        _agree(db, assessment, criterion, agreed)
    sign_in(client, "ned0@rcf.example.org")
    html = client.get(f"/assessments/{assessment.id}/results").text
    first_three = _discuss_first(html)
    assert first_three == [" ".join(criteria[i].statement.split()) for i in (2, 4, 1)]
    assert "All 4 flagged statements" in html
    assert " ".join(criteria[0].statement.split()) not in html.split('id="to-discuss"')[1]


def test_no_statement_to_discuss_is_shown_to_a_reader_with_fewer_than_five_others(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, neds = scored["assessment"], scored["neds"]
    criterion = scored["sections"]["accountability"][0]
    _rate_all(db, assessment, criterion, neds[:5], [0, 4, 0, 4, 0])
    _agree(db, assessment, criterion, 2)
    sign_in(client, "ned0@rcf.example.org")  # ned0 rated: only four others
    html = client.get(f"/assessments/{assessment.id}/results").text
    assert _discuss_first(html) == [] and "Members differ" not in html
    with TestClient(client.app) as other:
        sign_in(other, "ned6@rcf.example.org")  # did not rate: five others, so the flag may show
        assert _discuss_first(other.get(f"/assessments/{assessment.id}/results").text) != []


def _overall(html: str) -> str:
    import re

    match = re.search(r'<p class="[^"]*app-overall">([^<]*)</p>', html)
    assert match, "no overall figure on the results page"
    return " ".join(match.group(1).split())


def test_a_provisional_overall_score_is_not_the_headline_until_every_priority_is_agreed(
    client: TestClient, db: Session, scored: dict
) -> None:
    assessment, sections = scored["assessment"], scored["sections"]
    for criterion in sections["accountability"]:
        _agree(db, assessment, criterion, 3)
    sign_in(client, "chair@rcf.example.org")
    html = client.get(f"/assessments/{assessment.id}/results").text
    assert _overall(html) == "1 of 10 priorities agreed so far"
    assert "Excelling" not in html.split("Scores by priority")[0] and "3.0 (75%)" not in _overall(html)

    for key, criteria in sections.items():
        for criterion in criteria:
            if key != "accountability":
                _agree(db, assessment, criterion, 2)
    html = client.get(f"/assessments/{assessment.id}/results").text
    assert _overall(html).startswith("2.1 (")
