"""The self-assessment journey through the HTTP API: opening, ratings, headline, consensus, sign-off."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, MemberResponse, Rating
from api.audit.models import AuditEvent
from api.scoring.models import StoredScore
from api.settings import Settings
from tests.assessments.helpers import CYCLE, TRUST, Board, build_board, get_row, one, open_assessment, query
from tests.factories import api_token, bearer, make_cycle

FRAMEWORK_KEY = "race-equality-board-v1"
PCREF = "patients-inequalities-pcref"  # mental health trusts only; RCF is an acute trust


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    """An open assessment of trust RCF for 2026/27."""
    return open_assessment(board)


def fields(response) -> list[str]:  # noqa: ANN001
    return [error["field"] for error in response.json()["detail"]]


def ratings_in(engine: Engine, assessment_id: int) -> list[Rating]:
    return query(engine, select(Rating).where(Rating.assessment_id == assessment_id))


def events(engine: Engine, action: str) -> list[AuditEvent]:
    return query(engine, select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))


# --- Opening -------------------------------------------------------------------------------------------


def test_chair_opens_assessment_and_gets_201_with_it(board: Board) -> None:
    response = board.open()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["cycle"] == CYCLE
    assert body["framework_key"] == FRAMEWORK_KEY
    assert body["organisation_code"] == TRUST
    assert body["submitted_at"] is None
    stored = get_row(board.engine, Assessment, body["id"])
    assert stored.status == "in_progress" and stored.opened_by_id == board.chair.id
    (event,) = events(board.engine, "assessment.opened")
    assert event.object_id == body["id"] and event.actor_id == board.chair.id


def test_board_secretary_can_open_assessment(board: Board) -> None:
    assert board.open(board.secretary).status_code == 201


def test_opening_same_cycle_twice_answers_409_pointing_to_existing(board: Board) -> None:
    first = board.open().json()["id"]
    again = board.open(board.secretary)
    assert again.status_code == 409
    assert again.json()["assessment_id"] == first
    assert again.json()["url"] == f"/api/v1/assessments/{first}"
    assert len(query(board.engine, select(Assessment))) == 1


def test_board_member_gets_403_opening_assessment(board: Board) -> None:
    assert board.open(board.neds[0]).status_code == 403
    assert query(board.engine, select(Assessment)) == []


def test_chair_of_other_trust_gets_404_opening_for_this_trust(board: Board) -> None:
    assert board.open(board.other_chair).status_code == 404
    assert query(board.engine, select(Assessment)) == []


def test_unknown_cycle_answers_422_naming_cycle(board: Board) -> None:
    response = board.open(cycle="2031/32")
    assert response.status_code == 422
    assert fields(response) == ["cycle"]
    assert query(board.engine, select(Assessment)) == []


def test_malformed_cycle_answers_422_naming_cycle(board: Board) -> None:
    response = board.open(cycle="2026-27")
    assert response.status_code == 422
    assert fields(response) == ["cycle"]


def test_cycle_not_open_today_answers_422_naming_cycle(board: Board, db: Session) -> None:
    make_cycle(db, "2019/20", date(2019, 4, 1), date(2020, 3, 31))
    db.close()
    response = board.open(cycle="2019/20")
    assert response.status_code == 422
    assert fields(response) == ["cycle"]


def test_unsigned_request_gets_401(board: Board, aid: int) -> None:
    assert (
        board.client.post(f"/api/v1/organisations/{TRUST}/assessments", json={"cycle": CYCLE}).status_code
        == 401
    )
    assert board.client.get(f"/api/v1/assessments/{aid}").status_code == 401
    bad = board.client.get(f"/api/v1/assessments/{aid}", headers=bearer("reb_not-a-real-token"))
    assert bad.status_code == 401


def test_token_from_sign_in_endpoint_opens_assessment(board: Board) -> None:
    token = api_token(board.client, board.chair.email)
    response = board.client.post(
        f"/api/v1/organisations/{TRUST}/assessments", json={"cycle": CYCLE}, headers=bearer(token)
    )
    assert response.status_code == 201


def test_member_of_other_trust_gets_404_for_assessment(board: Board, aid: int) -> None:
    assert board.get(f"/api/v1/assessments/{aid}", board.other_ned).status_code == 404
    assert board.get(f"/api/v1/assessments/{aid}", board.other_chair).status_code == 404
    assert board.get(f"/api/v1/assessments/{aid + 1000}", board.chair).status_code == 404


# --- Ratings ------------------------------------------------------------------------------------------


def test_rating_saved_with_version_1_then_version_2(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    ned = board.neds[0]
    first = board.rate(ned, aid, key, 2, 0, "Objectives exist for some")
    assert first.status_code == 200, first.text
    assert first.json() == {
        "criterion_key": key,
        "level": 2,
        "comment": "Objectives exist for some",
        "version": 1,
    }
    second = board.rate(ned, aid, key, 3, 1, "Now for all")
    assert second.status_code == 200
    assert second.json() == {"criterion_key": key, "level": 3, "comment": "Now for all", "version": 2}
    (row,) = ratings_in(board.engine, aid)
    assert (row.level, row.comment, row.version, row.respondent_id) == (3, "Now for all", 2, ned.id)


def test_stale_version_answers_409_with_current_value_and_changes_nothing(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    ned = board.neds[0]
    board.rate(ned, aid, key, 1, 0, "first")
    board.rate(ned, aid, key, 3, 1, "newer")
    stale = board.rate(ned, aid, key, 0, 1, "older autosave")
    assert stale.status_code == 409
    assert stale.json()["current"] == {"level": 3, "comment": "newer", "version": 2}
    (row,) = ratings_in(board.engine, aid)
    assert (row.level, row.comment, row.version) == (3, "newer", 2)


def test_older_autosave_arriving_after_newer_never_overwrites(board: Board, aid: int) -> None:
    key = board.criterion_keys[1]
    ned = board.neds[1]
    board.rate(ned, aid, key, 1, 0)
    # Two autosaves were sent from version 1; the newer one arrives first.
    assert board.rate(ned, aid, key, 4, 1, "newer").status_code == 200
    assert board.rate(ned, aid, key, 2, 1, "older").status_code == 409
    (row,) = ratings_in(board.engine, aid)
    assert (row.level, row.comment, row.version) == (4, "newer", 2)


def test_first_save_claiming_a_version_answers_409(board: Board, aid: int) -> None:
    response = board.rate(board.neds[0], aid, board.criterion_keys[0], 2, 3)
    assert response.status_code == 409
    assert response.json()["current"] is None
    assert ratings_in(board.engine, aid) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"level": 5, "comment": "", "version": 0}, "level"),
        ({"level": -1, "comment": "", "version": 0}, "level"),
        ({"level": "three", "comment": "", "version": 0}, "level"),
        ({"level": 2.5, "comment": "", "version": 0}, "level"),
        ({"level": True, "comment": "", "version": 0}, "level"),
        ({"level": "3", "comment": "", "version": 0}, "level"),
        ({"level": 2, "comment": 7, "version": 0}, "comment"),
        ({"level": 2, "comment": "", "version": True}, "version"),
        ({"level": 2, "comment": "", "version": "one"}, "version"),
        ({"level": 2, "comment": ""}, "version"),
        ({"comment": "", "version": 0}, "level"),
        ({"level": 2, "comment": "x" * 2001, "version": 0}, "comment"),
        ({"level": 2, "comment": "", "version": 0, "respondent_id": 1}, "respondent_id"),
    ],
)
def test_invalid_rating_answers_422_naming_field_and_stores_nothing(
    board: Board, aid: int, body: dict, field: str
) -> None:
    key = board.criterion_keys[0]
    ned = board.neds[0]
    existing = board.rate(ned, aid, key, 1, 0, "kept")
    assert existing.status_code == 200
    response = board.client.put(f"/api/v1/assessments/{aid}/ratings/{key}", json=body, headers=ned.headers)
    assert response.status_code == 422
    assert field in fields(response)
    assert all(error["msg"] for error in response.json()["detail"])
    (row,) = ratings_in(board.engine, aid)
    assert (row.level, row.comment, row.version) == (1, "kept", 1)


def test_unknown_criterion_answers_422_naming_criterion_and_stores_nothing(board: Board, aid: int) -> None:
    response = board.rate(board.neds[0], aid, "no-such-criterion", 2)
    assert response.status_code == 422
    assert fields(response) == ["criterion_key"]
    assert "no-such-criterion" in response.json()["detail"][0]["msg"]
    assert ratings_in(board.engine, aid) == []
    assert events(board.engine, "rating.changed") == []


def test_criterion_not_applying_to_trust_type_answers_422(board: Board, aid: int) -> None:
    assert PCREF not in board.criterion_keys
    response = board.rate(board.neds[0], aid, PCREF, 2)
    assert response.status_code == 422
    assert fields(response) == ["criterion_key"]


def test_null_level_is_accepted_as_not_yet_known(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    response = board.rate(board.neds[0], aid, key, None, 0, "I have not seen the papers")
    assert response.status_code == 200
    assert response.json()["level"] is None and response.json()["version"] == 1
    (row,) = ratings_in(board.engine, aid)
    assert row.level is None
    mine = board.get(f"/api/v1/assessments/{aid}", board.neds[0]).json()["my_progress"]
    assert mine["answered"] == 1


def test_board_secretary_gets_403_for_own_ratings(board: Board, aid: int) -> None:
    assert board.rate(board.secretary, aid, board.criterion_keys[0], 2).status_code == 403
    assert board.get(f"/api/v1/assessments/{aid}/ratings", board.secretary).status_code == 403
    assert ratings_in(board.engine, aid) == []


def test_member_of_other_trust_gets_404_rating_this_assessment(board: Board, aid: int) -> None:
    assert board.rate(board.other_ned, aid, board.criterion_keys[0], 2).status_code == 404
    assert board.rate(board.other_chair, aid, board.criterion_keys[0], 2).status_code == 404
    assert board.get(f"/api/v1/assessments/{aid}/ratings", board.other_ned).status_code == 404
    assert ratings_in(board.engine, aid) == []


def test_my_ratings_returns_only_my_own(board: Board, aid: int) -> None:
    first, second = board.criterion_keys[:2]
    ned1, ned2 = board.neds[:2]
    board.rate(ned1, aid, first, 1, 0, "ned one on first")
    board.rate(ned1, aid, second, None, 0, "ned one on second")
    board.rate(ned2, aid, first, 4, 0, "ned two on first")
    board.rate(board.chair, aid, second, 3, 0, "chair on second")
    mine = board.get(f"/api/v1/assessments/{aid}/ratings", ned1)
    assert mine.status_code == 200
    assert sorted(mine.json(), key=lambda r: r["criterion_key"]) == sorted(
        [
            {"criterion_key": first, "level": 1, "comment": "ned one on first", "version": 1},
            {"criterion_key": second, "level": None, "comment": "ned one on second", "version": 1},
        ],
        key=lambda r: r["criterion_key"],
    )
    theirs = board.get(f"/api/v1/assessments/{aid}/ratings", ned2).json()
    assert theirs == [{"criterion_key": first, "level": 4, "comment": "ned two on first", "version": 1}]
    assert board.get(f"/api/v1/assessments/{aid}/ratings", board.neds[2]).json() == []


def test_progress_counts_my_answers_and_members_finished(board: Board, aid: int) -> None:
    ned = board.neds[0]
    total = len(board.criterion_keys)
    start = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert start["my_progress"] == {
        "answered": 0,
        "total": total,
        "headline_answered": False,
        "finished": False,
    }
    # The chair and six members rate; the secretary does not, and RBS's people are not on this board.
    # A member is not told who else has not finished (only the chair and secretary are).
    assert start["board_progress"] == {"members_finished": 0, "members": 7, "not_finished": None}
    for key in board.criterion_keys[:-1]:
        assert board.rate(ned, aid, key, 2).status_code == 200
    board.rate(ned, aid, board.criterion_keys[-1], None)
    almost = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert almost["my_progress"] == {
        "answered": total,
        "total": total,
        "headline_answered": False,
        "finished": False,
    }
    assert almost["board_progress"]["members_finished"] == 0
    assert (
        board.client.put(
            f"/api/v1/assessments/{aid}/headline", json={"score": 6, "version": 0}, headers=ned.headers
        ).status_code
        == 200
    )
    done = board.get(f"/api/v1/assessments/{aid}", ned).json()
    assert done["my_progress"] == {
        "answered": total,
        "total": total,
        "headline_answered": True,
        "finished": True,
    }
    assert done["board_progress"] == {"members_finished": 1, "members": 7, "not_finished": None}
    chair_view = board.get(f"/api/v1/assessments/{aid}", board.chair).json()
    assert chair_view["my_progress"]["answered"] == 0
    # The chair is told who has not finished (to remind them), never what anyone answered.
    not_finished = sorted(p.name for p in board.raters if p != ned)
    assert chair_view["board_progress"] == {"members_finished": 1, "members": 7, "not_finished": not_finished}
    secretary_view = board.get(f"/api/v1/assessments/{aid}", board.secretary)
    assert secretary_view.status_code == 200
    assert secretary_view.json()["my_progress"] is None
    assert secretary_view.json()["board_progress"] == {
        "members_finished": 1,
        "members": 7,
        "not_finished": not_finished,
    }


# --- Headline -----------------------------------------------------------------------------------------


def put_headline(board: Board, person, aid: int, score, version) -> object:  # noqa: ANN001
    return board.client.put(
        f"/api/v1/assessments/{aid}/headline",
        json={"score": score, "version": version},
        headers=person.headers,
    )


def test_headline_is_versioned_once_per_member(board: Board, aid: int) -> None:
    ned = board.neds[0]
    assert board.get(f"/api/v1/assessments/{aid}/headline", ned).json() == {"score": None, "version": 0}
    first = put_headline(board, ned, aid, 7, 0)
    assert first.status_code == 200
    assert first.json() == {"score": 7, "version": 1}
    second = put_headline(board, ned, aid, 8, 1)
    assert second.json() == {"score": 8, "version": 2}
    stale = put_headline(board, ned, aid, 3, 1)
    assert stale.status_code == 409
    assert stale.json()["current"]["score"] == 8
    assert board.get(f"/api/v1/assessments/{aid}/headline", ned).json() == {"score": 8, "version": 2}
    assert board.get(f"/api/v1/assessments/{aid}/headline", board.neds[1]).json() == {
        "score": None,
        "version": 0,
    }
    (row,) = query(board.engine, select(MemberResponse).where(MemberResponse.respondent_id == ned.id))
    assert row.headline_score == 8


def test_headline_after_rating_starts_at_version_1(board: Board, aid: int) -> None:
    ned = board.neds[0]
    board.rate(ned, aid, board.criterion_keys[0], 2)
    first = put_headline(board, ned, aid, 5, 0)
    assert first.json() == {"score": 5, "version": 1}
    again_first = put_headline(board, ned, aid, 9, 0)
    assert again_first.status_code == 409
    assert board.get(f"/api/v1/assessments/{aid}/headline", ned).json() == {"score": 5, "version": 1}


@pytest.mark.parametrize("score", [11, -1, "seven", 6.5, None, True, "7"])
def test_headline_outside_0_to_10_answers_422_naming_score(board: Board, aid: int, score: object) -> None:
    response = put_headline(board, board.neds[0], aid, score, 0)
    assert response.status_code == 422
    assert fields(response) == ["score"]
    assert query(board.engine, select(MemberResponse)) == []


def test_headline_boundaries_0_and_10_accepted(board: Board, aid: int) -> None:
    assert put_headline(board, board.neds[0], aid, 0, 0).json()["score"] == 0
    assert put_headline(board, board.neds[1], aid, 10, 0).json()["score"] == 10


def test_board_secretary_gets_403_for_headline_and_other_trust_404(board: Board, aid: int) -> None:
    assert put_headline(board, board.secretary, aid, 5, 0).status_code == 403
    assert put_headline(board, board.other_ned, aid, 5, 0).status_code == 404
    assert query(board.engine, select(MemberResponse)) == []


# --- The board's spread for the consensus discussion -----------------------------------------------


def consensus(board: Board, aid: int, person=None) -> list[dict]:  # noqa: ANN001
    response = board.get(f"/api/v1/assessments/{aid}/consensus", person or board.chair)
    assert response.status_code == 200, response.text
    return response.json()


def spread_of(board: Board, aid: int, key: str, person=None) -> dict:  # noqa: ANN001
    return next(item for item in consensus(board, aid, person) if item["criterion_key"] == key)


def test_fewer_than_5_raters_shows_only_how_many_rated(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    board.rate(board.neds[0], aid, key, 1, 0, "secret remark one")
    board.rate(board.neds[1], aid, key, 4, 0, "secret remark two")
    assert board.close_rating(aid).status_code == 200
    item = spread_of(board, aid, key)
    assert item["rated"] == 2
    assert item["shown"] is False
    for hidden in ("counts", "not_yet_known", "median", "low", "high", "disagreement", "comments"):
        assert item[hidden] is None, hidden
    text = json.dumps(consensus(board, aid))
    assert "secret remark" not in text
    untouched = spread_of(board, aid, board.criterion_keys[1])
    assert untouched["rated"] == 0 and untouched["shown"] is False


def rate_all(board: Board, aid: int, key: str, answers: list[tuple[Any, str]], raters=None) -> None:  # noqa: ANN001
    """Each rater in turn (the six members by default) gives the next (level, comment)."""
    for person, (level, comment) in zip(raters or board.neds, answers, strict=False):
        assert board.rate(person, aid, key, level, 0, comment).status_code == 200


def test_five_raters_show_counts_median_and_range_once_rating_closes(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_all(board, aid, key, [(1, ""), (3, ""), (3, ""), (2, ""), (3, "")])
    assert spread_of(board, aid, key)["shown"] is False
    assert board.close_rating(aid).status_code == 200
    item = spread_of(board, aid, key)
    assert item["rated"] == 5
    assert item["shown"] is True
    assert {c["level"]: c["count"] for c in item["counts"]} == {0: 0, 1: 1, 2: 1, 3: 3, 4: 0}
    assert item["not_yet_known"] == 0
    assert item["median"] == 3
    assert (item["low"], item["high"]) == (1, 3)


def test_not_yet_known_is_counted_apart_never_as_0(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    rate_all(board, aid, key, [(1, ""), (3, ""), (3, ""), (None, ""), (None, "")])
    board.rate(board.chair, aid, key, None)
    board.close_rating(aid)
    item = spread_of(board, aid, key)
    assert item["rated"] == 6
    assert item["counts"] == [
        {"level": 0, "count": 0},
        {"level": 1, "count": 1},
        {"level": 2, "count": 0},
        {"level": 3, "count": 2},
        {"level": 4, "count": 0},
    ]
    assert item["not_yet_known"] == 3
    assert item["median"] == 3
    assert (item["low"], item["high"]) == (1, 3)


def test_comments_shown_in_alphabetical_order_whoever_wrote_them_and_when(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    # Saved in an order that is neither alphabetical nor the members' order.
    board.rate(board.neds[1], aid, key, 2, 0, "cherry: the plan is not tracked")
    board.rate(board.neds[0], aid, key, 2, 0, "apple: appraisals cover it")
    board.rate(board.neds[2], aid, key, 2, 0, "Banana: objectives are vague")
    board.rate(board.neds[3], aid, key, 2, 0, "")
    board.rate(board.neds[4], aid, key, 2, 0, "   ")
    board.rate(board.chair, aid, key, 2, 0, "   ")
    board.close_rating(aid)
    # Alphabetical as a person reads it: the capital letter does not jump the queue.
    assert spread_of(board, aid, key)["comments"] == [
        "apple: appraisals cover it",
        "Banana: objectives are vague",
        "cherry: the plan is not tracked",
    ]


def test_spread_is_the_same_whoever_gave_which_rating_in_whatever_order(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    ned1, ned2, ned3, ned4, ned5, _ned6 = board.neds
    # Two boards' worth of the same answers: the second given by other members, in another order.
    board.rate(ned1, aid, key, 1, 0, "one")
    board.rate(ned2, aid, key, 3, 0, "three")
    board.rate(ned3, aid, key, 4, 0, "four")
    board.rate(ned4, aid, key, 2, 0, "two")
    board.rate(ned5, aid, key, 2, 0, "two")
    board.close_rating(aid)
    before = consensus(board, aid)
    with Session(board.engine) as session:
        # Swap who gave which answer, and give each row another version and time, directly.
        rows = {r.respondent_id: r for r in session.exec(select(Rating).where(Rating.assessment_id == aid))}
        swaps = {ned1.id: (4, "four"), ned3.id: (1, "one"), ned2.id: (2, "two"), ned4.id: (3, "three")}
        for respondent, (level, comment) in swaps.items():
            rows[respondent].level, rows[respondent].comment = level, comment
            rows[respondent].version += respondent
        session.commit()
    assert consensus(board, aid) == before


SPREAD_KEYS = {
    "criterion_key",
    "rated",
    "shown",
    "hidden_because",
    "late_rated",
    "counts",
    "not_yet_known",
    "median",
    "low",
    "high",
    "disagreement",
    "comments",
    "consensus",
    "kind",
    "answered_from_records",
}
CONSENSUS_KEYS = {"criterion_key", "level", "rationale", "shared", "version", "evidence"}
# carried_forward_from is a year (the cycle the item was carried from), never a person or a time.
EVIDENCE_KEYS = {"id", "kind", "title", "url", "content_type", "size_bytes", "carried_forward_from"}


def all_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def test_consensus_answer_names_nobody_and_has_no_times_or_member_versions(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    for number, person in enumerate(board.raters):
        for version in range(number + 1):  # each member's own rating reaches a different version
            assert board.rate(person, aid, key, number % 5, version, f"view {number}").status_code == 200
    board.close_rating(aid)
    board.agree(board.chair, aid, key, 2, 0, "We agreed 2")
    board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/links",
        json={"title": "Board paper", "url": "https://example.org/paper"},
        headers=board.secretary.headers,
    )
    response = board.get(f"/api/v1/assessments/{aid}/consensus", board.chair)
    assert response.status_code == 200
    for header in ("etag", "last-modified"):
        assert header not in response.headers
    body = response.json()
    for item in body:
        assert set(item) <= SPREAD_KEYS
        if item["consensus"]:
            assert set(item["consensus"]) <= CONSENSUS_KEYS
            for evidence in item["consensus"]["evidence"]:
                assert set(evidence) <= EVIDENCE_KEYS
    text = response.text.lower()
    for person in [*board.raters, board.secretary]:
        assert person.email.lower() not in text
        for part in person.name.lower().split():
            assert part not in text
    keys = all_keys(body)
    for word in (
        "respondent",
        "updated",
        "created",
        "added",
        "user",
        "email",
        "name",
        "author",
        "member",
        "time",
    ):
        assert not [k for k in keys if word in k.lower()], word
    assert not [k for k in keys if k.endswith(("_at", "_by", "_id", "_on"))]
    item = next(item for item in body if item["criterion_key"] == key)
    # The members' ratings reached versions 1 to 4: only the agreed rating's own version is there.
    assert item["consensus"]["version"] == 1
    assert json.dumps([{k: v for k, v in i.items() if k != "consensus"} for i in body]).count("version") == 0


def test_board_member_gets_403_for_consensus(board: Board, aid: int) -> None:
    assert board.get(f"/api/v1/assessments/{aid}/consensus", board.neds[0]).status_code == 403
    assert board.agree(board.neds[0], aid, board.criterion_keys[0], 2).status_code == 403
    assert query(board.engine, select(ConsensusRating)) == []


def test_board_secretary_sees_consensus(board: Board, aid: int) -> None:
    assert len(consensus(board, aid, board.secretary)) == len(board.criterion_keys)


def test_member_of_other_trust_gets_404_for_consensus(board: Board, aid: int) -> None:
    assert board.get(f"/api/v1/assessments/{aid}/consensus", board.other_chair).status_code == 404
    assert board.agree(board.other_chair, aid, board.criterion_keys[0], 2).status_code == 404
    assert query(board.engine, select(ConsensusRating)) == []


# --- Agreed ratings -----------------------------------------------------------------------------------


def test_consensus_is_versioned_and_each_change_audited_with_levels_and_actor(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    first = board.agree(board.chair, aid, key, 3, 0, "Evidence in the March paper")
    assert first.status_code == 200
    assert first.json() == {
        "criterion_key": key,
        "level": 3,
        "rationale": "Evidence in the March paper",
        "shared": False,
        "version": 1,
        "evidence": [],
    }
    second = board.agree(board.secretary, aid, key, 2, 1, "Revised after challenge")
    assert second.json()["version"] == 2 and second.json()["level"] == 2
    stale = board.agree(board.chair, aid, key, 4, 1)
    assert stale.status_code == 409
    assert stale.json()["current"] == {
        "level": 2,
        "rationale": "Revised after challenge",
        "shared": False,
        "version": 2,
    }
    (row,) = query(board.engine, select(ConsensusRating))
    assert (row.level, row.version, row.updated_by_id) == (2, 2, board.secretary.id)
    changed = events(board.engine, "consensus.changed")
    assert [(e.actor_id, e.details) for e in changed] == [
        (board.chair.id, {"criterion": key, "old_level": None, "new_level": 3}),
        (board.secretary.id, {"criterion": key, "old_level": 3, "new_level": 2}),
    ]
    assert changed[0].actor_email == board.chair.email
    assert all(e.organisation_id is not None and e.object_id == aid for e in changed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"level": 5, "rationale": "", "version": 0}, "level"),
        ({"level": None, "rationale": "", "version": 0}, "level"),
        ({"level": "two", "rationale": "", "version": 0}, "level"),
        ({"level": True, "rationale": "", "version": 0}, "level"),
        ({"level": "2", "rationale": "", "version": 0}, "level"),
        ({"level": 2, "rationale": ""}, "version"),
        ({"level": 2, "rationale": "x" * 5001, "version": 0}, "rationale"),
    ],
)
def test_invalid_consensus_answers_422_naming_field(board: Board, aid: int, body: dict, field: str) -> None:
    key = board.criterion_keys[0]
    response = board.client.put(
        f"/api/v1/assessments/{aid}/consensus/{key}", json=body, headers=board.chair.headers
    )
    assert response.status_code == 422
    assert field in fields(response)
    assert query(board.engine, select(ConsensusRating)) == []
    assert events(board.engine, "consensus.changed") == []


def test_consensus_for_unknown_criterion_answers_422(board: Board, aid: int) -> None:
    response = board.agree(board.chair, aid, "no-such-criterion", 2)
    assert response.status_code == 422
    assert fields(response) == ["criterion_key"]


def test_rating_audit_event_never_holds_the_level_or_comment(board: Board, aid: int) -> None:
    ned = board.neds[0]
    board.rate(ned, aid, board.criterion_keys[0], 3, 0, "zebra-crossing remark")
    board.rate(ned, aid, board.criterion_keys[0], 1, 1, "quixotic afterthought")
    put_headline(board, ned, aid, 9, 0)
    changed = events(board.engine, "rating.changed")
    assert len(changed) == 3
    for event in changed:
        text = json.dumps({"summary": event.summary, "details": event.details}).lower()
        for secret in ("zebra", "quixotic", "level", "score", "comment", "3", "1", "9"):
            assert secret not in text, (secret, text)
        assert event.actor_id == ned.id and event.object_id == aid


# --- Sign-off -----------------------------------------------------------------------------------------


def test_submit_refused_422_listing_every_criterion_without_agreed_level(board: Board, aid: int) -> None:
    response = board.submit(aid)
    assert response.status_code == 422
    assert response.json()["missing"] == board.criterion_keys
    assert PCREF not in response.json()["missing"]
    agreed, left = board.criterion_keys[:-2], board.criterion_keys[-2:]
    board.agree_all(aid, 2, agreed)
    # Evidence without an agreed level does not count as agreed.
    board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{left[0]}/links",
        json={"title": "A paper", "url": "https://example.org/a"},
        headers=board.chair.headers,
    )
    again = board.submit(aid)
    assert again.status_code == 422
    assert again.json()["missing"] == left
    assert get_row(board.engine, Assessment, aid).status == "in_progress"
    assert query(board.engine, select(StoredScore)) == []


def test_submit_after_all_agreed_records_signer_and_time(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    before = datetime.now().astimezone()
    response = board.submit(aid)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "submitted"
    submitted_at = datetime.fromisoformat(body["submitted_at"])
    assert submitted_at >= before
    stored = get_row(board.engine, Assessment, aid)
    assert stored.status == "submitted"
    assert stored.submitted_by_id == board.chair.id
    assert stored.submitted_at == submitted_at
    (event,) = events(board.engine, "assessment.submitted")
    assert event.actor_id == board.chair.id and event.object_id == aid


def test_submitting_again_returns_the_same_submission(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    first = board.submit(aid).json()
    second = board.submit(aid)
    assert second.status_code == 200
    assert second.json()["submitted_at"] == first["submitted_at"]
    assert second.json()["status"] == "submitted"
    assert len(events(board.engine, "assessment.submitted")) == 1


def test_only_the_chair_submits_others_get_403(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    assert board.submit(aid, board.neds[0]).status_code == 403
    assert board.submit(aid, board.secretary).status_code == 403
    assert board.submit(aid, board.other_chair).status_code == 404
    assert get_row(board.engine, Assessment, aid).status == "in_progress"


def test_after_submission_ratings_headline_and_consensus_answer_409(board: Board, aid: int) -> None:
    key = board.criterion_keys[0]
    ned = board.neds[0]
    board.rate(ned, aid, key, 2, 0, "before")
    put_headline(board, ned, aid, 6, 0)
    board.agree_all(aid, 2)
    assert board.submit(aid).status_code == 200
    assert board.rate(ned, aid, key, 4, 1, "after").status_code == 409
    assert board.rate(ned, aid, board.criterion_keys[1], 4, 0).status_code == 409
    assert board.rate(board.chair, aid, key, 4, 0).status_code == 409
    assert put_headline(board, ned, aid, 9, 1).status_code == 409
    assert board.agree(board.chair, aid, key, 4, 1).status_code == 409
    (rating,) = ratings_in(board.engine, aid)
    assert (rating.level, rating.comment, rating.version) == (2, "before", 1)
    assert one(board.engine, select(MemberResponse.headline_score)) == 6
    assert {(c.level, c.version) for c in query(board.engine, select(ConsensusRating))} == {(2, 1)}
    # Reading still works.
    assert board.get(f"/api/v1/assessments/{aid}/ratings", ned).status_code == 200
    assert len(consensus(board, aid)) == len(board.criterion_keys)


def test_scores_are_stored_at_submission(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    board.agree(board.chair, aid, board.criterion_keys[0], 4, 1)
    board.submit(aid)
    scores = {
        s.section_key: s
        for s in query(board.engine, select(StoredScore).where(StoredScore.assessment_id == aid))
    }
    assert "overall" in scores
    assert scores["overall"].kind == "overall"
    assert scores["overall"].count == 10
    assert scores["baf"].kind == "baf"
    assert scores["baf"].score == pytest.approx(2.0)
    first_section = scores["accountability"]
    assert first_section.kind == "priority"
    assert first_section.score == pytest.approx((4 + 2 * (first_section.count - 1)) / first_section.count)
    assert scores["overall"].score == pytest.approx((first_section.score + 9 * 2) / 10)
    assert len(scores) == 12  # ten priorities, the BAF and the overall maturity


def test_platform_admin_reopens_with_reason_audited(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    board.submit(aid)
    response = board.reopen(aid, "The chair signed off before the March board meeting")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"
    assert response.json()["submitted_at"] is None
    stored = get_row(board.engine, Assessment, aid)
    assert (stored.status, stored.submitted_at, stored.submitted_by_id) == ("in_progress", None, None)
    (event,) = events(board.engine, "assessment.reopened")
    assert event.details == {"reason": "The chair signed off before the March board meeting"}
    assert event.actor_id == board.admin.id and event.object_id == aid
    assert query(board.engine, select(StoredScore)) == []
    # Open again: the board can change its agreed levels and the chair can sign off again, but rating
    # stays closed (closing is final for the year: docs/anonymity.md).
    refused = board.rate(board.neds[0], aid, board.criterion_keys[0], 3)
    assert refused.status_code == 409 and "Rating has closed" in refused.text
    assert board.agree(board.chair, aid, board.criterion_keys[0], 3, 1).status_code == 200
    resubmitted = board.submit(aid)
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "submitted"
    assert len(events(board.engine, "assessment.submitted")) == 2


def test_chair_gets_403_reopening(board: Board, aid: int) -> None:
    board.agree_all(aid, 2)
    board.submit(aid)
    response = board.client.post(
        f"/api/v1/admin/assessments/{aid}/reopen", json={"reason": "Mistake"}, headers=board.chair.headers
    )
    assert response.status_code == 403
    assert get_row(board.engine, Assessment, aid).status == "submitted"


@pytest.mark.parametrize("reason", ["", "   "])
def test_reopening_without_reason_answers_422_naming_reason(board: Board, aid: int, reason: str) -> None:
    board.agree_all(aid, 2)
    board.submit(aid)
    response = board.reopen(aid, reason)
    assert response.status_code == 422
    assert fields(response) == ["reason"]
    assert get_row(board.engine, Assessment, aid).status == "submitted"
    assert events(board.engine, "assessment.reopened") == []


def test_reopening_an_assessment_not_submitted_answers_409(board: Board, aid: int) -> None:
    assert board.reopen(aid).status_code == 409
    assert board.reopen(aid + 1000).status_code == 404
