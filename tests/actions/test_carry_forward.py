"""Unfinished actions carry forward, with their history, when the trust opens its next assessment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.actions.models import Action, ActionCriterion, ActionNote
from api.audit.models import AuditEvent
from api.settings import Settings
from tests.actions.helpers import CRITERION, OTHER_CRITERION, Plan, add_previous_assessment, set_action, today
from tests.assessments.helpers import Board, build_board, get_row, open_assessment, query


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def last_year(board: Board) -> Plan:
    """RCF's 2025/26 assessment (closed cycle), with three actions: not started, in progress, done."""
    plan = Plan(board=board, assessment_id=add_previous_assessment(board.engine))
    return plan


def test_open_actions_carry_forward_with_their_notes_and_done_ones_do_not(
    board: Board, last_year: Plan
) -> None:
    waiting = last_year.added(
        title="Publish the ethnicity pay gap", owner="Director of People", criteria=[CRITERION]
    )
    going = last_year.added(
        title="Reciprocal mentoring", status="in_progress", criteria=[CRITERION, OTHER_CRITERION]
    )
    done = last_year.added(title="Board development session", status="done")
    assert (
        last_year.note(
            going["id"], "Ten pairs matched", noted_on=(today() - timedelta(days=20)).isoformat()
        ).status_code
        == 201
    )
    assert last_year.note(going["id"], "First review held").status_code == 201
    assert last_year.note(done["id"], "Held in March").status_code == 201
    set_action(board.engine, waiting["id"], due_date=today() - timedelta(days=40))  # now overdue

    new_id = open_assessment(board)  # the 2026/27 assessment: carry-forward happens here

    carried = query(board.engine, select(Action).where(Action.assessment_id == new_id).order_by(Action.id))
    assert [a.carried_from_action_id for a in carried] == [waiting["id"], going["id"]]
    by_origin = {a.carried_from_action_id: a for a in carried}
    copy = by_origin[going["id"]]
    assert (copy.title, copy.status, copy.owner, copy.due_date.isoformat()) == (
        "Reciprocal mentoring",
        "in_progress",
        going["owner"],
        going["due_date"],
    )
    assert copy.organisation_id == get_row(board.engine, Action, going["id"]).organisation_id
    assert copy.created_by_id == board.chair.id and copy.version == 1
    links = query(
        board.engine, select(ActionCriterion.criterion_key).where(ActionCriterion.action_id == copy.id)
    )
    assert sorted(links) == sorted([CRITERION, OTHER_CRITERION])
    # The history comes too: the notes, with their dates and authors.
    notes = query(
        board.engine, select(ActionNote).where(ActionNote.action_id == copy.id).order_by(ActionNote.noted_on)
    )
    assert [(n.text, n.noted_on, n.author_id) for n in notes] == [
        ("Ten pairs matched", today() - timedelta(days=20), board.chair.id),
        ("First review held", today(), board.chair.id),
    ]
    # Through the API: the carried action says where it came from, and is still overdue.
    listed = last_year.get(f"/api/v1/assessments/{new_id}/actions").json()
    assert [(a["title"], a["carried_from_cycle"], a["overdue"]) for a in listed] == [
        ("Publish the ethnicity pay gap", "2025/26", True),
        ("Reciprocal mentoring", "2025/26", False),
    ]
    assert len(listed[1]["notes"]) == 2
    (event,) = query(board.engine, select(AuditEvent).where(AuditEvent.action == "action.carried_forward"))
    assert event.object_id == new_id and event.actor_id == board.chair.id


def test_last_years_actions_are_left_as_they_were(board: Board, last_year: Plan) -> None:
    going = last_year.added(title="Reciprocal mentoring", status="in_progress")
    last_year.note(going["id"], "Ten pairs matched")
    before = get_row(board.engine, Action, going["id"])
    new_id = open_assessment(board)
    after = get_row(board.engine, Action, going["id"])
    assert (after.assessment_id, after.status, after.version, after.updated_at) == (
        before.assessment_id,
        before.status,
        before.version,
        before.updated_at,
    )
    assert len(query(board.engine, select(ActionNote).where(ActionNote.action_id == going["id"]))) == 1
    old_list = last_year.get(f"/api/v1/assessments/{last_year.assessment_id}/actions").json()
    assert [a["id"] for a in old_list] == [going["id"]]
    new_list = last_year.get(f"/api/v1/assessments/{new_id}/actions").json()
    assert [a["carried_from_action_id"] for a in new_list] == [going["id"]]


def test_a_trusts_first_assessment_and_other_trusts_carry_nothing(board: Board, last_year: Plan) -> None:
    last_year.added(title="RCF's action")
    # RBS has no earlier assessment: opening its first carries nothing, and never RCF's actions.
    response = board.open(board.other_chair, trust="RBS")
    assert response.status_code == 201, response.text
    assert query(board.engine, select(Action).where(Action.assessment_id == response.json()["id"])) == []


def test_a_carried_action_links_back_and_its_page_points_forward(board: Board, last_year: Plan) -> None:
    going = last_year.added(title="Reciprocal mentoring", status="in_progress")
    new_id = open_assessment(board)
    (copy,) = query(board.engine, select(Action).where(Action.assessment_id == new_id))
    with TestClient(board.client.app) as browser:
        from tests.factories import sign_in

        sign_in(browser, board.chair.email)
        old_page = browser.get(f"/actions/{going['id']}")
        assert old_page.status_code == 200
        assert f'href="/actions/{copy.id}"' in old_page.text and "Update it there" in old_page.text
        new_page = browser.get(f"/actions/{copy.id}")
        assert f'href="/actions/{going["id"]}"' in new_page.text and "The 2025/26 action" in new_page.text
