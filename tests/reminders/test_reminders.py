"""The chair and secretary remind members who have not finished rating: names only, one a member a day."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.mail import OutboxEmail
from api.reminders.models import Reminder
from api.settings import Settings
from tests.assessments.helpers import (
    Board,
    Person,
    all_at_once,
    build_board,
    live_server,
    open_assessment,
    query,
)
from tests.factories import csrf_from, sign_in


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


def finish(board: Board, aid: int, person: Person, level: int = 2) -> None:
    """Rate every statement and answer the opening question, through the API."""
    for key in board.criterion_keys:
        assert (
            board.rate(person, aid, key, level, 0, "A candid comment nobody else may read").status_code == 200
        )
    response = board.client.put(
        f"/api/v1/assessments/{aid}/headline", json={"score": 6, "version": 0}, headers=person.headers
    )
    assert response.status_code == 200, response.text


def remind(board: Board, aid: int, sender: Person, member: Person):  # noqa: ANN201
    return board.client.post(
        f"/api/v1/assessments/{aid}/reminders", json={"user_id": member.id}, headers=sender.headers
    )


def outbox(board: Board) -> list[OutboxEmail]:
    return query(board.engine, select(OutboxEmail).order_by(OutboxEmail.id))


def test_chair_reminds_a_member_and_the_email_says_what_they_have_left_not_what_anyone_said(
    board: Board, aid: int
) -> None:
    ned, other = board.neds[0], board.neds[1]
    finish(board, aid, other)
    response = remind(board, aid, board.chair, ned)
    assert response.status_code == 201, response.text
    assert response.json()["user_id"] == ned.id
    assert response.json()["name"] == ned.name
    [email] = outbox(board)
    assert email.to_address == ned.email
    assert "Hester Chairwoman (chair) asks you to finish rating" in email.body
    assert f"0 of {len(board.criterion_keys)} statements" in email.body
    assert f"/assessments/{aid}" in email.body
    assert "candid comment" not in email.body
    assert other.name not in email.body


def test_a_second_reminder_the_same_day_is_refused_409_naming_the_field_and_sends_nothing(
    board: Board, aid: int
) -> None:
    ned = board.neds[0]
    assert remind(board, aid, board.chair, ned).status_code == 201
    # Whoever sends it: the secretary cannot remind the same member again today either.
    again = remind(board, aid, board.secretary, ned)
    assert again.status_code == 409
    assert again.json()["reason"] == "already_reminded_today"
    assert again.json()["field"] == "user_id"
    assert "already been reminded today" in again.json()["detail"]
    assert len(outbox(board)) == 1
    assert query(board.engine, select(func.count()).select_from(Reminder)) == [1]
    # Another member is another reminder.
    assert remind(board, aid, board.secretary, board.neds[1]).status_code == 201
    assert len(outbox(board)) == 2


def test_a_member_who_has_finished_or_is_not_on_the_board_cannot_be_reminded(board: Board, aid: int) -> None:
    finish(board, aid, board.neds[0])
    for member in (board.neds[0], board.other_ned, board.secretary):
        response = remind(board, aid, board.chair, member)
        assert response.status_code == 422, member
        assert response.json()["detail"][0]["field"] == "user_id"
    assert outbox(board) == []


def test_a_board_member_cannot_send_reminders_and_another_trust_gets_404(board: Board, aid: int) -> None:
    assert remind(board, aid, board.neds[1], board.neds[0]).status_code == 403
    assert remind(board, aid, board.other_chair, board.neds[0]).status_code == 404
    assert outbox(board) == []


def test_nobody_is_reminded_once_rating_has_closed(board: Board, aid: int) -> None:
    assert board.close_rating(aid).status_code == 200
    response = remind(board, aid, board.chair, board.neds[0])
    assert response.status_code == 409
    assert response.json()["reason"] == "rating_closed"
    assert outbox(board) == []


def test_the_api_lists_who_has_not_finished_with_todays_reminders(board: Board, aid: int) -> None:
    finish(board, aid, board.neds[0])
    assert remind(board, aid, board.chair, board.neds[1]).status_code == 201
    listed = board.get(f"/api/v1/assessments/{aid}/reminders", board.secretary).json()
    names = [row["name"] for row in listed]
    assert board.neds[0].name not in names
    assert board.secretary.name not in names
    assert sorted(names) == sorted(p.name for p in [board.chair, *board.neds[1:]])
    assert [row["user_id"] for row in listed if row["reminded_today"]] == [board.neds[1].id]
    assert set(listed[0]) == {"user_id", "name", "reminded_today"}


def test_the_page_shows_who_has_not_finished_and_sends_one_reminder_a_day(board: Board, aid: int) -> None:
    client = board.client
    sign_in(client, board.secretary.email)
    page = client.get(f"/assessments/{aid}/reminders")
    assert page.status_code == 200
    assert "0 of 7" in page.text
    assert board.neds[0].name in page.text
    response = client.post(
        f"/assessments/{aid}/reminders",
        data={"user_id": str(board.neds[0].id), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    done = client.get(response.headers["location"])
    assert f"We have emailed a reminder to {board.neds[0].name}" in done.text
    assert "Reminded today" in done.text
    again = client.post(
        f"/assessments/{aid}/reminders",
        data={"user_id": str(board.neds[0].id), "csrf_token": csrf_from(page.text)},
    )
    assert again.status_code == 409
    assert "There is a problem" in again.text
    assert "already been reminded today. You can send another reminder tomorrow." in again.text
    bad = client.post(
        f"/assessments/{aid}/reminders", data={"user_id": "nobody", "csrf_token": csrf_from(page.text)}
    )
    assert bad.status_code == 422
    assert "Choose a board member who has not finished rating" in bad.text
    assert len(outbox(board)) == 1


def test_the_chair_and_the_secretary_reminding_at_the_same_moment_send_one_email(
    board: Board, aid: int, app: FastAPI
) -> None:
    ned = board.neds[0]

    def send(sender: Person) -> Callable[[httpx.Client], httpx.Response]:
        return lambda http: http.post(
            f"/api/v1/assessments/{aid}/reminders", json={"user_id": ned.id}, headers=sender.headers
        )

    with live_server(app) as server:
        responses = all_at_once(server, [send(board.chair), send(board.secretary)])
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert [e.to_address for e in outbox(board)] == [ned.email]
