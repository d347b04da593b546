"""GET /api/v1/assessments/{id}/scores, worked out by hand for known agreed levels."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.assessments.models import Assessment, AssessmentRater, ConsensusRating, Evidence, Rating
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkSection
from api.scoring.service import store_scores
from tests.factories import api_token, bearer, make_cycle, make_user, organisation


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
    assert (first["members_median"], first["gap"], first["disagreement"]) == (3.0, -1.0, True)
    assert section["disagreement"] is True
    assert section["members_median"] == 3.0 and section["gap"] == -1.0


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
