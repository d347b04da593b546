"""Rendered board reports and workbooks kept in the database, and one export at a time per person.

A repeated download of an unchanged assessment is not rendered again (the app's `render_pool.renders`
counts renders); a change to what the file shows renders it again; two people who may see different
spreads never share a file; a second export while one is in progress answers 429 (the lock is a
database row, so it holds across instances of the service).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.assessments.models import ConsensusRating, Rating
from api.db import utcnow
from api.reports.cache import purge_rendered
from api.reports.models import ExportLock, RenderedExport
from tests.factories import api_token, bearer, sign_in
from tests.reports.test_exports import EXPORTS, ExportsBoard, build_exports_board, open_workbook


@pytest.fixture
def board(db: Session) -> ExportsBoard:
    return build_exports_board(db)


def renders(client: TestClient) -> int:
    return client.app.state.render_pool.renders  # type: ignore[attr-defined]


def get(client: TestClient, board: ExportsBoard, export: str, token: str):  # noqa: ANN201
    return client.get(
        f"/api/v1/assessments/{board.assessment_id}/{EXPORTS[export][0]}", headers=bearer(token)
    )


@pytest.mark.parametrize("export", ["board_report", "workbook"])
def test_a_second_download_of_an_unchanged_assessment_is_not_rendered_again(
    client: TestClient, board: ExportsBoard, db: Session, export: str
) -> None:
    token = api_token(client, board.chair.email)
    first = get(client, board, export, token)
    assert first.status_code == 200, first.text
    assert renders(client) == 1
    second = get(client, board, export, token)
    assert second.status_code == 200
    assert renders(client) == 1
    assert second.content == first.content
    assert second.headers["content-disposition"] == first.headers["content-disposition"]
    assert db.exec(select(RenderedExport.kind)).all() == [export]
    # The lock was let go once the file was sent.
    assert db.exec(select(ExportLock)).all() == []


@pytest.mark.parametrize("export", ["board_report", "workbook"])
def test_a_change_to_the_assessment_renders_the_file_again(
    client: TestClient, board: ExportsBoard, db: Session, export: str
) -> None:
    token = api_token(client, board.chair.email)
    assert get(client, board, export, token).status_code == 200
    # The board changes its agreed rationale (as the service does: compare-and-set bumps version).
    consensus = db.exec(select(ConsensusRating).where(ConsensusRating.rationale == "Strong")).one()
    consensus.rationale, consensus.version = "Strong, with the network's minutes", consensus.version + 1
    db.add(consensus)
    db.commit()
    changed = get(client, board, export, token)
    assert changed.status_code == 200
    assert renders(client) == 2
    if export == "workbook":
        assert "Strong, with the network's minutes" in [
            c.value for row in open_workbook(changed.content)["Consensus"].iter_rows() for c in row
        ]
    # Only the file for the new content is kept.
    assert len(db.exec(select(RenderedExport)).all()) == 1
    get(client, board, export, token)
    assert renders(client) == 2


def test_people_who_may_see_different_spreads_never_share_a_file(
    client: TestClient, board: ExportsBoard, db: Session
) -> None:
    # Exactly MIN_OTHER_RATERS (5) members rate the fourth criterion: the chair and four NEDs. The
    # chair then has only four others (hidden to them); the fifth NED, who did not rate it, has five.
    fourth = board.criteria[3]
    for member in [board.chair, *board.neds[:4]]:
        db.add(
            Rating(
                assessment_id=board.assessment_id, respondent_id=member.id, criterion_id=fourth.id, level=2
            )
        )
    db.commit()

    def spread_row(content: bytes) -> tuple:
        rows = open_workbook(content)["Rating spread"].iter_rows(min_row=2, values_only=True)
        return next(row for row in rows if row[1] == fourth.key)

    chair = get(client, board, "workbook", api_token(client, board.chair.email))
    assert spread_row(chair.content)[4:9] == (None, None, None, None, None)
    assert renders(client) == 1
    not_rated = get(client, board, "workbook", api_token(client, board.neds[4].email))
    assert spread_row(not_rated.content)[4:9] == (0, 0, 5, 0, 0)
    assert renders(client) == 2
    # A NED who rated it sees what the chair sees: the chair's file, not rendered again.
    rated = get(client, board, "workbook", api_token(client, board.neds[0].email))
    assert renders(client) == 2
    assert spread_row(rated.content)[4:9] == (None, None, None, None, None)


def test_a_second_export_while_one_is_in_progress_answers_429(
    client: TestClient, board: ExportsBoard, db: Session
) -> None:
    # Another instance of the service is rendering an export for the chair: its lock row.
    db.add(ExportLock(user_id=board.chair.id, token="x" * 32, expires_at=utcnow() + timedelta(minutes=1)))
    db.commit()
    token = api_token(client, board.chair.email)
    refused = get(client, board, "board_report", token)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "5"
    assert "being prepared" in refused.json()["detail"]
    assert renders(client) == 0
    # Someone else on the board is not held up by the chair's export.
    assert get(client, board, "board_report", api_token(client, board.neds[0].email)).status_code == 200
    # The page says so, in plain words.
    sign_in(client, board.chair.email)
    page = client.get(f"/assessments/{board.assessment_id}/{EXPORTS['workbook'][1]}")
    assert page.status_code == 429
    assert page.headers["retry-after"] == "5"
    assert "Your report is being prepared" in page.text
    assert f'href="/assessments/{board.assessment_id}/results"' in page.text
    # The CSV is built in the request, with no lock.
    assert client.get(f"/assessments/{board.assessment_id}/{EXPORTS['consensus_csv'][1]}").status_code == 200
    # Once the other export's lock has expired (its process died), the chair may export again.
    lock = db.get(ExportLock, board.chair.id)
    assert lock is not None
    lock.expires_at = utcnow() - timedelta(seconds=1)
    db.add(lock)
    db.commit()
    assert get(client, board, "workbook", token).status_code == 200
    assert renders(client) == 2
    db.expire_all()
    assert db.exec(select(ExportLock)).all() == []


def test_a_repeated_download_is_still_recorded_in_the_audit_log(
    client: TestClient, board: ExportsBoard, db: Session
) -> None:
    from api.audit.models import AuditEvent

    token = api_token(client, board.chair.email)
    get(client, board, "board_report", token)
    get(client, board, "board_report", token)
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "export.downloaded")).all()
    assert len(events) == 2


def test_purge_deletes_files_kept_for_more_than_a_week(
    client: TestClient, board: ExportsBoard, db: Session
) -> None:
    get(client, board, "board_report", api_token(client, board.chair.email))
    assert purge_rendered(db, utcnow() + timedelta(days=6)) == 0
    assert purge_rendered(db, utcnow() + timedelta(days=8)) == 1
    db.commit()
    assert db.exec(select(RenderedExport)).all() == []


def test_a_render_process_that_died_is_replaced(client: TestClient, board: ExportsBoard) -> None:
    import os
    import signal
    import time

    token = api_token(client, board.chair.email)
    assert get(client, board, "workbook", token).status_code == 200
    pool = client.app.state.render_pool  # type: ignore[attr-defined]
    processes = list(pool._executor._processes.values())
    assert processes
    for process in processes:
        os.kill(process.pid, signal.SIGKILL)
    for process in processes:
        process.join(timeout=10)
    time.sleep(0.5)
    # The board report has never been rendered: it needs the pool, which now has a dead process.
    assert get(client, board, "board_report", token).status_code == 200
    assert renders(client) == 2
