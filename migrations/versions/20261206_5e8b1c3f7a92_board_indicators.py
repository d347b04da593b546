"""board_indicators: the WRES indicators 1 to 9 and the EDI improvement plan's high impact action
progress a board records for an assessment's year (issue 17)

Revision ID: 5e8b1c3f7a92
Revises: 9eba0612dfa8
Create Date: 2026-12-06 16:45:41.127567+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = "5e8b1c3f7a92"
down_revision: str | Sequence[str] | None = "9eba0612dfa8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_indicators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("wres_1_bme_workforce", sa.Float(), nullable=True),
        sa.Column("wres_1_bme_senior", sa.Float(), nullable=True),
        sa.Column("wres_2", sa.Float(), nullable=True),
        sa.Column("wres_3", sa.Float(), nullable=True),
        sa.Column("wres_4", sa.Float(), nullable=True),
        sa.Column("wres_5_white", sa.Float(), nullable=True),
        sa.Column("wres_5_bme", sa.Float(), nullable=True),
        sa.Column("wres_6_white", sa.Float(), nullable=True),
        sa.Column("wres_6_bme", sa.Float(), nullable=True),
        sa.Column("wres_7_white", sa.Float(), nullable=True),
        sa.Column("wres_7_bme", sa.Float(), nullable=True),
        sa.Column("wres_8_white", sa.Float(), nullable=True),
        sa.Column("wres_8_bme", sa.Float(), nullable=True),
        sa.Column("wres_9", sa.Float(), nullable=True),
        sa.Column("hia", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "wres_1_bme_senior IS NULL OR (wres_1_bme_senior >= 0 AND wres_1_bme_senior <= 100)",
            name=op.f("ck_board_indicators_wres_1_bme_senior_range"),
        ),
        sa.CheckConstraint(
            "wres_1_bme_workforce IS NULL OR (wres_1_bme_workforce >= 0 AND wres_1_bme_workforce <= 100)",
            name=op.f("ck_board_indicators_wres_1_bme_workforce_range"),
        ),
        sa.CheckConstraint(
            "wres_2 IS NULL OR (wres_2 > 0 AND wres_2 <= 20)", name=op.f("ck_board_indicators_wres_2_range")
        ),
        sa.CheckConstraint(
            "wres_3 IS NULL OR (wres_3 > 0 AND wres_3 <= 20)", name=op.f("ck_board_indicators_wres_3_range")
        ),
        sa.CheckConstraint(
            "wres_4 IS NULL OR (wres_4 > 0 AND wres_4 <= 20)", name=op.f("ck_board_indicators_wres_4_range")
        ),
        sa.CheckConstraint(
            "wres_5_bme IS NULL OR (wres_5_bme >= 0 AND wres_5_bme <= 100)",
            name=op.f("ck_board_indicators_wres_5_bme_range"),
        ),
        sa.CheckConstraint(
            "wres_5_white IS NULL OR (wres_5_white >= 0 AND wres_5_white <= 100)",
            name=op.f("ck_board_indicators_wres_5_white_range"),
        ),
        sa.CheckConstraint(
            "wres_6_bme IS NULL OR (wres_6_bme >= 0 AND wres_6_bme <= 100)",
            name=op.f("ck_board_indicators_wres_6_bme_range"),
        ),
        sa.CheckConstraint(
            "wres_6_white IS NULL OR (wres_6_white >= 0 AND wres_6_white <= 100)",
            name=op.f("ck_board_indicators_wres_6_white_range"),
        ),
        sa.CheckConstraint(
            "wres_7_bme IS NULL OR (wres_7_bme >= 0 AND wres_7_bme <= 100)",
            name=op.f("ck_board_indicators_wres_7_bme_range"),
        ),
        sa.CheckConstraint(
            "wres_7_white IS NULL OR (wres_7_white >= 0 AND wres_7_white <= 100)",
            name=op.f("ck_board_indicators_wres_7_white_range"),
        ),
        sa.CheckConstraint(
            "wres_8_bme IS NULL OR (wres_8_bme >= 0 AND wres_8_bme <= 100)",
            name=op.f("ck_board_indicators_wres_8_bme_range"),
        ),
        sa.CheckConstraint(
            "wres_8_white IS NULL OR (wres_8_white >= 0 AND wres_8_white <= 100)",
            name=op.f("ck_board_indicators_wres_8_white_range"),
        ),
        sa.CheckConstraint(
            "wres_9 IS NULL OR (wres_9 >= -100 AND wres_9 <= 100)",
            name=op.f("ck_board_indicators_wres_9_range"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_board_indicators_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_board_indicators_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user_account.id"],
            name=op.f("fk_board_indicators_updated_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_indicators")),
        sa.UniqueConstraint("assessment_id", name=op.f("uq_board_indicators_assessment_id")),
    )
    with op.batch_alter_table("board_indicators", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_board_indicators_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("board_indicators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_board_indicators_organisation_id"))

    op.drop_table("board_indicators")
