"""rendered_export (board reports and workbooks kept by the key of what they show) export_lock (one export at a time per person) and cached_response (sector and benchmark answers by the snapshots they came from)

Revision ID: 17ec69a335d0
Revises: 9c4e2f7a1b38
Create Date: 2026-12-06 13:57:30.838776+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db


revision: str = "17ec69a335d0"
down_revision: str | Sequence[str] | None = "9c4e2f7a1b38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cached_response",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cached_response")),
    )
    op.create_table(
        "export_lock",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("expires_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_export_lock_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_export_lock")),
    )
    op.create_table(
        "rendered_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content_version", sa.String(length=64), nullable=False),
        sa.Column("framework_version", sa.String(length=120), nullable=False),
        sa.Column("snapshot_batch", sa.String(length=80), nullable=False),
        sa.Column("viewer_part", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_rendered_export_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rendered_export")),
        sa.UniqueConstraint(
            "assessment_id",
            "kind",
            "content_version",
            "framework_version",
            "snapshot_batch",
            "viewer_part",
            name="uq_rendered_export_key",
        ),
    )
    with op.batch_alter_table("rendered_export", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rendered_export_assessment_id"), ["assessment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rendered_export", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rendered_export_assessment_id"))

    op.drop_table("rendered_export")
    op.drop_table("export_lock")
    op.drop_table("cached_response")
