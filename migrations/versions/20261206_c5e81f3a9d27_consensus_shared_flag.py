"""consensus_rating: shared, framework version 2's optional "shared with other trusts" flag

Revision ID: c5e81f3a9d27
Revises: 5e8b1c3f7a92
Create Date: 2026-12-06 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5e81f3a9d27"
down_revision: str | Sequence[str] | None = "5e8b1c3f7a92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every agreed rating so far was recorded without the flag: false, never a condition of a level.
    with op.batch_alter_table("consensus_rating", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("consensus_rating", schema=None) as batch_op:
        batch_op.drop_column("shared")
