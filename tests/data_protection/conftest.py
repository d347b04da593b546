"""A board whose members have rated (for the data-protection tests): RCF's seven raters each rate the
first three criteria with a comment and answer the headline question; rating is closed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.settings import Settings
from tests.assessments.helpers import Board, build_board, open_assessment

RATED_KEYS = 3


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def rated(board: Board) -> int:
    assessment_id = open_assessment(board)
    for n, person in enumerate(board.raters):
        for key in board.criterion_keys[:RATED_KEYS]:
            level = (n + len(key)) % 5
            response = board.rate(
                person, assessment_id, key, level, comment=f"Comment from rater {n} on {key}"
            )
            assert response.status_code == 200, response.text
        response = board.client.put(
            f"/api/v1/assessments/{assessment_id}/headline",
            json={"score": 3 + n, "version": 0},
            headers=person.headers,
        )
        assert response.status_code == 200, response.text
    assert board.close_rating(assessment_id).status_code == 200
    return assessment_id
