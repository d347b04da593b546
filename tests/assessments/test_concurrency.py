"""Requests that really run at the same time, on a real server, with their own database connections.

The rules: no lost update (a stale or simultaneous save of the same answer gets 409), no 500 from a
conflict between transactions, nothing changes after sign-off, and an answer is stored before it is
sent, so the next request already sees it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, update
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Evidence, MemberResponse, Rating
from api.audit.models import AuditEvent
from api.frameworks.models import Criterion
from api.scoring.models import StoredScore
from api.settings import Settings
from tests.assessments.helpers import (
    TRUST,
    Board,
    Person,
    all_at_once,
    build_board,
    get_row,
    live_server,
    open_assessment,
    query,
)

Call = Callable[[httpx.Client], httpx.Response]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[str]:
    with live_server(app) as base_url:
        yield base_url


# --- Requests, as functions of a connection ---------------------------------------------------------


def rate(person: Person, aid: int, key: str, level: int | None, version: int, comment: str = "") -> Call:
    return lambda http: http.put(
        f"/api/v1/assessments/{aid}/ratings/{key}",
        json={"level": level, "comment": comment, "version": version},
        headers=person.headers,
    )


def headline(person: Person, aid: int, score: int, version: int) -> Call:
    return lambda http: http.put(
        f"/api/v1/assessments/{aid}/headline",
        json={"score": score, "version": version},
        headers=person.headers,
    )


def agree(person: Person, aid: int, key: str, level: int, version: int) -> Call:
    return lambda http: http.put(
        f"/api/v1/assessments/{aid}/consensus/{key}",
        json={"level": level, "rationale": f"level {level}", "version": version},
        headers=person.headers,
    )


def submit(person: Person, aid: int) -> Call:
    return lambda http: http.post(f"/api/v1/assessments/{aid}/submit", headers=person.headers)


def open_(person: Person) -> Call:
    return lambda http: http.post(
        f"/api/v1/organisations/{TRUST}/assessments", json={"cycle": "2026/27"}, headers=person.headers
    )


def link(person: Person, aid: int, key: str, title: str) -> Call:
    return lambda http: http.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/links",
        json={"title": title, "url": "https://example.org/" + title.replace(" ", "-")},
        headers=person.headers,
    )


def upload(person: Person, aid: int, key: str) -> Call:
    return lambda http: http.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/files",
        files={"file": ("paper.pdf", PDF, "application/pdf")},
        headers=person.headers,
    )


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


def my_rating(engine: Engine, aid: int, person: Person, key: str) -> Rating | None:
    rows = query(
        engine,
        select(Rating)
        .join(Criterion, Criterion.id == Rating.criterion_id)
        .where(Rating.assessment_id == aid, Rating.respondent_id == person.id, Criterion.key == key),
    )
    return rows[0] if rows else None


def assert_one_winner(responses: list[httpx.Response]) -> httpx.Response:
    codes = statuses(responses)
    assert sorted(codes) == [200] + [409] * (len(codes) - 1), [r.text for r in responses]
    return next(r for r in responses if r.status_code == 200)


# --- One member, several tabs -------------------------------------------------------------------------


def test_first_answer_from_three_tabs_at_once_one_saved_others_409(
    board: Board, aid: int, server: str
) -> None:
    ned = board.neds[0]
    for key in board.criterion_keys[:4]:
        responses = all_at_once(
            server, [rate(ned, aid, key, level, 0, f"tab {level}") for level in (1, 2, 3)]
        )
        winner = assert_one_winner(responses)
        row = my_rating(board.engine, aid, ned, key)
        assert row is not None
        assert (row.level, row.comment, row.version) == (winner.json()["level"], winner.json()["comment"], 1)
        for lost in (r for r in responses if r.status_code == 409):
            assert lost.json()["current"] == {"level": row.level, "comment": row.comment, "version": 1}


def test_one_member_saving_same_version_from_two_tabs_no_lost_update(
    board: Board, aid: int, server: str
) -> None:
    ned = board.neds[0]
    for key in board.criterion_keys[:5]:
        assert board.rate(ned, aid, key, 0, 0, "first").status_code == 200
        responses = all_at_once(
            server, [rate(ned, aid, key, 1, 1, "tab one"), rate(ned, aid, key, 4, 1, "tab two")]
        )
        winner = assert_one_winner(responses).json()
        assert winner["version"] == 2
        row = my_rating(board.engine, aid, ned, key)
        assert (row.level, row.comment, row.version) == (winner["level"], winner["comment"], 2)
        (lost,) = (r for r in responses if r.status_code == 409)
        assert lost.json()["current"] == {"level": row.level, "comment": row.comment, "version": 2}


def test_headline_from_two_tabs_at_once_no_lost_update(board: Board, aid: int, server: str) -> None:
    for ned in board.neds:
        # Usually a member has rated before answering the headline question.
        assert board.rate(ned, aid, board.criterion_keys[0], 2).status_code == 200
        responses = all_at_once(server, [headline(ned, aid, 3, 0), headline(ned, aid, 8, 0)])
        winner = assert_one_winner(responses).json()
        (row,) = query(board.engine, select(MemberResponse).where(MemberResponse.respondent_id == ned.id))
        assert row.headline_score == winner["score"]
        after = board.get(f"/api/v1/assessments/{aid}/headline", ned).json()
        assert after == winner
        responses = all_at_once(
            server, [headline(ned, aid, 1, after["version"]), headline(ned, aid, 10, after["version"])]
        )
        second = assert_one_winner(responses).json()
        assert board.get(f"/api/v1/assessments/{aid}/headline", ned).json() == second
        assert second["version"] == after["version"] + 1


def test_each_answer_is_stored_before_it_is_sent(board: Board, aid: int, server: str) -> None:
    """A member's autosaves follow one another: each uses the version the last answer gave."""
    ned = board.neds[0]
    key = board.criterion_keys[0]
    version = 0
    with httpx.Client(base_url=server, timeout=30) as http:
        for step in range(25):
            saved = rate(ned, aid, key, step % 5, version, f"draft {step}")(http)
            assert saved.status_code == 200, saved.text
            version = saved.json()["version"]
            mine = http.get(f"/api/v1/assessments/{aid}/ratings", headers=ned.headers).json()
            assert mine == [
                {"criterion_key": key, "level": step % 5, "comment": f"draft {step}", "version": version}
            ]
    assert version == 25


# --- Several members ------------------------------------------------------------------------------------


def test_members_saving_same_criterion_at_once_all_kept(board: Board, aid: int, server: str) -> None:
    for round_, key in enumerate(board.criterion_keys[:3]):
        levels = [(n + round_) % 5 for n in range(len(board.raters))]
        calls = [
            rate(person, aid, key, level, 0, f"view {level}")
            for person, level in zip(board.raters, levels, strict=True)
        ]
        responses = all_at_once(server, calls)
        assert statuses(responses) == [200] * len(calls), [r.text for r in responses]
        for person, level in zip(board.raters, levels, strict=True):
            row = my_rating(board.engine, aid, person, key)
            assert row is not None and (row.level, row.version) == (level, 1)
    assert board.close_rating(aid).status_code == 200
    for round_, key in enumerate(board.criterion_keys[:3]):
        levels = [(n + round_) % 5 for n in range(len(board.raters))]
        item = next(
            i
            for i in board.get(f"/api/v1/assessments/{aid}/consensus", board.chair).json()
            if i["criterion_key"] == key
        )
        assert item["rated"] == len(board.raters)
        assert {c["level"]: c["count"] for c in item["counts"]} == {n: Counter(levels)[n] for n in range(5)}


def test_agreed_rating_saved_by_chair_and_secretary_at_once_one_wins(
    board: Board, aid: int, server: str
) -> None:
    for key in board.criterion_keys[:3]:
        for version in (0, 1):
            responses = all_at_once(
                server,
                [agree(board.chair, aid, key, 1, version), agree(board.secretary, aid, key, 3, version)],
            )
            winner = assert_one_winner(responses).json()
            (row,) = query(
                board.engine,
                select(ConsensusRating)
                .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
                .where(ConsensusRating.assessment_id == aid, Criterion.key == key),
            )
            assert (row.level, row.version) == (winner["level"], version + 1)
            if version == 1:
                (lost,) = (r for r in responses if r.status_code == 409)
                assert lost.json()["current"]["level"] == row.level


def test_opening_at_once_by_chair_and_secretary_opens_one(board: Board, server: str) -> None:
    responses = all_at_once(server, [open_(board.chair), open_(board.secretary), open_(board.chair)])
    codes = statuses(responses)
    assert sorted(codes) == [201, 409, 409], [r.text for r in responses]
    opened = next(r for r in responses if r.status_code == 201).json()["id"]
    assert all(r.json()["assessment_id"] == opened for r in responses if r.status_code == 409)
    assert [a.id for a in query(board.engine, select(Assessment))] == [opened]


def test_evidence_added_at_once_all_kept(board: Board, aid: int, server: str) -> None:
    for key in board.criterion_keys[:3]:
        calls = [
            link(board.chair, aid, key, "chair paper"),
            link(board.secretary, aid, key, "secretary paper"),
            upload(board.secretary, aid, key),
        ]
        responses = all_at_once(server, calls)
        assert statuses(responses) == [201, 201, 201], [r.text for r in responses]
    consensus_rows = query(board.engine, select(ConsensusRating))
    assert len(consensus_rows) == 3
    assert len(query(board.engine, select(Evidence))) == 9


def test_evidence_and_agreed_rating_at_once_never_500(board: Board, aid: int, server: str) -> None:
    for key in board.criterion_keys[:4]:
        responses = all_at_once(
            server,
            [
                agree(board.chair, aid, key, 2, 0),
                link(board.secretary, aid, key, "paper"),
                upload(board.chair, aid, key),
            ],
        )
        codes = statuses(responses)
        assert codes[1:] == [201, 201], [r.text for r in responses]
        assert codes[0] in (200, 409), responses[0].text
        (row,) = query(
            board.engine,
            select(ConsensusRating)
            .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
            .where(Criterion.key == key),
        )
        if codes[0] == 200:
            assert row.level == 2
        else:
            # The evidence created the agreed rating first, with no level: the 409 says so.
            assert row.level is None and responses[0].json()["current"]["level"] is None


# --- Sign-off ---------------------------------------------------------------------------------------------


def test_submitting_twice_at_once_returns_one_submission(board: Board, aid: int, server: str) -> None:
    board.agree_all(aid, 2)
    for round_ in range(3):
        responses = all_at_once(server, [submit(board.chair, aid)] * 3)
        assert statuses(responses) == [200, 200, 200], [r.text for r in responses]
        assert len({r.json()["submitted_at"] for r in responses}) == 1
        stored = get_row(board.engine, Assessment, aid)
        assert stored.status == "submitted"
        assert stored.submitted_at == datetime.fromisoformat(responses[0].json()["submitted_at"])
        submitted = query(board.engine, select(AuditEvent).where(AuditEvent.action == "assessment.submitted"))
        assert len(submitted) == round_ + 1
        assert len(query(board.engine, select(StoredScore).where(StoredScore.assessment_id == aid))) == 12
        assert board.reopen(aid).status_code == 200


def test_submission_racing_a_rating_nothing_changes_after_sign_off(
    board: Board, aid: int, server: str
) -> None:
    ned = board.neds[0]
    board.agree_all(aid, 2)
    existing_key = board.criterion_keys[0]
    assert board.rate(ned, aid, existing_key, 1).status_code == 200
    outcomes = Counter()
    for round_ in range(10):
        if round_:
            assert board.reopen(aid).status_code == 200
            # Signing off closed rating for good; open it again behind the service's back, so that
            # each round races a member's save against the sign-off.
            with board.engine.begin() as connection:
                connection.execute(update(Assessment).values(rating_closed_at=None, rating_closed_by_id=None))
        key = existing_key if round_ % 2 else board.criterion_keys[round_ + 1]
        before = my_rating(board.engine, aid, ned, key)
        version = before.version if before else 0
        level = round_ % 5
        signed, saved = all_at_once(
            server, [submit(board.chair, aid), rate(ned, aid, key, level, version, f"round {round_}")]
        )
        assert signed.status_code == 200, signed.text
        assert saved.status_code in (200, 409), saved.text
        outcomes[saved.status_code] += 1
        assessment = get_row(board.engine, Assessment, aid)
        assert assessment.status == "submitted"
        assert signed.json()["status"] == "submitted"
        after = my_rating(board.engine, aid, ned, key)
        if saved.status_code == 200:
            # Saved before the sign-off: it is in the signed-off assessment.
            assert after is not None and (after.level, after.version) == (level, version + 1)
            assert after.updated_at <= assessment.submitted_at
        else:
            assert saved.json()["status"] == "submitted"
            if before is None:
                assert after is None
            else:
                assert (after.level, after.comment, after.version, after.updated_at) == (
                    before.level,
                    before.comment,
                    before.version,
                    before.updated_at,
                )
        late = [
            r
            for r in query(board.engine, select(Rating).where(Rating.assessment_id == aid))
            if r.updated_at > assessment.submitted_at
        ]
        assert late == []
    assert sum(outcomes.values()) == 10


def test_submission_racing_an_agreed_rating_scores_match_what_was_kept(
    board: Board, aid: int, server: str
) -> None:
    board.agree_all(aid, 2)
    key = board.criterion_keys[0]  # in the first priority section, "accountability"
    for round_ in range(6):
        if round_:
            assert board.reopen(aid).status_code == 200
        (row,) = query(
            board.engine,
            select(ConsensusRating)
            .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
            .where(Criterion.key == key),
        )
        new_level = 4 if row.level != 4 else 0
        signed, changed = all_at_once(
            server, [submit(board.chair, aid), agree(board.secretary, aid, key, new_level, row.version)]
        )
        assert signed.status_code == 200, signed.text
        assert changed.status_code in (200, 409), changed.text
        (kept,) = query(
            board.engine,
            select(ConsensusRating)
            .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
            .where(Criterion.key == key),
        )
        assert kept.level == (new_level if changed.status_code == 200 else row.level)
        levels = [
            c.level
            for c, criterion in query(
                board.engine,
                select(ConsensusRating, Criterion)
                .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
                .where(ConsensusRating.assessment_id == aid, Criterion.key.startswith("accountability-")),
            )
        ]
        (score,) = query(
            board.engine,
            select(StoredScore).where(
                StoredScore.assessment_id == aid, StoredScore.section_key == "accountability"
            ),
        )
        assert score.score == pytest.approx(sum(levels) / len(levels))


def test_file_upload_racing_a_submission_never_hangs_or_500(board: Board, aid: int, server: str) -> None:
    board.agree_all(aid, 2)
    key = board.criterion_keys[0]
    for round_ in range(6):
        if round_:
            assert board.reopen(aid).status_code == 200
        count_before = len(query(board.engine, select(Evidence)))
        signed, added = all_at_once(server, [submit(board.chair, aid), upload(board.secretary, aid, key)])
        assert signed.status_code == 200, signed.text
        assert added.status_code in (201, 409), added.text
        assert len(query(board.engine, select(Evidence))) == count_before + (added.status_code == 201)


# --- One transaction, answered after it commits ---------------------------------------------------------


def test_write_whose_commit_fails_is_never_answered_as_saved(board: Board, aid: int, app: FastAPI) -> None:
    """The change and its audit event commit together, before the answer: a failed commit is no 200."""
    ned = board.neds[0]
    key = board.criterion_keys[0]

    def refuse_commit(_connection: object) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(app.state.engine, "commit", refuse_commit)
    try:
        with TestClient(app, raise_server_exceptions=False) as failing:
            response = failing.put(
                f"/api/v1/assessments/{aid}/ratings/{key}",
                json={"level": 3, "comment": "lost", "version": 0},
                headers=ned.headers,
            )
    finally:
        event.remove(app.state.engine, "commit", refuse_commit)
    assert response.status_code == 500
    assert my_rating(board.engine, aid, ned, key) is None
    assert query(board.engine, select(AuditEvent).where(AuditEvent.action == "rating.changed")) == []
