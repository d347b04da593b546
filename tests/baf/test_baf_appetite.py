"""The BAF risk as boards run it: risk appetite as a range, in or out of appetite (worked out from the
residual score) with the rationale and the date to reach target, the lead committee's level of
assurance, optional inherent scores, and sources of assurance on whichever line the trust files them.
Through the JSON API and the pages; stored, versioned and compare-and-set like the rest of the risk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.baf.matrix import Appetite, appetite
from api.baf.models import BafRisk, BafRiskVersion
from api.settings import Settings
from tests.actions.helpers import errors_of
from tests.assessments.helpers import Board, build_board, query
from tests.baf.test_baf_api import URL, put
from tests.baf.test_baf_pages import EDIT, PAGE, form, post_edit
from tests.factories import sign_in

# The residual risk of risk_body() is 3 × 4 = 12: above "cautious 4–6", within "open 8–12".
TARGET_DATE = date.today() + timedelta(days=200)
OUT_OF_APPETITE: dict[str, Any] = {
    "appetite_level": "cautious",
    "appetite_low": 4,
    "appetite_high": 6,
    "appetite_rationale": "Progression gaps persist; the talent programme starts in April",
    "target_date": TARGET_DATE.isoformat(),
    "lead_committee": "People Committee",
    "assurance_level": "limited",
}


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def browser(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as test_client:
        yield test_client


# --- The appetite in words and its status (unit) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "status"), [(3, "below"), (4, "within"), (5, "within"), (6, "within"), (8, "above")]
)
def test_a_score_is_in_appetite_only_within_the_range_ends_included(score: int, status: str) -> None:
    assert Appetite("cautious", 4, 6).status(score) == status


def test_the_appetite_reads_as_boards_write_it() -> None:
    assert Appetite("cautious", 4, 6).text == "Cautious 4–6"
    assert Appetite("open", 8, 8).text == "Open 8"
    assert appetite("cautious", 4, None) is None and appetite(None, 4, 6) is None


# --- Through the API ------------------------------------------------------------------------------------------


def test_appetite_and_assurance_level_are_stored_and_read_back(board: Board) -> None:
    response = put(board, **OUT_OF_APPETITE)
    assert response.status_code == 200, response.text
    risk = response.json()
    assert (risk["appetite_level"], risk["appetite_low"], risk["appetite_high"]) == ("cautious", 4, 6)
    assert risk["appetite"] == "Cautious 4–6"
    assert (risk["appetite_status"], risk["in_appetite"]) == ("above", False)
    assert risk["appetite_rationale"] == OUT_OF_APPETITE["appetite_rationale"]
    assert risk["target_date"] == TARGET_DATE.isoformat()
    assert (risk["lead_committee"], risk["assurance_level"]) == ("People Committee", "limited")
    assert board.get(URL, board.neds[0]).json() == risk
    (row,) = query(board.engine, select(BafRisk))
    assert (row.appetite_level, row.appetite_low, row.appetite_high) == ("cautious", 4, 6)
    assert (row.target_date, row.assurance_level, row.lead_committee) == (
        TARGET_DATE,
        "limited",
        "People Committee",
    )


def test_in_appetite_needs_no_rationale_or_date_and_without_an_appetite_the_status_is_null(
    board: Board,
) -> None:
    within = put(board, appetite_level="open", appetite_low=8, appetite_high=12)
    assert within.status_code == 200, within.text
    assert (within.json()["appetite_status"], within.json()["in_appetite"]) == ("within", True)
    assert within.json()["target_date"] is None and within.json()["appetite_rationale"] == ""
    none = put(board, version=1).json()
    assert (none["appetite"], none["appetite_status"], none["in_appetite"], none["assurance_level"]) == (
        None,
        None,
        None,
        None,
    )


def test_below_the_range_is_out_of_appetite_too(board: Board) -> None:
    # Residual 1 × 3 = 3 under "cautious 4–6": the board is taking less risk than it accepts.
    below = dict(OUT_OF_APPETITE, residual_likelihood=1, residual_consequence=3)
    assert put(board, **below).json()["appetite_status"] == "below"
    refused = put(board, version=1, **dict(below, target_date=None))
    assert list(errors_of(refused)) == ["target_date"]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"appetite_low": 0}, ["appetite_low"]),
        ({"appetite_high": 26}, ["appetite_high"]),
        ({"appetite_low": 8, "appetite_high": 6}, ["appetite_high"]),
        ({"appetite_level": None}, ["appetite_level"]),
        ({"appetite_level": "bold"}, ["appetite_level"]),
        ({"appetite_low": None, "appetite_high": None}, ["appetite_low", "appetite_high"]),
        ({"target_date": None}, ["target_date"]),
        ({"appetite_rationale": "  "}, ["appetite_rationale"]),
        ({"target_date": None, "appetite_rationale": ""}, ["appetite_rationale", "target_date"]),
        ({"target_date": "2027-02-30"}, ["target_date"]),
        ({"assurance_level": "high"}, ["assurance_level"]),
        ({"lead_committee": "x" * 201}, ["lead_committee"]),
    ],
)
def test_bad_appetite_or_assurance_is_422_naming_the_field_and_saves_nothing(
    board: Board, overrides: dict[str, Any], fields: list[str]
) -> None:
    response = put(board, **(OUT_OF_APPETITE | overrides))
    assert response.status_code == 422, response.text
    assert sorted(errors_of(response)) == sorted(fields)
    assert query(board.engine, select(BafRisk)) == []


def test_the_422_says_what_to_do_in_plain_words(board: Board) -> None:
    errors = errors_of(put(board, **(OUT_OF_APPETITE | {"target_date": None, "appetite_rationale": ""})))
    assert errors == {
        "appetite_rationale": "The risk is out of appetite: say why, and what the board is doing about it",
        "target_date": "The risk is out of appetite: enter the date it will reach its target score",
    }
    upside_down = errors_of(put(board, **(OUT_OF_APPETITE | {"appetite_low": 8, "appetite_high": 6})))
    assert upside_down == {
        "appetite_high": "The highest score of the appetite range must be the same as the lowest or more"
    }


def test_a_new_date_to_reach_target_in_the_past_is_refused_but_a_saved_one_may_stay(board: Board) -> None:
    past = date.today() - timedelta(days=40)
    refused = put(board, **(OUT_OF_APPETITE | {"target_date": past.isoformat()}))
    assert refused.status_code == 422
    assert errors_of(refused) == {"target_date": "The date to reach target must be today or in the future"}
    assert put(board, **OUT_OF_APPETITE).status_code == 200
    # Time passes: the saved date is now behind us, and the board edits something else.
    with Session(board.engine) as session:
        session.execute(update(BafRisk).values(target_date=past))
        session.commit()
    kept = put(board, version=1, **(OUT_OF_APPETITE | {"target_date": past.isoformat(), "lead": "CEO"}))
    assert kept.status_code == 200, kept.text
    assert kept.json()["target_date"] == past.isoformat()


def test_inherent_scores_are_optional_but_come_as_a_pair(board: Board) -> None:
    saved = put(board, inherent_likelihood=None, inherent_consequence=None)
    assert saved.status_code == 200, saved.text
    risk = saved.json()
    assert (risk["inherent_likelihood"], risk["inherent_score"], risk["inherent_rating"]) == (
        None,
        None,
        None,
    )
    assert (risk["residual_score"], risk["target_score"]) == (12, 4)
    (row,) = query(board.engine, select(BafRisk))
    assert (row.inherent_likelihood, row.inherent_consequence) == (None, None)
    half = put(board, version=1, inherent_likelihood=4, inherent_consequence=None)
    assert half.status_code == 422 and list(errors_of(half)) == ["inherent_consequence"]
    other_half = put(board, version=1, inherent_likelihood=None, inherent_consequence=4)
    assert errors_of(other_half) == {
        "inherent_likelihood": "Select the likelihood of the inherent risk too, or neither (it is optional)"
    }
    assert list(errors_of(put(board, version=1, inherent_likelihood=6))) == ["inherent_likelihood"]
    history = board.get(f"{URL}/history", board.chair).json()
    assert history[0]["inherent_score"] is None and history[0]["content"]["inherent_likelihood"] is None


def test_each_version_keeps_its_appetite_and_assurance_level_and_the_history_shows_the_change(
    board: Board,
) -> None:
    assert put(board, **OUT_OF_APPETITE).status_code == 200
    second = put(
        board,
        board.secretary,
        version=1,
        **(
            OUT_OF_APPETITE
            | {
                "appetite_level": "open",
                "appetite_low": 8,
                "appetite_high": 12,
                "assurance_level": "reasonable",
            }
        ),
    )
    assert second.status_code == 200, second.text
    assert (second.json()["version"], second.json()["in_appetite"]) == (2, True)
    (kept,) = query(board.engine, select(BafRiskVersion))
    assert (kept.content["appetite_level"], kept.content["appetite_low"], kept.content["appetite_high"]) == (
        "cautious",
        4,
        6,
    )
    assert kept.content["assurance_level"] == "limited"
    assert kept.content["target_date"] == TARGET_DATE.isoformat()
    assert kept.content["lead_committee"] == "People Committee"
    history = board.get(f"{URL}/history", board.neds[0]).json()
    assert [(h["version"], h["appetite"], h["in_appetite"], h["assurance_level"]) for h in history] == [
        (2, "Open 8–12", True, "reasonable"),
        (1, "Cautious 4–6", False, "limited"),
    ]
    assert history[1]["content"]["appetite_rationale"] == OUT_OF_APPETITE["appetite_rationale"]
    assert history[1]["content"]["target_date"] == TARGET_DATE.isoformat()


def test_a_stale_version_is_409_and_leaves_appetite_and_assurance_as_they_were(board: Board) -> None:
    assert put(board, **OUT_OF_APPETITE).status_code == 200
    assert put(board, version=1, **(OUT_OF_APPETITE | {"assurance_level": "reasonable"})).status_code == 200
    stale = put(
        board,
        board.secretary,
        version=1,
        **(OUT_OF_APPETITE | {"assurance_level": "significant", "appetite_level": "eager"}),
    )
    assert stale.status_code == 409 and stale.json()["current"] == {"version": 2}
    (row,) = query(board.engine, select(BafRisk))
    assert (row.version, row.assurance_level, row.appetite_level) == (2, "reasonable", "cautious")
    assert len(query(board.engine, select(BafRiskVersion))) == 1


def test_the_trust_chooses_the_line_of_each_source_of_assurance(board: Board) -> None:
    # Many trusts file the staff survey as independent assurance: the framework lets them.
    assurances = [
        {"line": 3, "source": "NHS Staff Survey results by ethnicity"},
        {"line": 2, "source": "Internal audit of recruitment"},
    ]
    risk = put(board, assurances=assurances).json()
    assert risk["assurances"] == assurances


# --- Through the pages ----------------------------------------------------------------------------------------


def appetite_form(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "appetite_level": "cautious",
        "appetite_low": "4",
        "appetite_high": "6",
        "appetite_rationale": "Progression gaps persist",
        "target_date_day": str(TARGET_DATE.day),
        "target_date_month": str(TARGET_DATE.month),
        "target_date_year": str(TARGET_DATE.year),
        "lead_committee": "People Committee",
        "assurance_level": "limited",
    }
    return form(**(fields | overrides))


def test_the_chair_records_appetite_and_assurance_on_the_form_and_the_page_shows_them(
    board: Board, browser: TestClient
) -> None:
    sign_in(browser, board.chair.email)
    response = post_edit(browser, appetite_form(assurance_3="NHS Staff Survey results by ethnicity"))
    assert response.status_code == 303, response.text
    risk = board.get(URL, board.chair).json()
    assert (risk["appetite"], risk["in_appetite"], risk["assurance_level"]) == (
        "Cautious 4–6",
        False,
        "limited",
    )
    assert risk["target_date"] == TARGET_DATE.isoformat() and risk["lead_committee"] == "People Committee"
    page = browser.get(PAGE).text
    assert "Cautious 4–6" in page and "Out of appetite" in page
    assert "The residual score is above the range (12)" in page
    assert "People Committee" in page and "Limited" in page
    assert f"{TARGET_DATE.day} {TARGET_DATE:%B %Y}" in page
    third_line = page[page.index("Third line (independent)") :]
    assert "NHS Staff Survey results by ethnicity" in third_line[: third_line.index("</ul>")]
    # The history table shows the appetite and the assurance level of each version.
    history = page[page.index('id="history"') :]
    assert "Cautious 4–6, out" in history and "Limited" in history
    # The form comes back filled in.
    edit = browser.get(EDIT).text
    assert re.search(r'value="cautious"\s+checked', edit) and re.search(r'value="limited"\s+checked', edit)
    assert 'name="appetite_low" type="text" value="4"' in edit or re.search(
        r'name="appetite_low"[^>]*value="4"', edit
    )
    assert re.search(rf'name="target_date_year"[^>]*value="{TARGET_DATE.year}"', edit)
    assert "so out of appetite" in edit


def test_out_of_appetite_without_a_date_or_reason_shows_the_error_summary_and_keeps_what_was_typed(
    board: Board, browser: TestClient
) -> None:
    sign_in(browser, board.secretary.email)
    response = post_edit(
        browser,
        appetite_form(appetite_rationale="", target_date_day="", target_date_month="", target_date_year=""),
    )
    assert response.status_code == 422
    summary = response.text[response.text.index("There is a problem") :]
    assert 'href="#appetite_rationale"' in summary and 'href="#target_date_day"' in summary
    assert "enter the date it will reach its target score" in summary
    assert (
        re.search(r'value="cautious"\s+checked', response.text)
        and 'value="People Committee"' in response.text
    )
    assert query(board.engine, select(BafRisk)) == []


@pytest.mark.parametrize(
    ("overrides", "anchor", "message"),
    [
        ({"appetite_low": "four"}, "appetite_low", "a whole number from 1 to 25"),
        ({"appetite_low": "9"}, "appetite_high", "the same as the lowest or more"),
        ({"appetite_level": ""}, "appetite_level", "risk appetite for this risk, or clear its range"),
        ({"target_date_month": "13"}, "target_date_day", "must be a real date"),
        ({"target_date_year": "2020"}, "target_date_day", "must be today or in the future"),
        (
            {"inherent_consequence": ""},
            "inherent_consequence",
            "Select the consequence of the inherent risk too, or neither",
        ),
    ],
)
def test_each_appetite_problem_on_the_form_links_to_its_field(
    board: Board, browser: TestClient, overrides: dict[str, str], anchor: str, message: str
) -> None:
    sign_in(browser, board.chair.email)
    response = post_edit(browser, appetite_form(**overrides))
    assert response.status_code == 422
    summary = response.text[response.text.index("There is a problem") :]
    assert f'href="#{anchor}"' in summary and message in summary
    assert query(board.engine, select(BafRisk)) == []


def test_a_risk_without_inherent_scores_is_saved_from_the_form_and_shown_as_not_recorded(
    board: Board, browser: TestClient
) -> None:
    sign_in(browser, board.chair.email)
    response = post_edit(browser, form(inherent_likelihood="", inherent_consequence=""))
    assert response.status_code == 303, response.text
    assert board.get(URL, board.chair).json()["inherent_score"] is None
    page = browser.get(PAGE).text
    assert "Not recorded" in page
    assert page.count("app-baf-cell__label") == 2  # only the residual and target risks on the grid
    assert "No risk appetite recorded" in page
    edit = browser.get(EDIT).text
    assert re.search(r'name="inherent_likelihood"[^>]*value=""\s+checked', edit)
