"""The results and benchmark pages render for a board with one cycle and no peers at all."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.assessments.models import Assessment
from api.scoring.models import OVERALL_KEY, StoredScore
from tests.factories import make_cycle, make_user, organisation, sign_in


def test_charts_render_for_a_trust_with_one_cycle_and_no_peers(client: TestClient, db: Session) -> None:
    cycle = make_cycle(db)
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    assessment = Assessment(
        organisation_id=organisation(db, "RCF").id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        status="submitted",
    )
    db.add(assessment)
    db.commit()
    db.add(
        StoredScore(assessment_id=assessment.id, section_key=OVERALL_KEY, kind="overall", score=2.0, count=1)
    )
    db.commit()
    sign_in(client, "chair@rcf.example.org")

    page = client.get(f"/assessments/{assessment.id}/benchmarks")
    assert page.status_code == 200
    # Every peer group is too small: the one shown says so in plain words, and so does each other
    # group when chosen; no peer chart is drawn.
    assert page.text.count("Not shown: fewer than 5 other trusts in this group have submitted") == 1
    for group in ("trust_type", "region", "size_band"):
        chosen = client.get(f"/assessments/{assessment.id}/benchmarks", params={"group": group}).text
        assert "Not shown: fewer than 5 other trusts in this group have submitted" in chosen
    assert page.text.count('class="app-chart"') == 1  # only the trend chart
    assert "<circle" in page.text  # the board's own point for its one year
    assert "Not shown (too few trusts)" in page.text

    results = client.get(f"/assessments/{assessment.id}/results")
    assert results.status_code == 200 and "Overall maturity" in results.text
