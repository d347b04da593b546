"""criterion: kind (fact or perception) from framework version 2, so pages can leave fact items out of members' questions

Revision ID: a17f2c4e8b90
Revises: 9d4e2b7c1f60
Create Date: 2026-12-06 14:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "a17f2c4e8b90"
down_revision: str | Sequence[str] | None = "9d4e2b7c1f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for version 1 criteria: every member rates them, as before.
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("criterion", schema=None) as batch_op:
        batch_op.drop_column("kind")
