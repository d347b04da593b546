"""The board's home answers "what now?": status, days left, progress in counts, one next step by
role and state, last year's score and change, position among peers in words, overdue actions; a
person on several boards lands on a chooser saying what waits on each."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.actions.models import Action
from api.assessments.models import Assessment, Cycle
from api.assessments.spread import uk_today
from api.benchmarking.service import refresh_snapshots
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from api.settings import Settings
from tests.assessments.helpers import OTHER_TRUST, TRUST, Board, Person, build_board, open_assessment
from tests.factories import add_membership, csrf_from, make_cycle, organisation, sign_in
from tests.reminders.test_reminders import finish


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


def home(board: Board, person: Person) -> str:
    board.client.cookies.clear()
    sign_in(board.client, person.email)
    response = board.client.get(f"/trusts/{TRUST}")
    assert response.status_code == 200
    return unescape(response.text)


def primary_buttons(html: str) -> list[tuple[str, str]]:
    """(href, text) of the page's primary buttons: NHS.UK button links, and ("form", text) for a
    submit button (secondary and other variants are not primary)."""
    found = [
        (href, unescape(text))
        for href, text in re.findall(
            r'<a class="nhsuk-button"[^>]*href="([^"]+)"[^>]*>\s*([^<]+?)\s*</a>', html
        )
    ]
    found += [
        ("form", text)
        for text in re.findall(r'<button class="nhsuk-button"[^>]*>\s*([^<]+?)\s*</button>', html)
    ]
    return found


def test_a_member_who_has_not_started_sees_the_statements_waiting_and_one_button_to_rate(
    board: Board, aid: int
) -> None:
    n = len(board.criterion_keys)
    page = home(board, board.neds[0])
    assert f"{n} statements waiting for you" in page
    assert primary_buttons(page) == [(f"/assessments/{aid}", "Rate the board")]
    with Session(board.engine) as session:
        closes = session.exec(select(Cycle)).one().closes_on
    assert f"{(closes - uk_today()).days} days left" in page
    assert "0 of 7" in page  # members finished
    assert f"0 of {n} statements" in page  # ratings agreed, the framework's real count


def test_a_member_part_way_continues_and_never_sees_who_has_not_finished(board: Board, aid: int) -> None:
    ned = board.neds[0]
    for key in board.criterion_keys[:3]:
        assert board.rate(ned, aid, key, 2, 0, "My private view").status_code == 200
    finish(board, aid, board.neds[1])
    page = home(board, ned)
    assert f"{len(board.criterion_keys) - 3} statements left for you" in page
    assert primary_buttons(page) == [(f"/assessments/{aid}", "Continue rating")]
    assert "1 of 7" in page
    assert "My private view" not in page
    assert "Not finished rating yet" not in page
    for other in [board.chair, *board.neds[1:]]:
        assert other.name not in page


def test_the_chair_sees_names_not_finished_never_what_was_said_and_reminds_them(
    board: Board, aid: int
) -> None:
    finish(board, aid, board.chair)
    finish(board, aid, board.neds[0])
    page = home(board, board.chair)
    assert "Not finished rating yet" in page
    assert board.neds[1].name in page and board.neds[0].name not in page
    assert "candid comment" not in page
    assert primary_buttons(page) == [
        (f"/assessments/{aid}/reminders", "Remind members who have not finished")
    ]
    secretary = home(board, board.secretary)
    assert board.neds[1].name in secretary
    assert primary_buttons(secretary) == [
        (f"/assessments/{aid}/reminders", "Remind members who have not finished")
    ]


def test_once_everyone_has_finished_the_chair_is_asked_to_close_rating_and_agree(
    board: Board, aid: int
) -> None:
    for person in board.raters:
        finish(board, aid, person)
    page = home(board, board.chair)
    assert "Everyone has finished rating" in page
    assert primary_buttons(page) == [
        (f"/assessments/{aid}/close-rating", "Close rating and agree the board's ratings")
    ]
    assert primary_buttons(home(board, board.neds[0])) == []


def test_after_rating_closes_the_chair_agrees_then_signs_off_then_everyone_reads_the_results(
    board: Board, aid: int
) -> None:
    n = len(board.criterion_keys)
    assert board.close_rating(aid).status_code == 200
    page = home(board, board.chair)
    assert primary_buttons(page) == [(f"/assessments/{aid}/consensus", "Agree the board's ratings")]
    assert f"0 of {n} ratings agreed" in page
    board.agree_all(aid, keys=board.criterion_keys[:-1])
    assert f"{n - 1} of {n} ratings agreed" in home(board, board.chair)
    ned_page = home(board, board.neds[0])
    assert "The board is agreeing its ratings" in ned_page and primary_buttons(ned_page) == []
    board.agree_all(aid, keys=board.criterion_keys[-1:])
    assert primary_buttons(home(board, board.chair)) == [
        (f"/assessments/{aid}/submit", "Sign off the assessment")
    ]
    assert "ready for the chair to sign off" in home(board, board.secretary)
    assert board.submit(aid).status_code == 200
    for person in (board.chair, board.neds[0], board.secretary):
        assert primary_buttons(home(board, person)) == [(f"/assessments/{aid}/results", "Read the results")]


def test_the_chair_opens_the_year_from_the_home_page(board: Board) -> None:
    page = home(board, board.chair)
    assert primary_buttons(page) == [("form", "Open the 2026/27 assessment")]
    assert "Your chair has not opened the 2026/27 assessment yet" in home(board, board.neds[0])
    assert primary_buttons(home(board, board.neds[0])) == []


def _submitted(db: Session, cycle: Cycle, org: Organisation, overall: float) -> Assessment:
    assessment = Assessment(
        organisation_id=org.id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        status="submitted",
        submitted_at=None,
    )
    db.add(assessment)
    db.commit()
    db.add(
        StoredScore(
            assessment_id=assessment.id, section_key=OVERALL_KEY, kind="overall", score=overall, count=10
        )
    )
    db.commit()
    return assessment


def _last_year_with_peers(db: Session, peers: int) -> Cycle:
    """2025/26: RCF signed off with 2.0, and `peers` other trusts of its broad type."""
    last = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
    rcf = organisation(db, TRUST)
    others = db.exec(
        select(Organisation)
        .where(Organisation.peer_type == rcf.peer_type, Organisation.id != rcf.id)
        .order_by(Organisation.ods_code)
    ).all()
    _submitted(db, last, rcf, 2.0)
    for org, score in zip(others[:peers], [1.0, 1.2, 1.3, 3.6, 3.9, 3.0, 2.5], strict=False):
        _submitted(db, last, org, score)
    refresh_snapshots(db, last, 5, today=date(2026, 11, 23))
    db.commit()
    return last


def test_last_years_score_and_position_among_similar_trusts_are_said_in_words(
    board: Board, aid: int, db: Session
) -> None:
    _last_year_with_peers(db, 5)
    db.close()
    page = home(board, board.neds[0])
    assert "2025/26: overall score 2.0 out of 4 (developing)" in page
    # Peers 1.0 1.2 1.3 3.6 3.9 (own 2.0 left out), shown to halves: median 1.5, q3 3.5.
    assert (
        "In 2025/26, your board's overall score was above the middle, though not in the highest quarter, "
        "of the 5–9 acute trusts that signed off." in page
    )


def test_no_position_is_given_for_a_peer_group_too_small_to_show(board: Board, aid: int, db: Session) -> None:
    _last_year_with_peers(db, 4)
    db.close()
    page = home(board, board.neds[0])
    assert "2025/26: overall score 2.0" in page
    assert "quarter" not in page and "the middle" not in page
    assert "fewer than" not in page


def test_this_years_score_shows_the_change_on_last_year(board: Board, aid: int, db: Session) -> None:
    _last_year_with_peers(db, 0)
    db.close()
    assert board.close_rating(aid).status_code == 200
    board.agree_all(aid, level=3)
    assert board.submit(aid).status_code == 200
    page = home(board, board.neds[0])
    assert "2026/27: overall score <strong>3.0 out of 4</strong> (established), up 1.0 on 2025/26." in page


def test_overdue_actions_are_listed_with_a_link_to_the_plan(board: Board, aid: int) -> None:
    with Session(board.engine) as session:
        rcf = organisation(session, TRUST)
        for title, due, status in (
            ("Publish the ethnicity pay gap", uk_today() - timedelta(days=3), "in_progress"),
            ("Board development session on race", uk_today() - timedelta(days=30), "done"),
            ("Refresh the BAF risk", uk_today() + timedelta(days=30), "not_started"),
        ):
            session.add(
                Action(assessment_id=aid, organisation_id=rcf.id, title=title, due_date=due, status=status)
            )
        session.commit()
    page = home(board, board.neds[0])
    assert "1 action in the board's action plan is past its due date" in page
    assert "Publish the ethnicity pay gap" in page
    assert "Board development session" not in page and "Refresh the BAF risk" not in page
    assert f'href="/trusts/{TRUST}/actions"' in page


def test_a_person_on_two_boards_lands_on_a_chooser_saying_what_waits_on_each(
    board: Board, aid: int, db: Session
) -> None:
    # The NED finishes at RCF and also sits on RBS's board, where the assessment is open and untouched.
    ned = board.neds[0]
    finish(board, aid, ned)
    from api.accounts.models import User

    user = db.exec(select(User).where(User.id == ned.id)).one()
    add_membership(db, user, OTHER_TRUST, "board_member")
    db.close()
    other = board.open(board.other_chair, trust=OTHER_TRUST)
    assert other.status_code == 201
    client = board.client
    client.cookies.clear()
    token = csrf_from(client.get("/sign-in").text)
    signed_in = client.post(
        "/sign-in", data={"email": ned.email, "password": "Lantern-harbour-kettle-42", "csrf_token": token}
    )
    assert signed_in.url.path == "/trusts"
    chooser = signed_in.text
    n = len(board.criterion_keys)
    assert f"2026/27: {n} statements waiting for you" in chooser
    assert "You have finished rating" in chooser
    assert client.get("/", follow_redirects=False).headers["location"] == "/trusts"
    # The switcher still works: choosing RBS takes them to its home, with its next step.
    switched = client.post("/trusts/switch", data={"ods_code": OTHER_TRUST, "csrf_token": csrf_from(chooser)})
    assert switched.url.path == f"/trusts/{OTHER_TRUST}"
    assert primary_buttons(switched.text) == [(f"/assessments/{other.json()['id']}", "Rate the board")]
    # Signing in again still lands on the chooser, not the board chosen last.
    assert client.get("/home", follow_redirects=False).headers["location"] == "/trusts"


def test_a_person_on_one_board_lands_on_its_home_and_signed_out_people_see_the_start_page(
    board: Board, aid: int
) -> None:
    client = board.client
    assert client.get("/", follow_redirects=False).status_code == 200
    sign_in(client, board.neds[0].email)
    assert client.get("/", follow_redirects=False).headers["location"] == f"/trusts/{TRUST}"
