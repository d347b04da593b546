"""Autosave is the busiest write of the year: a changed answer costs four SQL statements.

The bearer token with its person and memberships, the assessment under its share lock (with its
cycle in the same statement: has the year closed?), the compare-and-set of the rating, the audit event (plus the transaction's own BEGIN and COMMIT, and
the pool's liveness ping). One more is an N+1 creeping back into the hot path (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session

from api.settings import Settings
from tests.assessments.helpers import build_board, open_assessment

BOOKKEEPING = ("BEGIN", "COMMIT", "ROLLBACK", "SELECT 1", "PRAGMA", "SAVEPOINT", "RELEASE")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
        if not statement.lstrip().upper().startswith(BOOKKEEPING):
            seen.append(" ".join(statement.split())[:120])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_changing_an_answer_is_four_statements(
    db: Session, client: TestClient, clean_database: Engine, settings: Settings
) -> None:
    board = build_board(db, client, clean_database, settings)
    aid = open_assessment(board)
    ned, key = board.neds[0], board.criterion_keys[0]
    first = board.rate(ned, aid, key, 2, 0, "first thoughts")
    assert first.status_code == 200, first.text

    app_engine = client.app.state.engine  # type: ignore[attr-defined]
    with statements(app_engine) as seen:
        changed = board.rate(ned, aid, key, 3, first.json()["version"], "on reflection")
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    assert len(seen) == 4, "\n".join(seen)
    assert seen[0].startswith("SELECT user_account."), seen[0]
    assert seen[2].startswith("UPDATE rating SET"), seen[2]
    assert seen[3].startswith("INSERT INTO audit_event"), seen[3]
