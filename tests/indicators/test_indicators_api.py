"""The JSON API of the board's WRES indicators and EDI improvement plan progress: ranges refused with
a 422 naming the field and the reason, compare-and-set, who may read and write, the audit trail."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEvent
from api.indicators.models import BoardIndicators
from tests.factories import api_token, bearer
from tests.indicators.helpers import CHAIR, NED, OTHER_CHAIR, SECRETARY, World, build_world, get, put


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def test_nothing_recorded_reads_as_version_0_with_every_figure_not_recorded(
    client: TestClient, world: World
) -> None:
    response = get(client, world)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 0 and body["cycle"] == "2026/27"
    assert len(body["wres"]) == 14 and {m["text"] for m in body["wres"]} == {"Not recorded"}
    assert [a["status_name"] for a in body["high_impact_actions"]] == ["Not recorded"] * 6


def test_the_chair_records_figures_and_every_member_reads_them(client: TestClient, world: World) -> None:
    response = put(
        client,
        world,
        wres_1_bme_workforce=24.5,
        wres_2=1.618,
        wres_3=0.8,
        wres_5_white=28.1,
        wres_5_bme=30.4,
        wres_9=-6.5,
        hia_1_status="in_progress",
        hia_1_note="Objectives set for every board member",
        hia_6_status="not_started",
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    body = get(client, world, NED).json()
    values = body["values"]
    # Two decimals kept, as trusts publish them.
    assert values["wres_2"] == 1.62 and values["wres_9"] == -6.5 and values["wres_4"] is None
    texts = {m["field"]: m["text"] for m in body["wres"]}
    assert texts["wres_5_bme"] == "30.4%"
    assert texts["wres_9"] == "\u22126.5 percentage points"
    assert texts["wres_4"] == "Not recorded"
    actions = {a["number"]: a for a in body["high_impact_actions"]}
    assert actions[1]["status_name"] == "In progress"
    assert actions[1]["note"] == "Objectives set for every board member"
    assert actions[6]["status"] == "not_started" and actions[2]["status"] is None
    assert body["updated_by"] == "Ngozi Chairperson"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("wres_2", 0, "WRES indicator 2 must be a relative likelihood more than 0 and no more than 20"),
        ("wres_3", -1.2, "WRES indicator 3 must be a relative likelihood more than 0"),
        ("wres_4", 20.01, "no more than 20"),
        ("wres_5_bme", 100.5, "WRES indicator 5 for BME staff must be a percentage from 0 to 100"),
        ("wres_8_white", -0.1, "WRES indicator 8 for White staff must be a percentage from 0 to 100"),
        ("wres_1_bme_senior", 101, "WRES indicator 1 (BME share of bands 8a and above) must be a percentage"),
        ("wres_9", -100.5, "WRES indicator 9 must be a number of percentage points from -100 to 100"),
        ("wres_9", 150, "from -100 to 100"),
    ],
)
def test_a_figure_out_of_range_is_refused_naming_the_field_and_the_range(
    client: TestClient, db: Session, world: World, field: str, value: float, reason: str
) -> None:
    response = put(client, world, **{field: value, "wres_7_bme": 40})
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field
    assert reason in problem["msg"]
    assert db.exec(select(BoardIndicators)).all() == []  # nothing half-written


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wres_2", 20),
        ("wres_2", 0.01),
        ("wres_5_white", 0),
        ("wres_5_white", 100),
        ("wres_9", -100),
        ("wres_9", 0),
    ],
)
def test_figures_at_the_edges_of_their_range_are_kept(
    client: TestClient, world: World, field: str, value: float
) -> None:
    response = put(client, world, **{field: value})
    assert response.status_code == 200, response.text
    assert response.json()["values"][field] == value


def test_other_bad_input_is_refused_by_field(client: TestClient, world: World) -> None:
    for body, field in (
        ({"hia_2_status": "done"}, "hia_2_status"),
        ({"wres_2": "1.2"}, "wres_2"),  # JSON stays strict: a number, not text
        ({"hia_3_note": "x" * 1001}, "hia_3_note"),
        ({"wres_10": 1}, "wres_10"),
    ):
        response = put(client, world, **body)
        assert response.status_code == 422, body
        assert [p["field"] for p in response.json()["detail"]] == [field]


def test_a_stale_version_is_refused_with_the_current_one_and_nothing_changes(
    client: TestClient, world: World
) -> None:
    assert put(client, world, wres_2=1.5).status_code == 200
    second = put(client, world, SECRETARY, version=1, wres_2=1.4)
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = put(client, world, CHAIR, version=1, wres_2=1.1)
    assert stale.status_code == 409
    assert stale.json()["current"] == {"version": 2}
    # Version 0 again: the record exists, so that is stale too.
    assert put(client, world, CHAIR, version=0, wres_2=1.1).status_code == 409
    assert get(client, world).json()["values"]["wres_2"] == 1.4


def test_a_put_replaces_the_record_a_figure_left_out_is_not_recorded(
    client: TestClient, world: World
) -> None:
    put(client, world, wres_2=1.5, wres_3=1.2, hia_1_status="achieved")
    response = put(client, world, version=1, wres_3=1.1)
    values = response.json()["values"]
    assert values["wres_2"] is None and values["wres_3"] == 1.1 and values["hia_1_status"] is None


def test_members_read_but_do_not_write_and_another_trust_gets_404(client: TestClient, world: World) -> None:
    assert put(client, world, NED, wres_2=1.5).status_code == 403
    assert put(client, world, OTHER_CHAIR, wres_2=1.5).status_code == 404
    assert get(client, world, OTHER_CHAIR).status_code == 404
    token = api_token(client, OTHER_CHAIR)
    other = client.get(f"/api/v1/assessments/{world.other_assessment_id}/indicators", headers=bearer(token))
    assert other.status_code == 200  # their own
    assert get(client, world, NED).json()["version"] == 0


def test_each_save_is_in_the_audit_log(client: TestClient, db: Session, world: World) -> None:
    put(client, world, wres_2=1.5, wres_5_white=20, hia_1_status="in_progress")
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "indicators.recorded")).all()
    assert event.object_id == world.assessment_id
    assert "2 of 14 WRES figures, 1 of 6 high impact actions" in event.summary
