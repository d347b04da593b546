"""The action plan through the HTTP API: adding, reading, filtering, changing, notes, deleting, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.actions.models import Action, ActionCriterion, ActionNote
from api.actions.service import add_months
from api.audit.models import AuditEvent
from api.settings import Settings
from tests.actions.helpers import (
    CRITERION,
    OTHER_CRITERION,
    PCREF,
    SECTION,
    Plan,
    build_plan,
    errors_of,
    in_days,
    set_action,
    today,
)
from tests.assessments.helpers import build_board, get_row, query


@pytest.fixture
def plan(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Plan:
    return build_plan(build_board(db, client, clean_database, settings))


def events(engine: Engine, action: str) -> list[AuditEvent]:
    return query(engine, select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))


# --- Adding and reading --------------------------------------------------------------------------------


def test_chair_adds_an_action_that_every_board_member_can_read(plan: Plan) -> None:
    response = plan.add()
    assert response.status_code == 201, response.text
    action = response.json()
    assert action["title"] == "Agree SMART race equality objectives"
    assert action["owner"] == "Chair"
    assert action["due_date"] == in_days(60)
    assert action["status"] == "not_started" and action["overdue"] is False
    assert action["criteria"] == [CRITERION]
    assert action["section"] == SECTION  # the priority of its first criterion
    assert action["cycle"] == "2026/27" and action["version"] == 1
    ned = plan.board.neds[0]
    listed = plan.get(f"/api/v1/assessments/{plan.assessment_id}/actions", ned)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [action["id"]]
    one = plan.get(f"/api/v1/actions/{action['id']}", ned)
    assert one.status_code == 200 and one.json()["title"] == action["title"]
    created = events(plan.engine, "action.created")
    assert [(e.object_id, e.actor_id) for e in created] == [(action["id"], plan.board.chair.id)]


def test_board_secretary_adds_and_changes_actions(plan: Plan) -> None:
    secretary = plan.board.secretary
    created = plan.add(secretary, owner="Director of People")
    assert created.status_code == 201, created.text
    changed = plan.patch(created.json()["id"], secretary, status="in_progress", version=1)
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "in_progress"


def test_board_member_reads_the_plan_but_cannot_change_it(plan: Plan) -> None:
    action = plan.added()
    ned = plan.board.neds[0]
    assert plan.get(f"/api/v1/assessments/{plan.assessment_id}/actions", ned).status_code == 200
    assert plan.get(f"/api/v1/actions/{action['id']}", ned).status_code == 200
    assert plan.add(ned).status_code == 403
    assert plan.patch(action["id"], ned, title="Changed by a NED", version=1).status_code == 403
    assert plan.client.delete(f"/api/v1/actions/{action['id']}", headers=ned.headers).status_code == 403
    assert plan.note(action["id"], "A NED's note", person=ned).status_code == 403
    suggested = plan.client.post(
        f"/api/v1/assessments/{plan.assessment_id}/actions/suggested",
        json={"criterion": CRITERION, "index": 0},
        headers=ned.headers,
    )
    assert suggested.status_code == 403
    stored = get_row(plan.engine, Action, action["id"])
    assert (stored.title, stored.version) == (action["title"], 1)
    assert query(plan.engine, select(Action)) and len(query(plan.engine, select(Action))) == 1
    assert query(plan.engine, select(ActionNote)) == []


# --- What is refused -------------------------------------------------------------------------------------


def test_a_due_date_in_the_past_is_refused_on_creation_naming_the_field(plan: Plan) -> None:
    response = plan.add(due_date=(today() - timedelta(days=1)).isoformat())
    assert response.status_code == 422
    assert errors_of(response) == {"due_date": "The due date must be today or in the future"}
    assert query(plan.engine, select(Action)) == []
    assert plan.add(due_date=today().isoformat()).status_code == 201


@pytest.mark.parametrize("key", ["no-such-criterion", PCREF])
def test_an_unknown_criterion_is_refused_naming_the_field(plan: Plan, key: str) -> None:
    # PCREF exists, but only for mental health trusts: it is not a criterion of this acute trust's assessment.
    response = plan.add(criteria=[CRITERION, key])
    assert response.status_code == 422
    assert list(errors_of(response)) == ["criteria"]
    assert key in errors_of(response)["criteria"]
    assert query(plan.engine, select(Action)) == []


@pytest.mark.parametrize("title", ["", "   "])
def test_an_empty_title_is_refused_naming_the_field(plan: Plan, title: str) -> None:
    response = plan.add(title=title)
    assert response.status_code == 422
    assert list(errors_of(response)) == ["title"]
    assert query(plan.engine, select(Action)) == []


def test_an_unknown_status_or_section_is_refused(plan: Plan) -> None:
    assert list(errors_of(plan.add(status="overdue"))) == ["status"]
    assert list(errors_of(plan.add(section="no-such-priority"))) == ["section"]


# --- Another trust --------------------------------------------------------------------------------------------


def test_another_trusts_actions_are_404_to_read_change_or_delete(plan: Plan) -> None:
    action = plan.added()
    other = plan.board.other_chair
    missing = plan.get("/api/v1/actions/999999", other)
    for response in (
        plan.get(f"/api/v1/actions/{action['id']}", other),
        plan.patch(action["id"], other, title="Taken over", version=1),
        plan.client.delete(f"/api/v1/actions/{action['id']}", headers=other.headers),
        plan.note(action["id"], "Not ours", person=other),
        plan.get(f"/api/v1/assessments/{plan.assessment_id}/actions", other),
        plan.add(other),
    ):
        assert response.status_code == 404, response.text
    # The same answer as for an id that does not exist: another trust's id is not confirmed.
    assert plan.get(f"/api/v1/actions/{action['id']}", other).json() == missing.json()
    stored = get_row(plan.engine, Action, action["id"])
    assert stored.title == action["title"] and stored.version == 1


# --- Changing ---------------------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent_and_records_old_and_new(plan: Plan) -> None:
    action = plan.added()
    response = plan.patch(
        action["id"], status="in_progress", owner="Director of People", criteria=[OTHER_CRITERION], version=1
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["status"] == "in_progress" and changed["owner"] == "Director of People"
    assert changed["criteria"] == [OTHER_CRITERION]
    assert changed["title"] == action["title"] and changed["due_date"] == action["due_date"]
    assert changed["version"] == 2
    links = query(
        plan.engine, select(ActionCriterion.criterion_key).where(ActionCriterion.action_id == action["id"])
    )
    assert links == [OTHER_CRITERION]
    (event,) = events(plan.engine, "action.updated")
    assert event.details["changed"]["status"] == ["not_started", "in_progress"]
    assert event.details["changed"]["owner"] == ["Chair", "Director of People"]
    assert event.details["changed"]["criteria"] == [[CRITERION], [OTHER_CRITERION]]


def test_saving_an_action_unchanged_makes_no_new_version_or_audit_event(plan: Plan) -> None:
    action = plan.added()
    same = plan.patch(action["id"], title=action["title"], owner="Chair", criteria=[CRITERION], version=1)
    assert same.status_code == 200 and same.json()["version"] == 1
    assert events(plan.engine, "action.updated") == []


def test_a_stale_version_is_409_and_changes_nothing(plan: Plan) -> None:
    action = plan.added()
    assert plan.patch(action["id"], status="in_progress", version=1).status_code == 200
    stale = plan.patch(action["id"], title="Overwrites the change", version=1)
    assert stale.status_code == 409
    assert stale.json()["current"]["version"] == 2
    stored = get_row(plan.engine, Action, action["id"])
    assert (stored.title, stored.status, stored.version) == (action["title"], "in_progress", 2)
    stale_delete = plan.client.delete(
        f"/api/v1/actions/{action['id']}?version=1", headers=plan.board.chair.headers
    )
    assert stale_delete.status_code == 409
    assert get_row(plan.engine, Action, action["id"]).id == action["id"]


def test_patch_needs_a_version_and_refuses_an_empty_title(plan: Plan) -> None:
    action = plan.added()
    assert list(errors_of(plan.patch(action["id"], title="New title"))) == ["version"]
    assert list(errors_of(plan.patch(action["id"], title=" ", version=1))) == ["title"]
    assert list(errors_of(plan.patch(action["id"], criteria=["nope"], version=1))) == ["criteria"]
    assert get_row(plan.engine, Action, action["id"]).version == 1


def test_a_new_due_date_must_not_be_past_but_an_overdue_action_keeps_its_date(plan: Plan) -> None:
    action = plan.added()
    yesterday = today() - timedelta(days=1)
    refused = plan.patch(action["id"], due_date=yesterday.isoformat(), version=1)
    assert refused.status_code == 422 and list(errors_of(refused)) == ["due_date"]
    set_action(plan.engine, action["id"], due_date=yesterday)
    # The board updates an overdue action without having to move its date.
    kept = plan.patch(action["id"], due_date=yesterday.isoformat(), status="in_progress", version=1)
    assert kept.status_code == 200, kept.text
    assert kept.json()["due_date"] == yesterday.isoformat() and kept.json()["overdue"] is True


def test_overdue_is_worked_out_from_the_due_date_and_status(plan: Plan) -> None:
    action = plan.added()
    path = f"/api/v1/actions/{action['id']}"
    set_action(plan.engine, action["id"], due_date=today())
    assert plan.get(path).json()["overdue"] is False  # due today is not overdue yet
    set_action(plan.engine, action["id"], due_date=today() - timedelta(days=1))
    assert plan.get(path).json()["overdue"] is True
    set_action(plan.engine, action["id"], status="in_progress")
    assert plan.get(path).json()["overdue"] is True
    set_action(plan.engine, action["id"], status="done")
    assert plan.get(path).json()["overdue"] is False


def test_the_list_filters_by_status_owner_priority_and_overdue(plan: Plan) -> None:
    first = plan.added(title="Objectives", owner="Chair", criteria=[CRITERION])
    second = plan.added(
        title="Induction", owner="Director of People", criteria=[OTHER_CRITERION], status="in_progress"
    )
    third = plan.added(
        title="Networks", owner="director of people", criteria=[], section="networks-communities"
    )
    set_action(plan.engine, first["id"], due_date=today() - timedelta(days=3))
    base = f"/api/v1/assessments/{plan.assessment_id}/actions"

    def ids(query_string: str) -> list[int]:
        response = plan.get(f"{base}?{query_string}")
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()]

    assert ids("status=in_progress") == [second["id"]]
    assert ids("status=overdue") == [first["id"]]
    assert ids("owner=Director%20of%20People") == [second["id"], third["id"]]  # case does not matter
    assert ids("priority=education") == [second["id"]]  # through its criterion
    assert ids("priority=networks-communities") == [third["id"]]  # named directly
    assert ids("priority=education&status=not_started") == []
    # Open actions by due date (the overdue one first), done ones last.
    set_action(plan.engine, second["id"], status="done")
    assert ids("") == [first["id"], third["id"], second["id"]]
    assert plan.get(f"{base}?status=late").status_code == 422


# --- Progress notes ---------------------------------------------------------------------------------------------


def test_progress_notes_are_dated_signed_and_listed_newest_first(plan: Plan) -> None:
    action = plan.added()
    first = plan.note(
        action["id"],
        "Objectives drafted for the executives",
        noted_on=(today() - timedelta(days=10)).isoformat(),
    )
    assert first.status_code == 201, first.text
    assert first.json()["author"] == "Hester Chairwoman"
    second = plan.note(action["id"], "Agreed with the NEDs", person=plan.board.secretary)
    assert second.status_code == 201 and second.json()["noted_on"] == today().isoformat()
    notes = plan.get(f"/api/v1/actions/{action['id']}").json()["notes"]
    assert [(n["text"], n["author"]) for n in notes] == [
        ("Agreed with the NEDs", "Ossian Secretan"),
        ("Objectives drafted for the executives", "Hester Chairwoman"),
    ]


def test_a_note_dated_in_the_future_or_empty_is_refused(plan: Plan) -> None:
    action = plan.added()
    future = plan.note(action["id"], "Not yet", noted_on=in_days(1))
    assert future.status_code == 422 and list(errors_of(future)) == ["noted_on"]
    assert list(errors_of(plan.note(action["id"], "  "))) == ["text"]
    assert query(plan.engine, select(ActionNote)) == []


# --- Deleting ----------------------------------------------------------------------------------------------------


def test_deleting_an_action_removes_it_with_its_notes_and_is_audited(plan: Plan) -> None:
    action = plan.added()
    keep = plan.added(title="Keep this one")
    plan.note(action["id"], "A note")
    response = plan.client.delete(
        f"/api/v1/actions/{action['id']}?version=1", headers=plan.board.chair.headers
    )
    assert response.status_code == 204
    assert plan.get(f"/api/v1/actions/{action['id']}").status_code == 404
    assert [a.id for a in query(plan.engine, select(Action))] == [keep["id"]]
    assert query(plan.engine, select(ActionNote)) == []
    assert query(plan.engine, select(ActionCriterion.action_id)) == [keep["id"]]
    (event,) = events(plan.engine, "action.deleted")
    assert event.object_id == action["id"] and event.details["title"] == action["title"]


# --- Suggested actions ----------------------------------------------------------------------------------------------


def _agree(plan: Plan, key: str, level: int) -> None:
    response = plan.board.agree(plan.board.chair, plan.assessment_id, key, level)
    assert response.status_code == 200, response.text


def test_suggestions_are_offered_beside_low_scoring_sections_only(plan: Plan) -> None:
    accountability = [k for k in plan.board.criterion_keys if k.startswith("accountability-")]
    education = [k for k in plan.board.criterion_keys if k.startswith("education-")]
    for key in accountability:
        _agree(plan, key, 1)  # 1.0: below 2.0
    for key in education:
        _agree(plan, key, 2)  # 2.0: not below
    response = plan.get(f"/api/v1/assessments/{plan.assessment_id}/actions/suggestions", plan.board.neds[0])
    assert response.status_code == 200
    suggestions = response.json()
    assert {s["section"] for s in suggestions} == {SECTION}
    texts = [s["text"] for s in suggestions if s["criterion"] == CRITERION]
    assert texts[0].startswith("Agree one SMART race equality objective")
    assert any(s["kind"] == "resource" for s in suggestions)
    assert suggestions[0]["reasons"] == ["Scored 1.0 of 4, below 2.0"]


def test_a_suggested_action_is_added_prefilled_and_due_in_three_months(plan: Plan) -> None:
    response = plan.client.post(
        f"/api/v1/assessments/{plan.assessment_id}/actions/suggested",
        json={"criterion": CRITERION, "index": 0},
        headers=plan.board.secretary.headers,
    )
    assert response.status_code == 201, response.text
    action = response.json()
    assert action["title"].startswith("Agree one SMART race equality objective with each board member")
    assert action["criteria"] == [CRITERION] and action["section"] == SECTION
    assert action["due_date"] == add_months(today(), 3).isoformat()
    assert action["owner"] == "" and action["status"] == "not_started"
    # ... then edited like any other action.
    edited = plan.patch(action["id"], plan.board.secretary, owner="Chair", version=1)
    assert edited.status_code == 200 and edited.json()["owner"] == "Chair"
    resource = plan.client.post(
        f"/api/v1/assessments/{plan.assessment_id}/actions/suggested",
        json={"section": SECTION, "index": 0},
        headers=plan.board.chair.headers,
    )
    assert resource.status_code == 201
    assert (
        resource.json()["title"] == "Review and use: NHS equality, diversity and inclusion improvement plan"
    )
    assert "england.nhs.uk" in resource.json()["description"]


def test_a_suggestion_that_does_not_exist_is_refused(plan: Plan) -> None:
    url = f"/api/v1/assessments/{plan.assessment_id}/actions/suggested"
    headers = plan.board.chair.headers
    assert list(
        errors_of(plan.client.post(url, json={"criterion": CRITERION, "index": 99}, headers=headers))
    ) == ["index"]
    assert list(
        errors_of(plan.client.post(url, json={"criterion": "nope", "index": 0}, headers=headers))
    ) == ["criterion"]
    assert plan.client.post(url, json={"index": 0}, headers=headers).status_code == 422
    assert query(plan.engine, select(Action)) == []


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-11-23", 3, "2027-02-23"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2026-01-31", 3, "2026-04-30"),
    ],
)
def test_three_months_later_keeps_the_day_or_takes_the_months_last(
    day: str, months: int, expected: str
) -> None:
    from datetime import date

    assert add_months(date.fromisoformat(day), months) == date.fromisoformat(expected)
