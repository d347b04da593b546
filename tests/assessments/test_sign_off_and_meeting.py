"""Agreeing the ratings in the meeting and signing off with the board's gaps in view, through HTTP.

- An agreed level 1.5 or more from the members' median needs the board's reason, on the pages and the
  API, but only where the person saving may see the spread (otherwise they cannot know the median).
- The sign-off page lists members not finished, levels without a rationale and sections without
  evidence; the chair confirms with them in view. A far level without a reason blocks sign-off.
- Meeting mode shows one statement per screen once rating has closed, and saves through the same rules.
- The board's own 0–10 answer is shown under the spread's rules: not while members are answering, and
  only where at least five members other than the reader answered.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from api.assessments.models import ConsensusRating, Evidence, MemberResponse
from api.settings import Settings
from tests.assessments.test_consensus_pages import (
    SECTION,
    Board,
    add,
    agree,
    agree_all,
    build_board,
    close_rating,
    consensus,
    meta_csrf,
    rate,
    status_of,
    text_of,
)
from tests.factories import api_token, bearer, csrf_from, sign_in

FAR = "1.5 or more levels from the members' median"
CONFIRM = "Confirm that the board has seen these points and agrees to sign off"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings


@pytest.fixture
def board(db: Session, clean_database: Engine) -> Board:
    return build_board(db, clean_database)


def said(html: str) -> str:
    """What a person reads, entities decoded."""
    return unescape(text_of(html))


def five_rate_one(board: Board, key: str) -> None:
    rate(board, key, [(1, ""), (1, ""), (1, ""), (1, ""), (1, "")])


# --- The board's reason for a level far from its members ------------------------------------------------


def test_far_level_without_a_reason_is_refused_on_the_page_and_nothing_is_saved(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    five_rate_one(board, key)
    close_rating(board)
    sign_in(client, "chair@airedale.example")
    token = meta_csrf(client)

    refused = client.post(
        board.save_url(key), data={"level": "3", "rationale": "", "version": "0", "csrf_token": token}
    )

    assert refused.status_code == 422
    assert FAR in said(refused.text) and "median (1)" in said(refused.text)
    assert "nhsuk-error-summary" in refused.text
    assert consensus(board, key) is None
    saved = client.post(
        board.save_url(key),
        data={
            "level": "3",
            "rationale": "The board saw the 2026 papers",
            "version": "0",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert consensus(board, key).level == 3  # type: ignore[union-attr]


def test_near_level_saves_without_a_reason(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    five_rate_one(board, key)
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    saved = client.post(
        board.save_url(key),
        data={"level": "2", "version": "0", "csrf_token": meta_csrf(client)},
        follow_redirects=False,
    )

    assert saved.status_code == 303
    assert consensus(board, key).level == 2  # type: ignore[union-attr]


def test_the_reason_rule_does_not_apply_where_the_reader_may_not_see_the_spread(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    rate(board, key, [(1, ""), (1, ""), (1, ""), (1, "")])  # four others: the spread is hidden
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    saved = client.post(
        board.save_url(key),
        data={"level": "4", "version": "0", "csrf_token": meta_csrf(client)},
        follow_redirects=False,
    )

    assert saved.status_code == 303
    assert consensus(board, key).level == 4  # type: ignore[union-attr]


def test_api_names_the_rationale_field_for_a_far_level(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    five_rate_one(board, key)
    close_rating(board)
    headers = bearer(api_token(client, "chair@airedale.example"))

    refused = client.put(
        f"/api/v1/assessments/{board.assessment_id}/consensus/{key}",
        json={"level": 0, "rationale": "", "version": 0},
        headers=headers,
    )
    assert refused.status_code == 200  # 0 is 1 from the median of 1: no reason needed
    far = client.put(
        f"/api/v1/assessments/{board.assessment_id}/consensus/{key}",
        json={"level": 3, "rationale": "  ", "version": 1},
        headers=headers,
    )

    assert far.status_code == 422
    assert any(error["field"] == "rationale" and FAR in error["msg"] for error in far.json()["detail"])
    assert consensus(board, key).level == 0  # type: ignore[union-attr]


# --- Sign-off with the gaps in view ----------------------------------------------------------------------


def test_sign_off_page_lists_the_gaps_and_needs_the_chairs_confirmation(
    client: TestClient, board: Board
) -> None:
    agree_all(board, level=2)
    first, second = board.keys[0], board.keys[1]
    # One statement agreed without a reason; evidence only in this section.
    with board.engine.begin() as connection:
        connection.execute(
            update(ConsensusRating)
            .where(ConsensusRating.criterion_id == board.criterion_ids[first])  # type: ignore[arg-type]
            .values(rationale="")
        )
    consensus_id = consensus(board, second).id  # type: ignore[union-attr]
    add(
        board.engine,
        Evidence(consensus_rating_id=consensus_id, kind="link", title="Minutes", url="https://example.org/m"),
    )
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/submit")
    words = said(page.text)

    assert "Before you sign off" in words
    # The NEDs rated nothing, so none has finished: named, never what they said.
    assert "7 members have not finished rating" in words and "Ottoline Vanstraaten" in words
    assert "1 agreed level has no rationale" in words
    assert f'href="/assessments/{board.assessment_id}/consensus/{SECTION}#{first}"' in page.text
    assert "sections have no evidence" in words
    bare = re.search(r'<ul class="[^"]*app-sign-off-no-evidence">(.*?)</ul>', page.text, re.S)
    assert bare and f'/consensus/{SECTION}"' not in bare.group(1) and "/consensus/" in bare.group(1)

    unconfirmed = client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert unconfirmed.status_code == 422
    assert CONFIRM in said(unconfirmed.text) and 'href="#confirmed"' in unconfirmed.text
    assert status_of(board).status == "in_progress"

    confirmed = client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": csrf_from(page.text), "confirmed": "true"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert status_of(board).status == "submitted"


def test_far_level_without_a_reason_blocks_sign_off_on_the_page_and_the_api(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    for other in board.criterion_ids:
        if other != key:
            agree(board, other, 2, "Seen in board papers")
    five_rate_one(board, key)
    agree(board, key, 4, "")  # recorded before the rule, or while the spread was hidden
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/submit")
    assert "1 agreed level needs the board's reason" in said(page.text)
    assert f'action="/assessments/{board.assessment_id}/submit"' not in page.text
    refused = client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": meta_csrf(client), "confirmed": "true"},
    )
    assert refused.status_code == 422
    api = client.post(
        f"/api/v1/assessments/{board.assessment_id}/submit",
        headers=bearer(api_token(client, "chair@airedale.example")),
    )
    assert api.status_code == 422
    assert api.json()["unexplained"] == [key]
    assert status_of(board).status == "in_progress"


# --- Meeting mode --------------------------------------------------------------------------------------


def test_meeting_mode_waits_for_rating_to_close(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    five_rate_one(board, key)
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/meeting/{key}")

    assert page.status_code == 200
    assert "Meeting mode opens when rating closes" in page.text
    assert "app-chart--spread" not in page.text and 'name="level"' not in page.text
    posted = client.post(
        f"/assessments/{board.assessment_id}/meeting/{key}",
        data={"level": "2", "version": "0", "csrf_token": meta_csrf(client)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert consensus(board, key) is None


def test_meeting_mode_shows_one_statement_saves_and_moves_on(client: TestClient, board: Board) -> None:
    first, second = board.keys[0], board.keys[1]
    rate(board, first, [(1, "Board papers say little"), (2, ""), (2, ""), (3, ""), (2, "")])
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    start = client.get(f"/assessments/{board.assessment_id}/meeting", follow_redirects=False)
    assert start.status_code == 303
    page = client.get(start.headers["location"])
    assert page.status_code == 200
    words = said(page.text)
    assert "app-chart--spread" in page.text and "How members rated statement" in page.text
    assert "Board papers say little" in words and "Median: 2" in words
    assert "0 of" in words and "statements agreed" in words
    assert 'rel="next"' in page.text
    for name, _email in [("Ottoline Vanstraaten", ""), ("Evander Thistlewood", "")]:
        assert name not in page.text

    url = f"/assessments/{board.assessment_id}/meeting/{first}"
    if start.headers["location"] != url:
        page = client.get(url)
    saved = client.post(
        url,
        data={
            "level": "2",
            "rationale": "Agreed in the room",
            "version": "0",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/assessments/{board.assessment_id}/meeting/{second}?saved={first}"
    assert consensus(board, first).level == 2  # type: ignore[union-attr]
    following = client.get(saved.headers["location"])
    assert "saved." in said(following.text)


def test_meeting_mode_keeps_the_rules_of_the_section_page(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    five_rate_one(board, key)
    close_rating(board)
    sign_in(client, "chair@airedale.example")
    url = f"/assessments/{board.assessment_id}/meeting/{key}"
    token = meta_csrf(client)

    missing = client.post(url, data={"version": "0", "csrf_token": token})
    assert missing.status_code == 422 and "Select the level the board agreed" in said(missing.text)
    far = client.post(url, data={"level": "4", "version": "0", "csrf_token": token})
    assert far.status_code == 422 and FAR in said(far.text)
    agree(board, board.keys[1], 1, "already")
    stale = client.post(
        f"/assessments/{board.assessment_id}/meeting/{board.keys[1]}",
        data={"level": "2", "version": "0", "csrf_token": token},
    )
    assert stale.status_code == 409
    assert consensus(board, key) is None


def test_board_member_gets_403_and_another_trust_404_in_meeting_mode(
    client: TestClient, board: Board
) -> None:
    close_rating(board)
    url = f"/assessments/{board.assessment_id}/meeting/{board.keys[0]}"
    sign_in(client, "ottoline.v@airedale.example")
    assert client.get(url).status_code == 403
    client.cookies.clear()
    sign_in(client, "chair@alderhey.example")
    assert client.get(url).status_code == 404


# --- The board's own 0–10 answer ------------------------------------------------------------------------


def answer_headline(board: Board, scores: list[int]) -> None:
    add(
        board.engine,
        *[
            MemberResponse(
                assessment_id=board.assessment_id,
                respondent_id=ned.id,
                board_role="ned",
                headline_score=score,
            )
            for ned, score in zip(board.neds, scores, strict=False)
        ],
    )


def test_board_headline_is_hidden_while_members_answer_then_shown_beside_the_survey(
    client: TestClient, board: Board
) -> None:
    answer_headline(board, [4, 5, 6, 7, 8])
    sign_in(client, "chair@airedale.example")
    results = f"/assessments/{board.assessment_id}/results"

    open_page = said(client.get(results).text)
    assert "Shown when rating closes" in open_page and "Members' average" not in open_page

    close_rating(board)
    shown = said(client.get(results).text)
    assert "Members' average: 6.0" in shown
    assert "from 4 to 8" in shown and "averaged 5.6, and chairs 6.2" in shown
    assert "0.4 higher than that average" in shown
    overview = said(client.get(f"/assessments/{board.assessment_id}/consensus").text)
    assert "Members' average: 6.0" in overview


def test_board_headline_needs_five_others_than_the_reader(client: TestClient, board: Board) -> None:
    # Five NEDs answered: the chair sees the average, a NED who answered sees four others only.
    answer_headline(board, [4, 5, 6, 7, 8])
    close_rating(board)
    sign_in(client, "ottoline.v@airedale.example")

    page = said(client.get(f"/assessments/{board.assessment_id}/results").text)

    assert "Members' average" not in page
    assert "at least 5 members other than you answered" in page


def test_api_lists_the_sign_off_checks_for_the_chair_and_404s_another_trust(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    for other in board.criterion_ids:
        if other != key:
            agree(board, other, 2, "Seen in board papers")
    five_rate_one(board, key)
    agree(board, key, 4, "")
    close_rating(board)

    checks = client.get(
        f"/api/v1/assessments/{board.assessment_id}/sign-off-checks",
        headers=bearer(api_token(client, "chair@airedale.example")),
    )

    assert checks.status_code == 200
    body = checks.json()
    assert body["blocked"] is True
    assert [p["criterion_key"] for p in body["far_from_median_without_rationale"]] == [key]
    assert body["far_from_median_without_rationale"][0]["members_median"] == 1
    assert "Ottoline Vanstraaten" in body["members_not_finished"]
    assert SECTION in [s["section_key"] for s in body["sections_without_evidence"]]
    other = client.get(
        f"/api/v1/assessments/{board.assessment_id}/sign-off-checks",
        headers=bearer(api_token(client, "chair@alderhey.example")),
    )
    assert other.status_code == 404
