"""Heatmap and benchmark answers kept in the database by the snapshots they were computed from.

Between two snapshot refreshes a read is not computed again: the kept answer is found with one
statement (the only one that reads peer_snapshot). A refresh that takes in a new submission, or the
trust's own sign-off, is seen by the very next read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from api.assessments.models import Cycle
from api.benchmarking import routes as benchmarking_routes
from api.sector import routes as sector_routes
from tests.benchmarking.test_benchmark_api import _benchmark, _north_west
from tests.benchmarking.test_benchmark_api import _submit as submit_with_overall
from tests.factories import api_token, api_token_with_second_factor, make_cycle, make_user
from tests.sector.test_heatmap import _heatmap, _refresh, _submit, _trusts


@pytest.fixture
def cycle(db: Session) -> Cycle:
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    return make_cycle(db)


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = client.app.state.engine  # type: ignore[attr-defined]

    def before(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(module, name)

    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return calls


def test_a_heatmap_read_between_refreshes_is_one_statement_and_not_computed_again(
    client: TestClient, db: Session, cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = counting(monkeypatch, sector_routes, "heatmap")
    acute = _trusts(db, "acute")
    for organisation in acute[:10]:
        _submit(db, cycle, organisation, 1.0)
    _refresh(db, cycle)
    token = api_token_with_second_factor(client, db, "analyst@np.example.org")
    first = _heatmap(client, token)
    assert len(computed) == 1
    with statements(client) as seen:
        second = _heatmap(client, token)
    assert second == first
    assert len(computed) == 1
    peers = [s for s in seen if "peer_snapshot" in s]
    assert len(peers) == 1 and "cached_response" in peers[0], seen
    # Another breakdown is its own answer.
    _heatmap(client, token, by="region")
    assert len(computed) == 2
    # Five more acute trusts sign off and the batch refresh takes them in: the next read sees it.
    for organisation in acute[10:15]:
        _submit(db, cycle, organisation, 4.0)
    _refresh(db, cycle)
    after = _heatmap(client, token)
    assert len(computed) == 3
    assert after != first


def test_a_benchmark_read_between_refreshes_is_not_computed_again_and_a_sign_off_is_seen(
    client: TestClient, db: Session, cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = counting(monkeypatch, benchmarking_routes, "benchmark")
    trusts = _north_west(db)
    for n, organisation in enumerate(trusts[1:7]):
        submit_with_overall(db, cycle, organisation, 1.0 + n * 0.5)
    _refresh(db, cycle)
    own = submit_with_overall(db, cycle, trusts[0], 2.0, status="in_progress")
    make_user(db, "chair@own.example.org", role="chair", trust=trusts[0].ods_code)
    token = api_token(client, "chair@own.example.org")
    first = _benchmark(client, token, own)
    assert {s["own"] for s in first["sections"]} == {None}
    with statements(client) as seen:
        assert _benchmark(client, token, own) == first
    assert len(computed) == 1
    assert len([s for s in seen if "peer_snapshot" in s]) == 1
    # The board signs off (the assessment's status and version change): its own figures appear.
    from api.scoring.models import OVERALL_KEY, StoredScore

    own.status, own.version = "submitted", own.version + 1
    db.add(own)
    for key, kind in ((OVERALL_KEY, "overall"), ("accountability", "priority")):
        db.add(StoredScore(assessment_id=own.id, section_key=key, kind=kind, score=2.0, count=1))
    db.commit()
    signed = _benchmark(client, token, own)
    assert len(computed) == 2
    own_figures = {s["key"]: s["own"] for s in signed["sections"]}
    assert own_figures[OVERALL_KEY] == own_figures["accountability"] == 2.0
