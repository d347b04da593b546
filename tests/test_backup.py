"""Backups: `python -m api backup FILE`, then `restore FILE` into an empty database, and the restored
service serves the same scores, evidence (the files' bytes too), audit log and sign-ins; a non-empty database is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from api.backup import table_count
from api.cli import app as cli_app
from api.main import create_app
from api.settings import Settings, get_settings
from tests.assessments.helpers import TRUST, Board, build_board, open_assessment
from tests.conftest import TEST_SECRET
from tests.databases import fresh_database
from tests.factories import PASSWORD, api_token, bearer

EVIDENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> Any:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, list(args))
    finally:
        get_settings.cache_clear()


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "restore") as url:
        yield url


def assess(board: Board) -> int:
    """An assessment with members' ratings, rating closed, every criterion agreed, a link as evidence."""
    aid = open_assessment(board)
    keys = board.criterion_keys
    for n, person in enumerate(board.raters):
        for key in keys[:4]:
            response = board.rate(person, aid, key, 1 + (n % 4), comment="Seen in the board minutes")
            assert response.status_code == 200, response.text
    assert board.close_rating(aid).status_code == 200
    for n, key in enumerate(keys):
        assert board.agree(board.chair, aid, key, 1 + n % 4, rationale="Agreed").status_code == 200
    link = board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{keys[0]}/links",
        json={"title": "WRES report", "url": "https://example.org/wres.pdf"},
        headers=board.chair.headers,
    )
    assert link.status_code == 201, link.text
    file = board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{keys[1]}/files",
        files={"file": ("Board minutes.pdf", EVIDENCE_PDF, "application/pdf")},
        headers=board.chair.headers,
    )
    assert file.status_code == 201, file.text
    return aid


def what_the_service_serves(client: TestClient, board: Board, aid: int) -> dict[str, Any]:
    def get(path: str, headers: dict[str, str]) -> Any:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    chair = board.chair.headers
    consensus = get(f"/api/v1/assessments/{aid}/consensus", chair)
    files = {}
    for item in consensus:
        for evidence in (item["consensus"] or {}).get("evidence", []):
            if evidence["kind"] == "file":
                download = client.get(f"/api/v1/assessments/{aid}/evidence/{evidence['id']}", headers=chair)
                assert download.status_code == 200, download.text
                files[evidence["id"]] = download.content
    return {
        "evidence files": files,
        "assessment": get(f"/api/v1/assessments/{aid}", chair),
        "scores": get(f"/api/v1/assessments/{aid}/scores", chair),
        "consensus": get(f"/api/v1/assessments/{aid}/consensus", chair),
        "own ratings": get(f"/api/v1/assessments/{aid}/ratings", board.neds[0].headers),
        "trust audit log": get(f"/api/v1/organisations/{TRUST}/audit", chair),
        "sign-ins": get(f"/api/v1/organisations/{TRUST}/audit?kind=sign_ins", chair),
        "platform audit log": get("/api/v1/admin/audit", board.admin.headers),
    }


def test_restored_database_serves_the_same_scores_evidence_files_audit_log_and_sign_ins(
    board: Board,
    client: TestClient,
    settings: Settings,
    database_url: str,
    empty_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aid = assess(board)
    # A password sign-in before the backup, so the log has one to keep.
    api_token(client, board.chair.email)
    before = what_the_service_serves(client, board, aid)
    assert before["scores"]["overall"] is not None
    assert before["sign-ins"]["total"] >= 1
    assert before["platform audit log"]["total"] > 20
    assert any(item["consensus"]["evidence"] for item in before["consensus"] if item["consensus"])
    assert list(before["evidence files"].values()) == [EVIDENCE_PDF]

    file = tmp_path / "backup.db"
    made = run_cli(monkeypatch, database_url, "backup", str(file))
    assert made.exit_code == 0, made.output
    assert "Backed up the database, evidence files included" in made.output

    assert table_count(empty_database) == 0
    restored = run_cli(monkeypatch, empty_database, "restore", str(file))
    assert restored.exit_code == 0, restored.output
    assert "Restored the database" in restored.output

    restored_app = create_app(settings.model_copy(update={"database_url": empty_database}))
    with TestClient(restored_app) as restored_client:
        # Tokens issued before the backup still work: the sessions came back too.
        assert what_the_service_serves(restored_client, board, aid) == before
        # People sign in with the passwords they had.
        token = api_token(restored_client, board.neds[1].email, PASSWORD)
        me = restored_client.get("/api/v1/me", headers=bearer(token))
        assert me.status_code == 200 and me.json()["email"] == board.neds[1].email
        wrong = restored_client.post(
            "/api/v1/auth/token", data={"username": board.neds[1].email, "password": "Not-the-password-1"}
        )
        assert wrong.status_code == 401


def test_restore_refuses_a_database_that_is_not_empty(
    board: Board, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "backup.db"
    assert run_cli(monkeypatch, database_url, "backup", str(file)).exit_code == 0
    refused = run_cli(monkeypatch, database_url, "restore", str(file))
    assert refused.exit_code == 1
    assert "already holds" in refused.output and "--replace" in refused.output


def test_restore_with_replace_puts_back_what_the_backup_held(
    board: Board,
    client: TestClient,
    settings: Settings,
    empty_database: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aid = open_assessment(board)
    file = tmp_path / "backup.db"
    assert run_cli(monkeypatch, database_url, "backup", str(file)).exit_code == 0
    # A database with something else in it: restored over, it holds the backup's assessment.
    from api.migrate import upgrade

    upgrade(empty_database)
    replaced = run_cli(monkeypatch, empty_database, "restore", "--replace", str(file))
    assert replaced.exit_code == 0, replaced.output
    with TestClient(create_app(settings.model_copy(update={"database_url": empty_database}))) as restored:
        response = restored.get(f"/api/v1/assessments/{aid}", headers=board.chair.headers)
        assert response.status_code == 200 and response.json()["id"] == aid


def test_backup_refuses_to_overwrite_a_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_database: Engine
) -> None:
    file = tmp_path / "backup.db"
    file.write_bytes(b"yesterday's backup")
    refused = run_cli(monkeypatch, database_url, "backup", str(file))
    assert refused.exit_code == 1 and "already exists" in refused.output
    assert file.read_bytes() == b"yesterday's backup"


def test_restore_refuses_a_file_that_is_not_a_backup(
    empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_database: Engine
) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a database")
    refused = run_cli(monkeypatch, empty_database, "restore", str(file))
    assert refused.exit_code == 1 and "neither a SQLite database nor a pg_dump" in refused.output
    assert table_count(empty_database) == 0
