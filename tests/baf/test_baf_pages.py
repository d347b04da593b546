"""The race-equality BAF risk pages: the view with its 5×5 grid and history, the edit form, roles."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.baf.models import BafRisk, BafRiskVersion
from api.settings import Settings
from tests.actions.helpers import build_plan
from tests.actions.test_action_pages import csrf_of
from tests.assessments.helpers import Board, build_board, query
from tests.baf.test_baf_api import URL, put
from tests.factories import sign_in

PAGE = "/trusts/RCF/baf-risk"
EDIT = "/trusts/RCF/baf-risk/edit"


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def browser(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client


def form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "version": "0",
        "description": "Ethnic minority staff are less likely to progress, so the trust may fail its people.",
        "strategic_objective": "An inclusive workforce",
        "lead": "Director of People",
        "inherent_likelihood": "4",
        "inherent_consequence": "5",
        "residual_likelihood": "3",
        "residual_consequence": "4",
        "target_likelihood": "2",
        "target_consequence": "2",
        "controls": "WRES action plan\r\n\r\nInclusive recruitment panels\r\n",
        "assurance_1": "Network report to the people committee",
        "assurance_2": "WRES results at board\nStaff survey by ethnicity",
        "assurance_3": "",
        "control_gap_count": "2",
        "control_gap_0_text": "No reverse mentoring",
        "control_gap_1_text": "",
        "assurance_gap_count": "2",
        "assurance_gap_0_text": "",
        "assurance_gap_1_text": "No internal audit of recruitment",
    }
    data.update(overrides)
    return data


def post_edit(browser: TestClient, data: dict[str, object]):  # noqa: ANN201 - httpx.Response
    token = csrf_of(browser.get(EDIT).text)
    return browser.post(EDIT, data={**data, "csrf_token": token}, follow_redirects=False)


def test_before_a_risk_is_recorded_the_page_says_so(board: Board, browser: TestClient) -> None:
    sign_in(browser, board.chair.email)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "No race equality risk recorded yet" in page.text and f'href="{EDIT}"' in page.text


def test_the_page_shows_scores_in_words_and_the_grid_marks_each_position(
    board: Board, browser: TestClient
) -> None:
    assert put(board).status_code == 200
    sign_in(browser, board.neds[0].email)
    page = browser.get(PAGE)
    assert page.status_code == 200
    html = page.text
    assert "20 Extreme" in html and "12 High" in html and "4 Moderate" in html
    grid = html[html.index('class="nhsuk-table app-baf-grid"') :]
    grid = grid[: grid.index("</table>")]
    rows = re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", grid, re.S)
    assert len(rows) == 6  # the heading row and likelihood 5 down to 1
    assert (
        "Likelihood </span>5" in rows[1] and "Almost certain" in rows[1] and "Likelihood </span>1" in rows[5]
    )
    cells = {
        (6 - row_index, column + 1): cell
        for row_index, row in enumerate(rows[1:], start=1)
        for column, cell in enumerate(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
    }
    assert len(cells) == 25
    assert "Inherent" in cells[(4, 5)] and "Residual" in cells[(3, 4)] and "Target" in cells[(2, 2)]
    assert sum("app-baf-cell__label" in cell for cell in cells.values()) == 3
    assert "25" in cells[(5, 5)] and "Extreme" in cells[(5, 5)] and "Low" in cells[(1, 3)]
    assert "Network report to the people committee" in html and "No reverse mentoring" in html
    assert "Update the risk" not in html  # a board member reads only
    assert "2026/27, version 1 (current)" in html


def test_the_chair_records_the_risk_through_the_form(board: Board, browser: TestClient) -> None:
    sign_in(browser, board.chair.email)
    response = post_edit(browser, form())
    assert response.status_code == 303 and response.headers["location"] == f"{PAGE}?done=saved"
    risk = board.get(URL, board.chair).json()
    assert risk["controls"] == ["WRES action plan", "Inclusive recruitment panels"]
    assert risk["assurances"] == [
        {"line": 1, "source": "Network report to the people committee"},
        {"line": 2, "source": "WRES results at board"},
        {"line": 2, "source": "Staff survey by ethnicity"},
    ]
    assert [(g["kind"], g["text"]) for g in risk["gaps"]] == [
        ("control", "No reverse mentoring"),
        ("assurance", "No internal audit of recruitment"),
    ]
    assert (risk["residual_score"], risk["residual_rating"]) == (12, "high")
    # The form comes back filled in, with spare spaces for more gaps.
    edit = browser.get(EDIT).text
    assert 'name="version" value="1"' in edit and "No reverse mentoring" in edit
    assert re.search(r'value="4"\s+checked', edit)
    assert 'name="control_gap_count" value="3"' in edit


def test_a_form_with_problems_shows_the_error_summary_and_keeps_everything_typed(
    board: Board, browser: TestClient
) -> None:
    sign_in(browser, board.secretary.email)
    response = post_edit(browser, form(description="", residual_likelihood=""))
    assert response.status_code == 422
    html = response.text
    assert (
        "There is a problem" in html
        and 'href="#description"' in html
        and 'href="#residual_likelihood"' in html
    )
    assert "Select the likelihood of the residual risk, from 1 to 5" in html
    assert "Inclusive recruitment panels" in html and "Staff survey by ethnicity" in html
    assert "No internal audit of recruitment" in html and 'value="Director of People"' in html
    assert re.search(r'id="inherent_consequence-5"[^>]*value="5"\s+checked', html) or re.search(
        r'value="5"\s+checked', html
    )
    assert query(board.engine, select(BafRisk)) == []


def test_a_stale_form_keeps_what_was_typed_and_saves_nothing(board: Board, browser: TestClient) -> None:
    assert put(board).status_code == 200
    sign_in(browser, board.chair.email)
    typed = form(version="1", lead="Chief executive")
    assert put(board, board.secretary, version=1, lead="Chief nurse").status_code == 200
    stale = post_edit(browser, typed)
    assert stale.status_code == 409
    assert "Someone else saved the risk while you were editing" in stale.text
    assert 'value="Chief executive"' in stale.text and 'name="version" value="2"' in stale.text
    (risk,) = query(board.engine, select(BafRisk))
    assert (risk.lead, risk.version) == ("Chief nurse", 2)
    assert len(query(board.engine, select(BafRiskVersion))) == 1


def test_a_gap_is_linked_to_actions_from_the_form(board: Board, browser: TestClient) -> None:
    plan = build_plan(board)
    action = plan.added(title="Start reverse mentoring")
    sign_in(browser, board.chair.email)
    assert "Start reverse mentoring" in browser.get(EDIT).text
    response = post_edit(browser, form(control_gap_0_actions=str(action["id"])))
    assert response.status_code == 303
    page = browser.get(PAGE).text
    assert f'href="/actions/{action["id"]}"' in page and "Start reverse mentoring" in page
    untexted = post_edit(
        browser, form(version="1", control_gap_0_text="", control_gap_0_actions=str(action["id"]))
    )
    assert untexted.status_code == 422 and 'href="#control_gap_0_text"' in untexted.text


def test_a_board_member_cannot_edit_and_another_trust_gets_404(board: Board, browser: TestClient) -> None:
    assert put(board).status_code == 200
    sign_in(browser, board.neds[0].email)
    assert browser.get(EDIT).status_code == 403
    token = csrf_of(browser.get(PAGE).text)
    refused = browser.post(EDIT, data={**form(version="1", lead="A NED"), "csrf_token": token})
    assert refused.status_code == 403
    with TestClient(browser.app) as other:
        sign_in(other, board.other_chair.email)
        for path in (PAGE, EDIT):
            response = other.get(path)
            assert response.status_code == 404 and "Director of People" not in response.text
        token = csrf_of(other.get("/trusts/RBS/baf-risk").text)
        assert other.post(EDIT, data={**form(version="1"), "csrf_token": token}).status_code == 404
    (risk,) = query(board.engine, select(BafRisk))
    assert (risk.lead, risk.version) == ("Director of People", 1)


def test_an_error_in_one_line_of_a_list_is_shown_beside_the_box_it_was_typed_in(
    board: Board, browser: TestClient
) -> None:
    # The command holds assurances as one list (line 1's, then line 2's): the third source is the
    # second line of the "line 2" box, and a too-long gap is the second control gap space.
    sign_in(browser, board.chair.email)
    too_long = "x" * 1001
    response = post_edit(
        browser,
        form(
            assurance_2=f"WRES results at board\n{too_long}",
            control_gap_count="2",
            control_gap_1_text=too_long,
            controls=f"WRES action plan\n{too_long}",
        ),
    )
    assert response.status_code == 422
    html = response.text
    summary = html[html.index("There is a problem") :]
    assert 'href="#assurance_2"' in summary and 'href="#assurance_1"' not in summary
    assert "Each source of assurance must be 1,000 characters or fewer" in html
    assert 'href="#control_gap_1_text"' in summary and "Each gap must be 1,000 characters or fewer" in html
    assert 'href="#controls"' in summary and "Each control must be 1,000 characters or fewer" in html
    assert too_long in html and "WRES results at board" in html
    assert query(board.engine, select(BafRisk)) == []
