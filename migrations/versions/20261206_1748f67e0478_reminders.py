"""reminders: a chair's or secretary's reminder (one per member per UK day) and the daily command's
(each kind once per member per assessment)

Revision ID: 1748f67e0478
Revises: a17f2c4e8b90
Create Date: 2026-12-06 13:57:34.074697+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import api.db

revision: str = "1748f67e0478"
down_revision: str | Sequence[str] | None = "a17f2c4e8b90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_reminder_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"],
            ["user_account.id"],
            name=op.f("fk_reminder_sent_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_reminder_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint(
            "assessment_id", "user_id", "sent_on", name=op.f("uq_reminder_assessment_id_user_id_sent_on")
        ),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_user_id"), ["user_id"], unique=False)

    op.create_table(
        "scheduled_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('closing_14', 'closing_7', 'closing_2', 'ready_to_agree')",
            name=op.f("ck_scheduled_reminder_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_scheduled_reminder_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_scheduled_reminder_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_reminder")),
        sa.UniqueConstraint(
            "assessment_id", "user_id", "kind", name=op.f("uq_scheduled_reminder_assessment_id_user_id_kind")
        ),
    )
    with op.batch_alter_table("scheduled_reminder", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_reminder_assessment_id"), ["assessment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scheduled_reminder_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scheduled_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_reminder_user_id"))
        batch_op.drop_index(batch_op.f("ix_scheduled_reminder_assessment_id"))

    op.drop_table("scheduled_reminder")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_user_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_assessment_id"))

    op.drop_table("reminder")
