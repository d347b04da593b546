"""Peer benchmarks through the API: suppression, snapshots, exclusion of the asking trust, precision."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.benchmarking.service import refresh_snapshots
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from tests.factories import api_token, bearer, make_cycle, make_user

REGION = "North West"
K = 5


@pytest.fixture
def cycle(db: Session) -> Cycle:
    return make_cycle(db)


def _north_west(db: Session) -> list[Organisation]:
    return list(
        db.exec(
            select(Organisation).where(Organisation.region == REGION).order_by(Organisation.ods_code)
        ).all()
    )


def _submit(
    db: Session, cycle: Cycle, organisation: Organisation, overall: float, status: str = "submitted"
) -> Assessment:
    assessment = Assessment(
        organisation_id=organisation.id, cycle_id=cycle.id, framework_id=cycle.framework_id, status=status
    )
    db.add(assessment)
    db.commit()
    if status == "submitted":
        for key, kind, score in ((OVERALL_KEY, "overall", overall), ("accountability", "priority", overall)):
            db.add(StoredScore(assessment_id=assessment.id, section_key=key, kind=kind, score=score, count=1))
        db.commit()
    return assessment


def _refresh(db: Session, cycle: Cycle) -> None:
    refresh_snapshots(db, cycle, K, today=date(2026, 11, 23))
    db.commit()


def _benchmark(client: TestClient, token: str, assessment: Assessment, group: str = "region") -> dict:
    response = client.get(
        f"/api/v1/assessments/{assessment.id}/benchmark", params={"group": group}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _overall(answer: dict) -> dict:
    return next(s for s in answer["sections"] if s["key"] == "overall")


@pytest.fixture
def own(db: Session, cycle: Cycle) -> tuple[Assessment, str]:
    """The asking trust: the first North West trust, submitted with overall 2.0."""
    organisation = _north_west(db)[0]
    make_user(db, "chair@own.example.org", role="chair", trust=organisation.ods_code)
    return _submit(db, cycle, organisation, 2.0), organisation.ods_code


def test_k_minus_one_peers_are_suppressed_without_even_the_count(
    client: TestClient, db: Session, cycle: Cycle, own: tuple
) -> None:
    assessment, code = own
    for organisation, score in zip(_north_west(db)[1:5], [1.0, 1.5, 2.5, 3.0], strict=True):
        _submit(db, cycle, organisation, score)
    _refresh(db, cycle)  # 5 submitted in the region: a snapshot is taken, but only 4 are peers
    answer = _benchmark(client, api_token(client, "chair@own.example.org"), assessment)
    assert answer["suppressed"] is True
    assert answer["peer_count_band"] == "fewer than 5"
    assert all(s["median"] is None and s["q1"] is None and s["q3"] is None for s in answer["sections"])
    assert "4" not in json.dumps(answer["peer_count_band"])


def test_k_peers_are_shown_rounded_to_halves_and_the_asking_trust_is_not_its_own_peer(
    client: TestClient, db: Session, cycle: Cycle, own: tuple
) -> None:
    assessment, _code = own
    for organisation, score in zip(_north_west(db)[1:6], [1.0, 1.2, 1.3, 3.6, 3.9], strict=True):
        _submit(db, cycle, organisation, score)
    _refresh(db, cycle)
    answer = _benchmark(client, api_token(client, "chair@own.example.org"), assessment)
    overall = _overall(answer)
    assert answer["suppressed"] is False and answer["peer_count_band"] == "5–9" and answer["precision"] == 0.5
    # Peers 1.0 1.2 1.3 3.6 3.9 (own 2.0 left out): q1 1.2 → 1.0, median 1.3 → 1.5, q3 3.6 → 3.5.
    assert (overall["q1"], overall["median"], overall["q3"]) == (1.0, 1.5, 3.5)
    assert overall["own"] == 2.0 and overall["quartile"] == 3


def test_a_snapshot_does_not_move_until_k_new_submissions(
    client: TestClient, db: Session, cycle: Cycle, own: tuple
) -> None:
    assessment, _code = own
    trusts = _north_west(db)
    for organisation in trusts[1:11]:
        _submit(db, cycle, organisation, 1.0)
    _refresh(db, cycle)
    token = api_token(client, "chair@own.example.org")
    before = _benchmark(client, token, assessment)
    for count, organisation in enumerate(trusts[11:16], start=1):
        _submit(db, cycle, organisation, 4.0)
        _refresh(db, cycle)
        now = _benchmark(client, token, assessment)
        if count < K:
            assert now == before, f"the benchmark moved after {count} new submission(s)"
    assert _overall(now)["q3"] > _overall(before)["q3"]
    assert now["snapshot_at"] != before["snapshot_at"]


def test_changing_a_draft_never_changes_the_benchmark(client: TestClient, db: Session, cycle: Cycle) -> None:
    trusts = _north_west(db)
    make_user(db, "chair@draft.example.org", role="chair", trust=trusts[0].ods_code)
    draft = _submit(db, cycle, trusts[0], 0.0, status="in_progress")
    for organisation, score in zip(trusts[1:12], [1, 1.5, 2, 2.5, 3, 3.5, 1, 2, 3, 2, 2.5], strict=True):
        _submit(db, cycle, organisation, score)
    _refresh(db, cycle)
    token = api_token(client, "chair@draft.example.org")
    first = _benchmark(client, token, draft)
    assert _overall(first)["own"] is None and _overall(first)["quartile"] is None
    # However the draft's agreed levels move, the answer is the same.
    draft.version += 1
    db.add(StoredScore(assessment_id=draft.id, section_key=OVERALL_KEY, kind="overall", score=3.9))
    db.commit()
    assert _benchmark(client, token, draft) == first


def test_benchmark_answers_name_no_other_trust(
    client: TestClient, db: Session, cycle: Cycle, own: tuple
) -> None:
    assessment, _code = own
    peers = _north_west(db)[1:13]
    for organisation in peers:
        _submit(db, cycle, organisation, 2.5)
    _refresh(db, cycle)
    token = api_token(client, "chair@own.example.org")
    for group in ("all", "trust_type", "region", "size_band"):
        text = json.dumps(_benchmark(client, token, assessment, group))
        for organisation in peers:
            assert organisation.ods_code not in text.split('"')
            assert organisation.name not in text
    trend = client.get(f"/api/v1/assessments/{assessment.id}/trend", headers=bearer(token)).text
    assert all(o.name not in trend for o in peers)


def test_another_trusts_benchmark_is_404(client: TestClient, db: Session, cycle: Cycle, own: tuple) -> None:
    assessment, _code = own
    make_user(db, "chair@rbs.example.org", role="chair", trust="RBS")
    token = api_token(client, "chair@rbs.example.org")
    assert (
        client.get(f"/api/v1/assessments/{assessment.id}/benchmark", headers=bearer(token)).status_code == 404
    )


def test_unknown_group_is_422_naming_the_parameter(client: TestClient, own: tuple) -> None:
    assessment, _code = own
    token = api_token(client, "chair@own.example.org")
    response = client.get(f"/api/v1/assessments/{assessment.id}/benchmark?group=ics", headers=bearer(token))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "group"


def test_trend_with_one_cycle_and_no_peers(client: TestClient, db: Session, cycle: Cycle, own: tuple) -> None:
    assessment, _code = own
    token = api_token(client, "chair@own.example.org")
    points = client.get(f"/api/v1/assessments/{assessment.id}/trend", headers=bearer(token)).json()["points"]
    assert points == [{"cycle": "2026/27", "own": 2.0, "peer_median": None, "suppressed": True}]


def test_the_page_shows_one_group_at_a_time_and_says_where_the_board_sits_in_words(
    client: TestClient, db: Session, cycle: Cycle, own: tuple
) -> None:
    import re

    from tests.factories import sign_in

    assessment, _code = own
    for organisation, score in zip(_north_west(db)[1:6], [1.0, 1.2, 1.3, 3.6, 3.9], strict=True):
        _submit(db, cycle, organisation, score)
    _refresh(db, cycle)
    sign_in(client, "chair@own.example.org")
    everyone = client.get(f"/assessments/{assessment.id}/benchmarks").text
    # One peer chart (and the year-on-year chart), with links to the other groups.
    assert everyone.count('class="app-chart"') == 2
    assert f'href="/assessments/{assessment.id}/benchmarks?group=region"' in everyone
    region = client.get(f"/assessments/{assessment.id}/benchmarks", params={"group": "region"}).text
    assert "Your quarter" not in region and ">third<" not in region
    sits = [" ".join(cell.split()) for cell in re.findall(r'app-quarter">(.*?)</td>', region, re.S)]
    overall = re.sub(r"<[^>]+>", "", sits[0]).replace("Where your board sits ", "")
    assert overall == "In the upper-middle quarter of the 5–9 other trusts in North West"
    # Long section titles are wrapped onto two lines in the chart, never cut off.
    assert "…" not in region.split('class="app-chart"')[1].split("</svg>")[0]
    # On a phone the table stacks, each figure with its heading.
    assert 'class="nhsuk-table-responsive app-benchmark-table"' in region
