"""cycle: closed early by a platform admin (closed_at, closed_by_id) and a version for compare-and-set

Revision ID: 3c7d2e91b0a4
Revises: 5e1f0a2c9d41
Create Date: 2026-12-06 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = "3c7d2e91b0a4"
down_revision: str | Sequence[str] | None = "5e1f0a2c9d41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cycle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", api.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_foreign_key(
            batch_op.f("fk_cycle_closed_by_id_user_account"), "user_account", ["closed_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("cycle", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cycle_closed_by_id_user_account"), type_="foreignkey")
        batch_op.drop_column("version")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("closed_at")
