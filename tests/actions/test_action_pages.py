"""The action plan pages: the list with filters and overdue marked, adding, one-click suggestions,
editing without losing what was typed, notes, deleting, and who may do what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.actions.models import Action, ActionNote
from api.actions.service import add_months
from api.settings import Settings
from tests.actions.helpers import CRITERION, SECTION, Plan, build_plan, set_action, today
from tests.assessments.helpers import build_board, get_row, query
from tests.factories import csrf_from, sign_in


@pytest.fixture
def plan(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Plan:
    return build_plan(build_board(db, client, clean_database, settings))


@pytest.fixture
def browser(app) -> Iterator[TestClient]:  # noqa: ANN001
    """A second client, so a person's cookies never mix with the API tests' bearer tokens."""
    with TestClient(app) as test_client:
        yield test_client


def signed_in(browser: TestClient, email: str) -> TestClient:
    sign_in(browser, email)
    return browser


def csrf_of(html: str) -> str:
    """The page's CSRF token (its forms' field, or the meta tag htmx reads when it has no form)."""
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    return meta.group(1) if meta else csrf_from(html)


def form_post(browser: TestClient, page: str, action: str, data: dict) -> object:
    token = csrf_of(browser.get(page).text)
    return browser.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


def main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


# --- The list ---------------------------------------------------------------------------------------------


def test_overdue_actions_are_marked_in_words_not_only_colour(plan: Plan, browser: TestClient) -> None:
    late = plan.added(title="Publish the pay gap report")
    plan.added(title="Agree objectives")
    set_action(plan.engine, late["id"], due_date=today() - timedelta(days=5))
    page = signed_in(browser, plan.board.neds[0].email).get(f"/assessments/{plan.assessment_id}/actions")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="nhsuk-table__row[^"]*">.*?</tr>', main(page.text), re.S)
    late_row = next(r for r in rows if "Publish the pay gap report" in r)
    other_row = next(r for r in rows if "Agree objectives" in r)
    assert "app-action-row--overdue" in late_row and "nhsuk-tag--red" in late_row
    assert "Overdue" in late_row and "Overdue: the due date has passed" in late_row
    assert "Overdue" not in other_row
    assert "2 actions</strong>: 1 overdue, 0 done" in page.text


def test_filters_narrow_the_list_and_htmx_gets_only_the_list(plan: Plan, browser: TestClient) -> None:
    plan.added(title="Objectives", owner="Chair")
    plan.added(title="Induction", owner="Director of People", criteria=["education-induction"])
    signed_in(browser, plan.board.chair.email)
    url = f"/assessments/{plan.assessment_id}/actions"
    page = browser.get(url, params={"owner": "Director of People"})
    listing = main(page.text)
    assert "Induction" in listing and ">Objectives<" not in listing
    assert browser.get(url, params={"priority": "education"}).text.count('href="/actions/') == 1
    fragment = browser.get(url, params={"priority": SECTION}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="action-list"') and "<html" not in fragment.text
    assert "Objectives" in fragment.text and "Induction" not in fragment.text


def test_the_header_link_goes_to_the_current_action_plan(plan: Plan, browser: TestClient) -> None:
    signed_in(browser, plan.board.neds[0].email)
    home = browser.get("/trusts/RCF")
    assert 'href="/trusts/RCF/actions"' in home.text and "Action plan" in home.text
    response = browser.get("/trusts/RCF/actions", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/assessments/{plan.assessment_id}/actions"


def test_a_board_member_sees_no_buttons_to_change_the_plan(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.neds[0].email)
    listing = browser.get(f"/assessments/{plan.assessment_id}/actions").text
    assert "Add an action" not in listing
    one = browser.get(f"/actions/{action['id']}").text
    assert "Change the action" not in one and "Add a progress note" not in one
    assert browser.get(f"/assessments/{plan.assessment_id}/actions/new").status_code == 403
    assert browser.get(f"/actions/{action['id']}/edit").status_code == 403


def test_a_board_member_cannot_post_changes_through_the_pages(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.neds[0].email)
    page = f"/actions/{action['id']}"
    attempts = [
        (f"/assessments/{plan.assessment_id}/actions", {"title": "NED's action", "status": "not_started"}),
        (f"/actions/{action['id']}/edit", {"title": "NED's title", "version": "1", "status": "done"}),
        (f"/actions/{action['id']}/notes", {"text": "NED's note"}),
        (f"/actions/{action['id']}/delete", {}),
        (f"/assessments/{plan.assessment_id}/actions/suggested", {"criterion": CRITERION, "index": "0"}),
    ]
    for target, data in attempts:
        assert form_post(browser, page, target, data).status_code == 403, target
    assert [(a.title, a.version) for a in query(plan.engine, select(Action))] == [(action["title"], 1)]
    assert query(plan.engine, select(ActionNote)) == []


def test_another_trusts_action_pages_are_404(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.other_chair.email)
    for path in (
        f"/actions/{action['id']}",
        f"/actions/{action['id']}/edit",
        f"/actions/{action['id']}/delete",
        f"/assessments/{plan.assessment_id}/actions",
        f"/assessments/{plan.assessment_id}/actions/new",
    ):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert action["title"] not in response.text
    own_page = "/trusts/RBS"
    assert form_post(browser, own_page, f"/actions/{action['id']}/delete", {}).status_code == 404
    assert get_row(plan.engine, Action, action["id"]).id == action["id"]


# --- Adding --------------------------------------------------------------------------------------------------


def test_adding_an_action_through_the_form(plan: Plan, browser: TestClient) -> None:
    signed_in(browser, plan.board.secretary.email)
    new_page = f"/assessments/{plan.assessment_id}/actions/new?criterion={CRITERION}"
    form = browser.get(new_page).text
    assert f'value="{CRITERION}" checked' in form.replace("\n", " ") or re.search(
        rf'value="{CRITERION}"\s+checked', form
    )
    due = today() + timedelta(days=30)
    response = form_post(
        browser,
        new_page,
        f"/assessments/{plan.assessment_id}/actions",
        {
            "title": "Appraisal objectives",
            "description": "For every board member",
            "owner": "Chair",
            "due_date_day": str(due.day),
            "due_date_month": str(due.month),
            "due_date_year": str(due.year),
            "status": "not_started",
            "section": SECTION,
            "criteria": [CRITERION],
        },
    )
    assert response.status_code == 303
    (action,) = query(plan.engine, select(Action))
    assert response.headers["location"] == f"/actions/{action.id}?done=created"
    assert (action.title, action.owner, action.due_date, action.section_key) == (
        "Appraisal objectives",
        "Chair",
        due,
        SECTION,
    )
    shown = browser.get(response.headers["location"]).text
    assert "The action has been added." in shown and "Appraisal objectives" in shown


def test_a_form_with_problems_shows_the_error_summary_and_keeps_what_was_typed(
    plan: Plan, browser: TestClient
) -> None:
    signed_in(browser, plan.board.chair.email)
    new_page = f"/assessments/{plan.assessment_id}/actions/new"
    past = today() - timedelta(days=3)
    response = form_post(
        browser,
        new_page,
        f"/assessments/{plan.assessment_id}/actions",
        {
            "title": "Talent pipeline review",
            "description": "Typed with care: keep me",
            "owner": "Director of People",
            "due_date_day": str(past.day),
            "due_date_month": str(past.month),
            "due_date_year": str(past.year),
            "status": "in_progress",
            "criteria": ["diverse-board-talent-pipeline"],
        },
    )
    assert response.status_code == 422
    html = response.text
    assert "<title>Error: " in html and "There is a problem" in html
    assert 'href="#due_date_day"' in html and "The due date must be today or in the future" in html
    assert 'value="Talent pipeline review"' in html and "Typed with care: keep me" in html
    assert 'value="Director of People"' in html and f'value="{past.year}"' in html
    assert re.search(r'value="in_progress"\s+checked', html)
    assert re.search(r'value="diverse-board-talent-pipeline"\s+checked', html)
    assert query(plan.engine, select(Action)) == []
    empty = form_post(
        browser, new_page, f"/assessments/{plan.assessment_id}/actions", {"status": "not_started"}
    )
    assert empty.status_code == 422
    assert 'href="#title"' in empty.text and 'href="#due_date_day"' in empty.text


def test_suggested_actions_are_offered_beside_a_low_section_and_added_with_one_click(
    plan: Plan, browser: TestClient
) -> None:
    for key in [k for k in plan.board.criterion_keys if k.startswith("accountability-")]:
        assert plan.board.agree(plan.board.chair, plan.assessment_id, key, 1).status_code == 200
    signed_in(browser, plan.board.chair.email)
    listing = browser.get(f"/assessments/{plan.assessment_id}/actions").text
    assert 'id="suggested-accountability"' in listing and 'id="suggested-education"' not in listing
    results = browser.get(f"/assessments/{plan.assessment_id}/results").text
    assert f'href="/assessments/{plan.assessment_id}/actions/new?section={SECTION}"' in results
    assert "/actions/new?section=education" not in results
    response = form_post(
        browser,
        f"/assessments/{plan.assessment_id}/actions",
        f"/assessments/{plan.assessment_id}/actions/suggested",
        {"criterion": CRITERION, "index": "0"},
    )
    assert response.status_code == 303
    (action,) = query(plan.engine, select(Action))
    assert response.headers["location"] == f"/actions/{action.id}/edit?done=suggested"
    assert action.due_date == add_months(today(), 3) and action.title.startswith("Agree one SMART")
    edit = browser.get(response.headers["location"]).text
    assert "The suggested action has been added, due in 3 months." in edit
    assert f'value="{action.due_date.year}"' in edit


def test_a_changed_suggestion_button_is_refused_and_adds_nothing(plan: Plan, browser: TestClient) -> None:
    signed_in(browser, plan.board.chair.email)
    response = form_post(
        browser,
        f"/assessments/{plan.assessment_id}/actions",
        f"/assessments/{plan.assessment_id}/actions/suggested",
        {"criterion": CRITERION, "index": "-1"},
    )
    assert response.status_code == 422
    assert query(plan.engine, select(Action)) == []


# --- Editing, notes, deleting ---------------------------------------------------------------------------------------


def test_editing_saves_and_a_stale_edit_keeps_what_was_typed(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.chair.email)
    edit_page = f"/actions/{action['id']}/edit"
    due = today() + timedelta(days=90)
    fields = {
        "title": "Objectives, revised",
        "owner": "Chief executive",
        "due_date_day": str(due.day),
        "due_date_month": str(due.month),
        "due_date_year": str(due.year),
        "status": "in_progress",
        "version": "1",
    }
    # Someone else saves first (through the API).
    assert plan.patch(action["id"], plan.board.secretary, status="done", version=1).status_code == 200
    stale = form_post(browser, edit_page, edit_page, fields)
    assert stale.status_code == 409
    assert "Someone else changed this action while you were editing" in stale.text
    assert 'value="Objectives, revised"' in stale.text and 'value="Chief executive"' in stale.text
    assert 'name="version" value="2"' in stale.text
    assert get_row(plan.engine, Action, action["id"]).status == "done"
    saved = form_post(browser, edit_page, edit_page, {**fields, "version": "2"})
    assert saved.status_code == 303
    stored = get_row(plan.engine, Action, action["id"])
    assert (stored.title, stored.owner, stored.status, stored.due_date, stored.version) == (
        "Objectives, revised",
        "Chief executive",
        "in_progress",
        due,
        3,
    )


def test_a_progress_note_is_added_from_the_action_page(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.secretary.email)
    page = f"/actions/{action['id']}"
    empty = form_post(browser, page, f"{page}/notes", {"text": " "})
    assert empty.status_code == 422 and 'href="#text"' in empty.text
    added = form_post(browser, page, f"{page}/notes", {"text": "Drafts shared with the NEDs"})
    assert added.status_code == 303
    shown = browser.get(added.headers["location"]).text
    assert "Drafts shared with the NEDs" in shown and "Ossian Secretan" in shown


def test_deleting_asks_first_then_deletes(plan: Plan, browser: TestClient) -> None:
    action = plan.added()
    signed_in(browser, plan.board.chair.email)
    confirm = browser.get(f"/actions/{action['id']}/delete")
    assert confirm.status_code == 200 and "Are you sure you want to delete this action?" in confirm.text
    assert get_row(plan.engine, Action, action["id"]).id == action["id"]
    response = form_post(browser, f"/actions/{action['id']}/delete", f"/actions/{action['id']}/delete", {})
    assert response.status_code == 303
    assert response.headers["location"] == f"/assessments/{plan.assessment_id}/actions?done=deleted"
    assert query(plan.engine, select(Action)) == []
