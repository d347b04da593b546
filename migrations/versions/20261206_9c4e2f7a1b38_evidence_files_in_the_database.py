"""evidence files in the database: evidence_file_content, filled from UPLOAD_DIR

Revision ID: 9c4e2f7a1b38
Revises: 1748f67e0478
Create Date: 2026-12-06 14:10:00+00:00

Uploaded evidence files were kept on each instance's disk under UPLOAD_DIR; from here their bytes
are in the database, one row per file evidence, so every instance serves the same file and a
backup holds them. The upgrade reads each file evidence's file from UPLOAD_DIR (the setting it was
kept under: the UPLOAD_DIR environment variable, else var/uploads) and stores it. A file that is
not there stops the upgrade, naming it, so a missing volume is noticed before anything is lost;
MIGRATE_MISSING_EVIDENCE_FILES=skip upgrades anyway (those evidence rows then have no file to
download). The files are left where they were: delete the folder once the service serves them.

On PostgreSQL the bytes are stored uncompressed (STORAGE EXTERNAL: PDFs, images and Office files
are compressed already), so a download reads each piece of the file without unpacking the rest.

The downgrade writes every stored file back to UPLOAD_DIR under its generated name.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "9c4e2f7a1b38"
down_revision: str | Sequence[str] | None = "1748f67e0478"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROJECT_ROOT = Path(__file__).resolve().parents[2]

evidence = sa.table(
    "evidence",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("stored_name", sa.String),
)
content = sa.table(
    "evidence_file_content",
    sa.column("evidence_id", sa.Integer),
    sa.column("data", sa.LargeBinary),
)


def upload_dir() -> Path:
    return Path(os.environ.get("UPLOAD_DIR") or PROJECT_ROOT / "var" / "uploads")


def upgrade() -> None:
    op.create_table(
        "evidence_file_content",
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_file_content_evidence_id_evidence"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_evidence_file_content")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE evidence_file_content ALTER COLUMN data SET STORAGE EXTERNAL")

    folder = upload_dir()
    rows = bind.execute(
        sa.select(evidence.c.id, evidence.c.stored_name)
        .where(evidence.c.kind == "file", evidence.c.stored_name.is_not(None))
        .order_by(evidence.c.id)
    ).all()
    missing = {name for _id, name in rows if not (folder / name).is_file()}
    if missing and os.environ.get("MIGRATE_MISSING_EVIDENCE_FILES") != "skip":
        shown = ", ".join(sorted(missing)[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise RuntimeError(
            f"{len(missing)} evidence files are not in UPLOAD_DIR ({folder}): {shown}. Set UPLOAD_DIR "
            "to the folder that holds them, or MIGRATE_MISSING_EVIDENCE_FILES=skip to upgrade without them"
        )
    for evidence_id, name in rows:
        if name in missing:
            continue
        # One file in memory at a time (at most 10 MB); copies carried forward each get their own row.
        bind.execute(content.insert().values(evidence_id=evidence_id, data=(folder / name).read_bytes()))


def downgrade() -> None:
    bind = op.get_bind()
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ids = bind.execute(
        sa.select(evidence.c.id, evidence.c.stored_name)
        .join(content, content.c.evidence_id == evidence.c.id)
        .order_by(evidence.c.id)
    ).all()
    for evidence_id, name in ids:
        path = folder / name
        if path.exists():
            continue
        data = bind.execute(
            sa.select(content.c.data).where(content.c.evidence_id == evidence_id)
        ).scalar_one()
        path.write_bytes(data)
    op.drop_table("evidence_file_content")
