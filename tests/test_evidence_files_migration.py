"""The migration that moves evidence files from UPLOAD_DIR into the database: a file and its row made at
the previous revision are served, byte for byte, after the upgrade; a missing file stops it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.db import make_engine
from api.main import create_app
from api.migrate import downgrade, upgrade
from api.settings import Settings
from tests.assessments.helpers import Board, build_board, open_assessment
from tests.conftest import load_reference_data
from tests.databases import fresh_database

BEFORE = "1748f67e0478"  # the revision before evidence files were in the database
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@dataclass
class OldWorld:
    url: str
    engine: Engine
    settings: Settings
    board: Board
    aid: int
    uploads: Path


@pytest.fixture
def old_world(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OldWorld]:
    """A database with a board and an assessment, taken back to the revision before this one."""
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("UPLOAD_DIR", str(uploads))
    with fresh_database(tmp_path, "evmig") as url:
        upgrade(url)
        engine = make_engine(url, sqlite_immediate=False)
        load_reference_data(engine)
        world_settings = settings.model_copy(update={"database_url": url})
        app = create_app(world_settings)
        with TestClient(app) as client, Session(engine) as db:
            board = build_board(db, client, engine, world_settings)
            aid = open_assessment(board)
            # A link makes the consensus row the files are added to.
            link = client.post(
                f"/api/v1/assessments/{aid}/consensus/{board.criterion_keys[0]}/links",
                json={"title": "WRES report", "url": "https://example.org/wres.pdf"},
                headers=board.chair.headers,
            )
            assert link.status_code == 201, link.text
        app.state.engine.dispose()
        downgrade(url, BEFORE)
        try:
            yield OldWorld(url, engine, world_settings, board, aid, uploads)
        finally:
            engine.dispose()


def add_old_file(world: OldWorld, stored_name: str, title: str, data: bytes | None) -> int:
    """An evidence file as the previous revision kept it: the row, and the file under UPLOAD_DIR."""
    with world.engine.begin() as connection:
        consensus_id = connection.execute(
            text("SELECT id FROM consensus_rating WHERE assessment_id = :aid"), {"aid": world.aid}
        ).scalar_one()
        evidence_id = connection.execute(
            text(
                "INSERT INTO evidence (consensus_rating_id, kind, title, stored_name, content_type, "
                "size_bytes, created_at) VALUES (:c, 'file', :title, :name, 'application/pdf', :size, "
                "CURRENT_TIMESTAMP) RETURNING id"
            ),
            {"c": consensus_id, "title": title, "name": stored_name, "size": len(data or b"")},
        ).scalar_one()
    if data is not None:
        world.uploads.mkdir(parents=True, exist_ok=True)
        (world.uploads / stored_name).write_bytes(data)
    return evidence_id


def download(world: OldWorld, evidence_id: int) -> tuple[int, bytes]:
    app = create_app(world.settings)
    with TestClient(app) as client:
        response = client.get(
            f"/api/v1/assessments/{world.aid}/evidence/{evidence_id}", headers=world.board.chair.headers
        )
    app.state.engine.dispose()
    return response.status_code, response.content


def test_files_kept_in_upload_dir_are_served_from_the_database_after_the_upgrade(
    old_world: OldWorld,
) -> None:
    pdf_id = add_old_file(old_world, "0a1b2c3d.pdf", "Board minutes.pdf", PDF)
    png_id = add_old_file(old_world, "4e5f6a7b.png", "Chart.png", PNG)
    # A copy carried forward to another year shared its file: each row gets the bytes.
    copy_id = add_old_file(old_world, "0a1b2c3d.pdf", "Board minutes.pdf (2025/26)", PDF)

    upgrade(old_world.url)

    assert download(old_world, pdf_id) == (200, PDF)
    assert download(old_world, png_id) == (200, PNG)
    assert download(old_world, copy_id) == (200, PDF)
    # Served from the database: the folder can go.
    for file in old_world.uploads.iterdir():
        file.unlink()
    assert download(old_world, png_id) == (200, PNG)


def test_downgrade_writes_the_files_back_to_upload_dir(old_world: OldWorld) -> None:
    evidence_id = add_old_file(old_world, "5d6e7f80.png", "Chart.png", PNG)
    upgrade(old_world.url)
    (old_world.uploads / "5d6e7f80.png").unlink()

    downgrade(old_world.url, BEFORE)

    assert (old_world.uploads / "5d6e7f80.png").read_bytes() == PNG
    upgrade(old_world.url)
    assert download(old_world, evidence_id) == (200, PNG)


def test_a_file_missing_from_upload_dir_stops_the_upgrade_unless_told_to_skip(
    old_world: OldWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = add_old_file(old_world, "11223344.pdf", "Kept.pdf", PDF)
    lost = add_old_file(old_world, "99887766.pdf", "Lost.pdf", None)

    with pytest.raises(RuntimeError, match="99887766.pdf") as refused:
        upgrade(old_world.url)
    assert "UPLOAD_DIR" in str(refused.value)
    with old_world.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == BEFORE

    monkeypatch.setenv("MIGRATE_MISSING_EVIDENCE_FILES", "skip")
    upgrade(old_world.url)
    assert download(old_world, kept) == (200, PDF)
    assert download(old_world, lost)[0] == 404
