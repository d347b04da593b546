"""Framework version 2's fact and perception items, through HTTP.

A fact item rests on records (appraisals, training records, minutes, the BAF): the chair or the board
secretary answers it once for the board, in the consensus record, with evidence. Members rate only
perception items: their pages, progress and API leave fact items out, and the consensus step, meeting
mode and results show a fact item's answer without an empty members' spread. The sharing flag is
stored with the agreed rating and never changes the level. Version 1 behaves as before.
"""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Cycle, Rating
from api.assessments.repository import criteria_of
from api.frameworks.models import FrameworkRecord
from api.settings import Settings
from tests.assessments.helpers import Board, build_board, open_assessment, query
from tests.factories import csrf_from, sign_in

V2 = "race-equality-board-v2"
FACT = "accountability-smart-objectives"
PERCEPTION = "accountability-assurance-from-staff-and-public"
# Every statement of this section is a fact item: no member is asked it.
FACTS_ONLY_SECTION = "diverse-board"


def _use_v2(engine: Engine) -> None:
    with Session(engine) as session:
        framework_id = session.exec(select(FrameworkRecord.id).where(FrameworkRecord.key == V2)).one()
        session.execute(update(Cycle).values(framework_id=framework_id))
        session.commit()


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    """An open assessment of trust RCF for 2026/27, on framework version 2."""
    _use_v2(board.engine)
    return open_assessment(board)


def _kinds(board: Board, assessment_id: int) -> dict[str, str | None]:
    with Session(board.engine) as session:
        assessment = session.get(Assessment, assessment_id)
        assert assessment is not None
        return {criterion.key: criterion.kind for _s, criterion in criteria_of(session, assessment)}


def _perception(board: Board, assessment_id: int) -> list[str]:
    return [key for key, kind in _kinds(board, assessment_id).items() if kind == "perception"]


def _facts(board: Board, assessment_id: int) -> list[str]:
    return [key for key, kind in _kinds(board, assessment_id).items() if kind == "fact"]


def _consensus_rows(board: Board, assessment_id: int) -> list[ConsensusRating]:
    return query(board.engine, select(ConsensusRating).where(ConsensusRating.assessment_id == assessment_id))


# --- Members are asked only perception items (API) -------------------------------------------------------


def test_the_api_lists_who_answers_each_statement_and_members_rate_only_perception_items(
    board: Board, aid: int
) -> None:
    ned = board.neds[0]
    everything = board.get(f"/api/v1/assessments/{aid}/criteria", ned).json()
    assert [item["key"] for item in everything] == board.criterion_keys
    assert {item["kind"] for item in everything} == {"fact", "perception"}
    assert all(item["members_rate"] == (item["kind"] == "perception") for item in everything)
    to_rate = board.get(f"/api/v1/assessments/{aid}/criteria?members_rate=true", ned).json()
    assert [item["key"] for item in to_rate] == _perception(board, aid)
    assert FACT not in {item["key"] for item in to_rate}
    mine = board.get(f"/api/v1/assessments/{aid}", ned).json()["my_progress"]
    assert mine == {
        "answered": 0,
        "total": len(_perception(board, aid)),
        "headline_answered": False,
        "finished": False,
    }


def test_a_member_who_rates_every_perception_item_has_finished(board: Board, aid: int) -> None:
    ned = board.neds[0]
    for key in _perception(board, aid):
        assert board.rate(ned, aid, key, 2).status_code == 200
    headline = board.client.put(
        f"/api/v1/assessments/{aid}/headline", json={"score": 6, "version": 0}, headers=ned.headers
    )
    assert headline.status_code == 200
    detail = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert detail["my_progress"]["finished"] is True
    assert detail["my_progress"]["answered"] == detail["my_progress"]["total"] == len(_perception(board, aid))
    assert detail["board_progress"]["members_finished"] == 1
    assert {r["criterion_key"] for r in board.get(f"/api/v1/assessments/{aid}/ratings", ned).json()} == set(
        _perception(board, aid)
    )


@pytest.mark.parametrize("version", [0, 1])
def test_a_member_rating_a_fact_item_gets_422_naming_the_criterion_and_nothing_is_stored(
    board: Board, aid: int, version: int
) -> None:
    response = board.rate(board.neds[0], aid, FACT, 3, version)
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["field"] == "criterion_key" and problem["loc"] == ["path", "criterion_key"]
    assert "answered once for the board from its records" in problem["msg"]
    assert query(board.engine, select(Rating)) == []


# --- Fact items are answered once, by the chair or the secretary ----------------------------------------


def test_a_fact_item_is_answered_once_and_a_second_answer_is_a_compare_and_set_update(
    board: Board, aid: int
) -> None:
    # Before rating closes: the answer rests on records, not on members' views.
    first = board.agree(board.secretary, aid, FACT, 3, 0, "Appraisal summary, March 2027")
    assert first.status_code == 200, first.text
    assert (first.json()["level"], first.json()["version"]) == (3, 1)
    again_as_new = board.agree(board.chair, aid, FACT, 4, 0)
    assert again_as_new.status_code == 409
    assert again_as_new.json()["current"]["level"] == 3
    second = board.agree(board.chair, aid, FACT, 4, 1, "All twelve objectives assessed")
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = board.agree(board.secretary, aid, FACT, 2, 1)
    assert stale.status_code == 409
    (row,) = _consensus_rows(board, aid)
    assert (row.level, row.version, row.rationale) == (4, 2, "All twelve objectives assessed")
    assert board.agree(board.neds[0], aid, FACT, 1, 2).status_code == 403


def test_the_consensus_api_shows_a_fact_item_with_its_answer_and_evidence_and_no_spread(
    board: Board, aid: int
) -> None:
    for ned in board.raters:
        assert board.rate(ned, aid, PERCEPTION, 2).status_code == 200
    assert board.agree(board.chair, aid, FACT, 3, 0, "Appraisal summary").status_code == 200
    link = board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{FACT}/links",
        json={"title": "Appraisal summary 2026/27", "url": "https://example.org/appraisals"},
        headers=board.chair.headers,
    )
    assert link.status_code == 201
    assert board.close_rating(aid).status_code == 200
    items = {
        item["criterion_key"]: item
        for item in board.get(f"/api/v1/assessments/{aid}/consensus", board.chair).json()
    }
    fact = items[FACT]
    assert (fact["kind"], fact["answered_from_records"], fact["hidden_because"]) == ("fact", True, "records")
    assert (fact["shown"], fact["rated"], fact["counts"], fact["median"]) == (False, 0, None, None)
    assert fact["consensus"]["level"] == 3
    assert [e["title"] for e in fact["consensus"]["evidence"]] == ["Appraisal summary 2026/27"]
    perception = items[PERCEPTION]
    assert (perception["kind"], perception["answered_from_records"], perception["shown"]) == (
        "perception",
        False,
        True,
    )
    assert perception["median"] == 2


# --- Pages ----------------------------------------------------------------------------------------------


def test_a_members_pages_ask_only_perception_items(board: Board, aid: int) -> None:
    sign_in(board.client, board.neds[0].email)
    overview = board.client.get(f"/assessments/{aid}")
    perception = _perception(board, aid)
    assert f"You have answered 0 of {len(perception)} statements" in overview.text
    assert "answers them once for the board" in overview.text
    assert f"/assessments/{aid}/sections/{FACTS_ONLY_SECTION}" not in overview.text
    assert board.client.get(f"/assessments/{aid}/sections/{FACTS_ONLY_SECTION}").status_code == 404
    section = board.client.get(f"/assessments/{aid}/sections/accountability")
    assert section.status_code == 200
    assert f'name="level__{PERCEPTION}"' in section.text
    assert f'name="level__{FACT}"' not in section.text
    assert "This priority has 4 more that rest on the board's records" in section.text
    autosave = board.client.post(
        f"/assessments/{aid}/ratings/{FACT}",
        data={f"level__{FACT}": "3", f"version__{FACT}": "0"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(section.text)},
    )
    assert autosave.status_code == 422 and "Not saved" in autosave.text
    assert query(board.engine, select(Rating)) == []


def test_the_consensus_page_shows_both_kinds_and_saves_a_fact_answer_with_the_sharing_flag(
    board: Board, aid: int
) -> None:
    sign_in(board.client, board.secretary.email)
    page = board.client.get(f"/assessments/{aid}/consensus/accountability")
    assert page.status_code == 200
    assert "Answered for the board from records" in page.text
    # The members' spread heading for the perception item only, none for the fact items.
    assert page.text.count('<h3 class="nhsuk-heading-s">How members rated it</h3>') == 1
    assert "The board&#39;s answer from its records" in page.text
    assert "We have shared this practice with other trusts" in page.text
    overview = board.client.get(f"/assessments/{aid}/consensus")
    facts = _facts(board, aid)
    assert f"0 of {len(facts)}</strong> statements that rest on the board" in overview.text
    saved = board.client.post(
        f"/assessments/{aid}/consensus/accountability/{FACT}",
        data={
            "level": "3",
            "rationale": "Appraisal summary",
            "version": "0",
            "shared": ["false", "true"],
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    (row,) = _consensus_rows(board, aid)
    assert (row.level, row.shared, row.version) == (3, True, 1)
    again = board.client.get(saved.headers["location"])
    assert "The board&#39;s answer has been saved." in again.text
    unticked = board.client.post(
        f"/assessments/{aid}/consensus/accountability/{FACT}",
        data={
            "level": "3",
            "rationale": "Appraisal summary",
            "version": "1",
            "shared": "false",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert unticked.status_code == 303
    (row,) = _consensus_rows(board, aid)
    assert (row.level, row.shared, row.version) == (3, False, 2)
    overview = board.client.get(f"/assessments/{aid}/consensus")
    assert f"1 of {len(facts)}</strong> statements that rest on the board" in overview.text


def test_meeting_mode_shows_a_fact_items_answer_and_evidence_not_an_empty_spread(
    board: Board, aid: int
) -> None:
    assert board.agree(board.chair, aid, FACT, 3, 0, "Appraisal summary").status_code == 200
    board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{FACT}/links",
        json={"title": "Appraisal summary 2026/27", "url": "https://example.org/appraisals"},
        headers=board.chair.headers,
    )
    assert board.close_rating(aid).status_code == 200
    sign_in(board.client, board.chair.email)
    fact = board.client.get(f"/assessments/{aid}/meeting/{FACT}")
    assert fact.status_code == 200
    assert "Answered for the board from records" in fact.text
    assert "How members rated it" not in fact.text
    assert "Appraisal summary 2026/27" in fact.text
    perception = board.client.get(f"/assessments/{aid}/meeting/{PERCEPTION}")
    assert "How members rated it" in perception.text
    assert "Answered for the board from records" not in perception.text


# --- Scoring and sign-off ---------------------------------------------------------------------------------


def test_an_answered_fact_item_scores_like_an_agreed_rating_and_sign_off_warns_of_missing_evidence(
    board: Board, aid: int
) -> None:
    board.agree_all(aid, level=2)
    assert board.agree(board.chair, aid, FACT, 4, 1).status_code == 200
    checks = board.get(f"/api/v1/assessments/{aid}/sign-off-checks", board.chair).json()
    assert checks["blocked"] is False
    without = {p["criterion_key"] for p in checks["answered_from_records_without_evidence"]}
    assert without == set(_facts(board, aid))
    assert checks["far_from_median_without_rationale"] == []
    sign_in(board.client, board.chair.email)
    page = board.client.get(f"/assessments/{aid}/submit")
    facts = _facts(board, aid)
    assert f"{len(facts)} answers from records have no evidence" in page.text
    assert page.text.count("(answered for the board from records)") == len(facts)
    submitted = board.submit(aid)
    assert submitted.status_code == 200, submitted.text
    scores = board.get(f"/api/v1/assessments/{aid}/scores", board.neds[0]).json()
    accountability = next(s for s in scores["sections"] if s["key"] == "accountability")
    levels = {c["key"]: c["consensus"] for c in accountability["criteria"]}
    assert levels[FACT] == 4
    assert accountability["score"] == round(sum(levels.values()) / len(levels), 1)
    by_key = {c["key"]: c for c in accountability["criteria"]}
    assert by_key[FACT]["answered_from_records"] is True and by_key[FACT]["members_median"] is None
    assert by_key[PERCEPTION]["answered_from_records"] is False


# --- The sharing flag --------------------------------------------------------------------------------------


def test_the_sharing_flag_is_stored_with_the_agreed_rating_and_never_changes_the_level(
    board: Board, aid: int
) -> None:
    shared = board.client.put(
        f"/api/v1/assessments/{aid}/consensus/{PERCEPTION}",
        json={"level": 2, "rationale": "", "shared": True, "version": 0},
        headers=board.chair.headers,
    )
    assert shared.status_code == 200
    assert (shared.json()["level"], shared.json()["shared"]) == (2, True)
    # Left out: kept as it was.
    kept = board.agree(board.chair, aid, PERCEPTION, 3, 1)
    assert (kept.json()["level"], kept.json()["shared"]) == (3, True)
    items = board.get(f"/api/v1/assessments/{aid}/consensus", board.chair).json()
    assert next(i for i in items if i["criterion_key"] == PERCEPTION)["consensus"]["shared"] is True
    scores = board.get(f"/api/v1/assessments/{aid}/scores", board.chair).json()
    criteria = {c["key"]: c for s in scores["sections"] for c in s["criteria"]}
    assert criteria[PERCEPTION]["shared"] is True and criteria[PERCEPTION]["consensus"] == 3
    assert criteria[FACT]["shared"] is False
    sign_in(board.client, board.neds[0].email)
    results = board.client.get(f"/assessments/{aid}/results")
    assert "Practice shared with other trusts" in results.text
    cleared = board.client.put(
        f"/api/v1/assessments/{aid}/consensus/{PERCEPTION}",
        json={"level": 3, "shared": False, "version": 2},
        headers=board.chair.headers,
    )
    assert (cleared.json()["level"], cleared.json()["shared"]) == (3, False)


def test_version_1_has_no_sharing_flag_and_every_member_rates_every_statement(board: Board) -> None:
    aid = open_assessment(board)  # the cycle's framework is version 1
    refused = board.client.put(
        f"/api/v1/assessments/{aid}/consensus/{board.criterion_keys[0]}",
        json={"level": 2, "shared": True, "version": 0},
        headers=board.chair.headers,
    )
    assert refused.status_code == 422
    assert [p["field"] for p in refused.json()["detail"]] == ["shared"]
    assert _consensus_rows(board, aid) == []
    listing = board.get(f"/api/v1/assessments/{aid}/criteria", board.neds[0]).json()
    assert all(item["kind"] is None and item["members_rate"] for item in listing)
    mine = board.get(f"/api/v1/assessments/{aid}", board.neds[0]).json()["my_progress"]
    assert mine["total"] == len(board.criterion_keys) == len(listing)
    assert board.rate(board.neds[0], aid, board.criterion_keys[0], 2).status_code == 200
    items = board.get(f"/api/v1/assessments/{aid}/consensus", board.chair).json()
    assert not any(i["answered_from_records"] for i in items)
    assert {i["kind"] for i in items} == {None}


def test_the_workbooks_rating_spread_marks_fact_items_answered_from_records(board: Board, aid: int) -> None:
    response = board.get(f"/api/v1/assessments/{aid}/export.xlsx", board.chair)
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Rating spread"]
    notes = {row[1]: row[14] for row in sheet.iter_rows(values_only=True) if row[1] in (FACT, PERCEPTION)}
    assert notes[FACT].startswith("Answered for the board from records")
    assert not str(notes[PERCEPTION]).startswith("Answered for the board from records")


def test_the_workbooks_consensus_sheet_and_the_board_report_say_fact_items_come_from_records(
    board: Board, aid: int
) -> None:
    assert board.agree(board.chair, aid, FACT, 2).status_code == 200
    workbook = openpyxl.load_workbook(
        io.BytesIO(board.get(f"/api/v1/assessments/{aid}/export.xlsx", board.chair).content)
    )
    sheet = workbook["Consensus"]
    header = next(sheet.iter_rows(values_only=True))
    rated = {row[1]: row[header.index("Members rated")] for row in sheet.iter_rows(values_only=True)}
    assert rated[FACT] == "From records"
    assert rated[PERCEPTION] != "From records"

    pdf = board.get(f"/api/v1/assessments/{aid}/report.pdf", board.chair)
    assert pdf.status_code == 200
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf.content)).pages
    )
    assert "statements that rest on the board's records (fact items) once for the board" in text
