"""A burst of more simultaneous requests than one worker has threads and connections never stalls it.

Before the connection gate (api.db.ConnectionGate), a worker whose 40 threads were all waiting for a
database connection, while every connection belonged to a request waiting for a thread to commit,
stopped answering until the pool timed out, then answered 500s. Here the pool is one connection with
a three-second timeout, so that failure shows at once; with the gate every request is answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.settings import Settings
from tests.assessments.helpers import Board, all_at_once, build_board, live_server, open_assessment

BURST = 60  # more than the thread pool (40) and the connection pool (1) together


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0, "database_pool_timeout": 3.0}
    )


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[str]:
    with live_server(app) as base_url:
        yield base_url


def test_burst_beyond_threads_and_connections_is_all_answered(board: Board, server: str) -> None:
    aid = open_assessment(board)
    key = board.criterion_keys[0]
    raters = board.raters

    def read(n: int):  # noqa: ANN202 - a call for all_at_once
        person = raters[n % len(raters)]
        return lambda http: http.get(f"/api/v1/assessments/{aid}/ratings", headers=person.headers)

    def save(n: int):  # noqa: ANN202
        person = raters[n % len(raters)]
        body = {"level": n % 5, "comment": f"burst {n}", "version": 0}
        return lambda http: http.put(
            f"/api/v1/assessments/{aid}/ratings/{key}", json=body, headers=person.headers
        )

    # Reads, and first answers from each rater (one wins per rater, the rest are told 409).
    calls = [save(n) if n < len(raters) * 2 else read(n) for n in range(BURST)]
    responses: list[httpx.Response] = all_at_once(server, calls)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, {s: n for s, n in statuses.items()}
    assert statuses[409] == len(raters), statuses
    for person in raters:
        mine = httpx.get(f"{server}/api/v1/assessments/{aid}/ratings", headers=person.headers, timeout=30)
        assert mine.status_code == 200
        assert [r["criterion_key"] for r in mine.json()] == [key]
