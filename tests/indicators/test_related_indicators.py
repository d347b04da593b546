"""Each priority's related indicators beside its score: the union of its criteria's `maps_to`, with the
WRES figures and high impact action progress the board recorded ("Not recorded" where missing), on
the results page, in the workbook and in the board report; nothing extra for a version 1 assessment."""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session

from api.assessments.models import Assessment, ConsensusRating
from api.assessments.repository import criteria_of
from api.frameworks.models import FrameworkRecord
from api.frameworks.service import framework_document
from api.indicators.service import related_indicators
from tests.factories import api_token, bearer, sign_in
from tests.indicators.helpers import CHAIR, NED, World, build_world, put


def _priority_with(db: Session, world: World, *wanted: str) -> tuple[str, list[int]]:
    """The title of the first priority whose criteria map to every tag `wanted`, and its criterion ids."""
    assessment = db.get(Assessment, world.assessment_id)
    framework = db.get(FrameworkRecord, assessment.framework_id)
    doc = framework_document(framework)
    pairs = criteria_of(db, assessment)
    for section, _criterion in pairs:
        ids = [c.id for s, c in pairs if s.id == section.id]
        tags = {t for s, c in pairs if s.id == section.id for t in (doc.criterion(c.key).maps_to or [])}
        if section.kind == "priority" and set(wanted) <= tags:
            return f"{section.number}. {section.title}", ids
    raise AssertionError(f"no priority maps to {wanted}")


@pytest.fixture
def world(db: Session, client: TestClient) -> World:
    world = build_world(db)
    # A priority that maps to WRES 9, agreed at 2 throughout; WRES 2 is left unrecorded.
    _title, ids = _priority_with(db, world, "wres-9", "hia-2")
    db.add_all(ConsensusRating(assessment_id=world.assessment_id, criterion_id=i, level=2) for i in ids)
    db.commit()
    put(client, world, wres_9=-7.25, wres_1_bme_workforce=24.5, hia_2_status="in_progress")
    return world


def test_the_service_gives_each_priority_the_union_of_its_criteria_tags(db: Session, world: World) -> None:
    assessment = db.get(Assessment, world.assessment_id)
    framework = db.get(FrameworkRecord, assessment.framework_id)
    doc = framework_document(framework)
    related = related_indicators(db, assessment)
    for section in doc.sections:
        expected = {t for c in section.criteria for t in c.maps_to or []}
        assert {item.tag for item in related[section.key]} == expected
        tags = [item.tag for item in related[section.key]]
        # WRES first, in number order, then the high impact actions, then the standards named only.
        kinds = [t.split("-")[0] for t in tags]
        assert kinds == sorted(kinds, key=["wres", "hia", "eds", "cqc"].index)
    by_tag = {item.tag: item for items in related.values() for item in items}
    assert by_tag["wres-9"].value == "\u22127.25 percentage points"
    assert by_tag["wres-2"].value == "Not recorded" and not by_tag["wres-2"].recorded
    assert by_tag["wres-1"].value == ("BME share: whole workforce 24.5%, bands 8a and above Not recorded")
    assert by_tag["hia-2"].value == "In progress"
    assert by_tag["eds-3c"].value is None  # named, no figure kept here


def test_the_results_page_shows_the_figures_beside_the_priority(
    client: TestClient, db: Session, world: World
) -> None:
    title, _ids = _priority_with(db, world, "wres-9", "hia-2")
    sign_in(client, NED)
    page = client.get(f"/assessments/{world.assessment_id}/results").text
    start = page.index("Indicators beside each priority")
    section = page[page.index(title, start) :]
    section = section[: section.index("<h3", 10) if "<h3" in section[10:] else len(section)]
    assert "2.0 (Developing)" in section
    assert "WRES indicator 9: Board representation" in section and "\u22127.25 percentage points" in section
    assert "High impact action 2" in section and "In progress" in section
    assert "WRES indicator 2: Appointment from shortlisting" in section and "Not recorded" in section


def test_the_workbook_has_an_indicators_sheet(client: TestClient, db: Session, world: World) -> None:
    title, _ids = _priority_with(db, world, "wres-9", "hia-2")
    token = api_token(client, CHAIR)
    response = client.get(f"/api/v1/assessments/{world.assessment_id}/export.xlsx", headers=bearer(token))
    assert response.status_code == 200, response.text
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[:3] == ["Summary", "Scores", "Indicators"]
    rows = list(workbook["Indicators"].iter_rows(values_only=True))
    assert rows[0] == (
        "Number",
        "Section",
        "Score (0 to 4)",
        "Band",
        "Related indicator",
        "Recorded for 2026/27",
    )
    number, name = title.split(". ", 1)
    mine = [row for row in rows[1:] if row[1] == name]
    assert (
        int(number),
        name,
        2.0,
        "Developing",
        "WRES indicator 9: Board representation",
        "\u22127.25 percentage points",
    ) in mine
    assert any(row[5] == "Not recorded" for row in rows[1:])


def test_the_board_report_shows_the_figures_beside_each_priority(
    client: TestClient, db: Session, world: World
) -> None:
    token = api_token(client, CHAIR)
    response = client.get(f"/api/v1/assessments/{world.assessment_id}/report.pdf", headers=bearer(token))
    assert response.status_code == 200, response.text
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages
    )
    part = text[text.index("Indicators beside each priority") :]
    assert "WRES indicator 9: Board representation" in part and "\u22127.25 percentage points" in part
    assert "Not recorded" in part and "In progress" in part


def test_a_version_1_assessment_shows_nothing_extra(client: TestClient, db: Session) -> None:
    world = build_world(db, "race-equality-board-v1")
    put(client, world, wres_9=-7.25)
    assessment = db.get(Assessment, world.assessment_id)
    assert related_indicators(db, assessment) == {}
    sign_in(client, CHAIR)
    page = client.get(f"/assessments/{world.assessment_id}/results")
    assert page.status_code == 200 and "Indicators beside each priority" not in page.text
    token = api_token(client, CHAIR)
    workbook = client.get(f"/api/v1/assessments/{world.assessment_id}/export.xlsx", headers=bearer(token))
    assert "Indicators" not in openpyxl.load_workbook(io.BytesIO(workbook.content)).sheetnames


def test_a_changed_figure_renders_the_report_again(client: TestClient, db: Session, world: World) -> None:
    token = api_token(client, CHAIR)
    url = f"/api/v1/assessments/{world.assessment_id}/export.xlsx"
    client.get(url, headers=bearer(token))
    put(client, world, version=1, wres_9=3.5)
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(url, headers=bearer(token)).content))
    values = [row[5] for row in workbook["Indicators"].iter_rows(values_only=True)]
    assert "3.5 percentage points" in values and "\u22127.25 percentage points" not in values
