"""Nobody can tie a rating to a member (issue 14, items 1-4; docs/anonymity.md, "Inside the board").

Each test is an attack a curious chair (or secretary, or colleague) could try, or a rule the
attack relies on being absent:
1. raters the chair controls: only the board at opening counts, five others than the reader;
2. a spread that moves live: nothing is shown until rating closes, and closing is final;
3. logs: no log holds a rating's level or comment;
4. a secretary cannot take over the board, and the board sees who joined and every chair change.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.assessments.models import Assessment
from api.assessments.spread import uk_today
from api.audit.models import AuditEvent
from api.settings import Settings
from tests.assessments.helpers import TRUST, Board, Person, build_board, get_row, open_assessment, query
from tests.factories import csrf_from, make_user, sign_in

MEMBERS_API = f"/api/v1/organisations/{TRUST}/members"


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


def spread(board: Board, aid: int, key: str, person: Person) -> dict:
    response = board.get(f"/api/v1/assessments/{aid}/consensus", person)
    assert response.status_code == 200, response.text
    return next(item for item in response.json() if item["criterion_key"] == key)


def rate_each(board: Board, aid: int, key: str, people: list[Person], level: int = 2) -> None:
    for number, person in enumerate(people):
        saved = board.rate(person, aid, key, (level + number) % 5, 0, f"remark number {number}")
        assert saved.status_code == 200, saved.text


def invite(board: Board, email: str, role: str = "board_member", by: Person | None = None) -> dict:
    body = {"email": email, "name": "Puppet Account", "role": role}
    if role == "board_member":
        body["board_role"] = "ned"
    response = board.client.post(MEMBERS_API, json=body, headers=(by or board.chair).headers)
    assert response.status_code == 201, response.text
    return response.json()


def person_for(board: Board, db: Session, settings: Settings, email: str) -> Person:
    """A token for an account created through an invitation (as if the invitee had accepted)."""
    from api.accounts.models import User
    from api.accounts.sessions import issue_api_token
    from tests.factories import password_hash

    user = db.exec(select(User).where(User.email == email)).one()
    user.password_hash = password_hash()
    _token, raw = issue_api_token(db, user, settings)
    db.commit()
    return Person(id=user.id, email=user.email, name=user.name, token=raw)


# --- 1. Raters the chair controls ----------------------------------------------------------------


def test_an_account_added_after_opening_is_counted_apart_and_never_fills_the_minimum(
    board: Board, aid: int, db: Session, settings: Settings
) -> None:
    """The attack: the chair adds an account they control, rates with it and with their own, and
    reads the spread to subtract two known ratings from a small one."""
    key = board.criterion_keys[0]
    invite(board, "puppet@example.org")
    puppet = person_for(board, db, settings, "puppet@example.org")
    rate_each(board, aid, key, [board.chair, puppet, *board.neds[:4]])
    assert board.close_rating(aid).status_code == 200

    item = spread(board, aid, key, board.chair)
    # Six ratings, but only four from members other than the chair who were there at opening.
    assert (item["rated"], item["late_rated"], item["shown"], item["hidden_because"]) == (
        5,
        1,
        False,
        "too_few",
    )
    for hidden in ("counts", "median", "low", "high", "comments"):
        assert item[hidden] is None


def test_the_puppets_rating_never_reaches_the_spread_or_the_members_median(
    board: Board, aid: int, db: Session, settings: Settings
) -> None:
    key = board.criterion_keys[0]
    invite(board, "puppet@example.org")
    puppet = person_for(board, db, settings, "puppet@example.org")
    for person in board.neds[:5]:
        assert board.rate(person, aid, key, 1, 0, "").status_code == 200
    assert board.rate(puppet, aid, key, 4, 0, "PUPPET WAS HERE").status_code == 200
    board.close_rating(aid)
    item = spread(board, aid, key, board.secretary)
    assert item["shown"] is True and item["late_rated"] == 1
    assert {c["level"]: c["count"] for c in item["counts"]} == {0: 0, 1: 5, 2: 0, 3: 0, 4: 0}
    assert item["high"] == 1
    scores = board.get(f"/api/v1/assessments/{aid}/scores", board.secretary).json()
    first = next(c for s in scores["sections"] for c in s["criteria"] if c["key"] == key)
    assert first["members_median"] == 1.0
    everything = board.get(f"/api/v1/assessments/{aid}/consensus", board.secretary).text
    assert "PUPPET WAS HERE" not in everything


def test_the_readers_own_rating_does_not_count_towards_the_five(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, [board.chair, *board.neds[:4]])
    board.close_rating(aid)
    # The chair rated: only four others. The secretary did not rate: five others.
    assert spread(board, aid, key, board.chair)["shown"] is False
    assert spread(board, aid, key, board.secretary)["shown"] is True
    # The same rule on the results page's figures.
    mine = board.get(f"/api/v1/assessments/{aid}/scores", board.neds[0]).json()
    theirs = board.get(f"/api/v1/assessments/{aid}/scores", board.neds[5]).json()
    median = {
        name: next(c for s in body["sections"] for c in s["criteria"] if c["key"] == key)["members_median"]
        for name, body in (("rater", mine), ("other", theirs))
    }
    assert median["rater"] is None and median["other"] is not None


def test_removing_a_member_never_changes_what_is_shown(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, board.neds[:5])
    board.close_rating(aid)
    before = spread(board, aid, key, board.secretary)
    assert before["shown"] is True
    member = next(m for m in board.get(MEMBERS_API, board.chair).json() if m["email"] == board.neds[0].email)
    assert (
        board.client.delete(f"{MEMBERS_API}/{member['id']}", headers=board.chair.headers).status_code == 204
    )
    assert spread(board, aid, key, board.secretary) == before


# --- 2. The spread does not move live ----------------------------------------------------------------


def test_while_members_rate_the_chair_and_secretary_see_progress_only(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, board.raters)
    for reader in (board.chair, board.secretary):
        item = spread(board, aid, key, reader)
        assert (item["rated"], item["shown"], item["hidden_because"]) == (7, False, "open")
        assert item["counts"] is None and item["comments"] is None and item["median"] is None
        assessment = board.get(f"/api/v1/assessments/{aid}", reader).json()
        assert assessment["rating"] == {"closed": False, "deadline": None, "closed_at": None}
        # Who has not finished, so they can be reminded: names, never answers.
        assert sorted(assessment["board_progress"]["not_finished"]) == sorted(p.name for p in board.raters)
    scores = board.get(f"/api/v1/assessments/{aid}/scores", board.secretary).json()
    assert all(c["members_median"] is None for s in scores["sections"] for c in s["criteria"])
    assert (
        board.get(f"/api/v1/assessments/{aid}", board.neds[0]).json()["board_progress"]["not_finished"]
        is None
    )


def test_closing_rating_shows_the_spread_locks_ratings_and_is_recorded_once(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, board.raters)
    version = board.get(f"/api/v1/assessments/{aid}", board.chair).json()["version"]
    assert (
        board.client.post(
            f"/api/v1/assessments/{aid}/close-rating",
            json={"version": version - 1},
            headers=board.chair.headers,
        ).status_code
        == 409
    )
    for refused in (board.secretary, board.neds[0]):
        answer = board.client.post(
            f"/api/v1/assessments/{aid}/close-rating", json={"version": version}, headers=refused.headers
        )
        assert answer.status_code == 403
    closed = board.close_rating(aid)
    assert closed.status_code == 200, closed.text
    assert closed.json()["rating"]["closed"] is True
    assert spread(board, aid, key, board.chair)["shown"] is True
    # Ratings and the headline answer are locked.
    late = board.rate(board.neds[0], aid, key, 4, 1, "changed my mind")
    assert late.status_code == 409 and late.json()["rating_closed"] is True
    headline = board.client.put(
        f"/api/v1/assessments/{aid}/headline", json={"score": 7, "version": 0}, headers=board.neds[1].headers
    )
    assert headline.status_code == 409
    # Closing again changes nothing and records nothing.
    assert board.close_rating(aid).status_code == 200
    events = query(board.engine, select(AuditEvent).where(AuditEvent.action == "assessment.rating_closed"))
    assert len(events) == 1 and events[0].actor_id == board.chair.id


def test_rating_stays_closed_after_sign_off_and_a_reopening(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    assert board.submit(aid).status_code == 200
    stored = get_row(board.engine, Assessment, aid)
    assert stored.rating_closed_at is not None
    assert board.reopen(aid).status_code == 200
    assert board.get(f"/api/v1/assessments/{aid}", board.chair).json()["rating"]["closed"] is True
    assert board.rate(board.neds[0], aid, board.criterion_keys[0], 3).status_code == 409


def test_the_rating_deadline_closes_rating_when_it_has_passed(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, board.neds[:5])

    def set_deadline(day: object, version: int | None = None) -> object:
        current = board.get(f"/api/v1/assessments/{aid}", board.chair).json()["version"]
        return board.client.put(
            f"/api/v1/assessments/{aid}/rating-deadline",
            json={"rating_deadline": str(day), "version": current if version is None else version},
            headers=board.chair.headers,
        )

    past = set_deadline(uk_today() - timedelta(days=1))
    assert past.status_code == 422 and past.json()["detail"][0]["field"] == "rating_deadline"
    too_late = set_deadline(uk_today() + timedelta(days=800))
    assert too_late.status_code == 422 and "closing date" in too_late.text
    assert set_deadline(uk_today() + timedelta(days=3), version=0).status_code == 409
    today = set_deadline(uk_today())
    assert today.status_code == 200, today.text
    # The deadline day itself is still open.
    assert spread(board, aid, key, board.chair)["hidden_because"] == "open"
    assert board.rate(board.neds[5], aid, key, 2).status_code == 200
    # The day passes.
    with board.engine.begin() as connection:
        connection.execute(update(Assessment).values(rating_deadline=uk_today() - timedelta(days=1)))
    assert spread(board, aid, key, board.chair)["shown"] is True
    assert board.rate(board.neds[5], aid, key, 3, 1).status_code == 409
    assert set_deadline(uk_today() + timedelta(days=5)).status_code == 409
    deadline_events = query(
        board.engine, select(AuditEvent).where(AuditEvent.action == "assessment.rating_deadline_set")
    )
    assert len(deadline_events) == 1


def test_the_chair_closes_rating_from_the_page_after_being_told_it_is_final(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_each(board, aid, key, board.neds[:5])
    page_client = TestClient(board.client.app)
    sign_in(page_client, board.chair.email)
    overview = page_client.get(f"/assessments/{aid}/consensus")
    assert "you see only who has finished, never what anyone chose" in overview.text
    assert "Bartholomew Fenwick" in overview.text  # not finished yet: the chair can remind them
    section = page_client.get(f"/assessments/{aid}/consensus/accountability")
    assert "shown when rating closes" in section.text and "remark number" not in section.text
    confirm = page_client.get(f"/assessments/{aid}/close-rating")
    assert confirm.status_code == 200
    assert "You cannot reopen rating" in confirm.text and "final for 2026/27" in confirm.text
    version = get_row(board.engine, Assessment, aid).version
    closed = page_client.post(
        f"/assessments/{aid}/close-rating",
        data={"version": str(version), "csrf_token": csrf_from(confirm.text)},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    section = page_client.get(f"/assessments/{aid}/consensus/accountability")
    assert "remark number 0" in section.text
    assert get_row(board.engine, Assessment, aid).rating_closed_by_id == board.chair.id


def test_the_secretary_is_not_offered_closing_and_cannot_close(board: Board, aid: int) -> None:
    page_client = TestClient(board.client.app)
    sign_in(page_client, board.secretary.email)
    overview = page_client.get(f"/assessments/{aid}/consensus")
    assert "/close-rating" not in overview.text
    assert page_client.get(f"/assessments/{aid}/close-rating").status_code == 403


def test_members_are_told_who_sees_their_ratings_and_when(board: Board, aid: int) -> None:
    page_client = TestClient(board.client.app)
    sign_in(page_client, board.neds[0].email)
    overview = page_client.get(f"/assessments/{aid}")
    assert "Who sees your ratings" in overview.text
    assert "see only who has finished" in overview.text
    assert "at least 5 members other than the person looking" in overview.text
    section = page_client.get(f"/assessments/{aid}/sections/accountability")
    assert "Who sees your ratings, and when" in section.text


# --- 3. Logs -----------------------------------------------------------------------------------------


def test_no_log_holds_a_ratings_level_or_comment(
    board: Board, aid: int, caplog: pytest.LogCaptureFixture
) -> None:
    key = board.criterion_keys[0]
    with caplog.at_level(logging.DEBUG):
        assert board.rate(board.neds[0], aid, key, 3, 0, "Zanzibar quokka remark").status_code == 200
        assert board.rate(board.neds[0], aid, key, 1, 1, "Zanzibar quokka remark").status_code == 200
    assert "Zanzibar" not in caplog.text
    events = query(board.engine, select(AuditEvent).where(AuditEvent.action == "rating.changed"))
    assert len(events) == 2
    for event in events:
        text = f"{event.summary} {event.details}"
        assert "Zanzibar" not in text and key not in text
        assert "level" not in event.details


# --- 4. The board sees who joined and every change of chair ----------------------------------------------


def test_the_board_sees_members_added_after_opening_and_chair_changes(board: Board, aid: int) -> None:
    invite(board, "late.joiner@example.org")
    members = board.get(MEMBERS_API, board.chair).json()
    ned = next(m for m in members if m["email"] == board.neds[1].email)
    promoted = board.client.patch(
        f"{MEMBERS_API}/{ned['id']}", json={"role": "chair"}, headers=board.chair.headers
    )
    assert promoted.status_code == 200, promoted.text
    page_client = TestClient(board.client.app)
    sign_in(page_client, board.neds[0].email)
    page = page_client.get(f"/assessments/{aid}")
    assert "Changes to the board since this assessment opened" in page.text
    assert "Puppet Account joined the board as" in page.text
    assert f"{board.neds[1].name} became a chair" in page.text


def test_a_secretary_cannot_appoint_a_chair_through_the_api(board: Board, aid: int) -> None:
    response = board.client.post(
        MEMBERS_API,
        json={"email": "new.chair@example.org", "name": "New Chair", "role": "chair"},
        headers=board.secretary.headers,
    )
    assert response.status_code == 403
    assert "Only a chair" in response.text


def test_members_of_the_board_at_opening_are_recorded_when_it_opens(
    board: Board, aid: int, db: Session
) -> None:
    from api.assessments.models import AssessmentRater

    rows = query(board.engine, select(AssessmentRater.user_id).where(AssessmentRater.assessment_id == aid))
    # The chair and the six members: not the secretary (who does not rate), not the other trust's people.
    assert sorted(rows) == sorted(p.id for p in board.raters)
    make_user(db, "after@airedale.example", trust=TRUST)
    rows_after = query(
        board.engine, select(AssessmentRater.user_id).where(AssessmentRater.assessment_id == aid)
    )
    assert sorted(rows_after) == sorted(rows)


def test_suggested_actions_say_members_differ_only_where_the_reader_may_see_the_spread(
    board: Board, aid: int
) -> None:
    """The action plan's "members differ" suggestion follows the five-others rule too: the chair,
    who rated, must not learn from it what the spread hidden from them would show."""
    board.agree_all(aid, 3)  # no section scores below 2: only disagreement can bring suggestions
    key = board.criterion_keys[0]
    for person, level in zip([board.chair, *board.neds[:4]], [0, 4, 4, 0, 2], strict=True):
        assert board.rate(person, aid, key, level).status_code == 200
    assert board.close_rating(aid).status_code == 200

    def sections(person: Person) -> set[str]:
        response = board.get(f"/api/v1/assessments/{aid}/actions/suggestions", person)
        assert response.status_code == 200, response.text
        return {item["section"] for item in response.json()}

    assert "accountability" in sections(board.secretary)  # five others rated: the spread is shown
    assert sections(board.chair) == set()  # four others: nothing, not even "members differ"
