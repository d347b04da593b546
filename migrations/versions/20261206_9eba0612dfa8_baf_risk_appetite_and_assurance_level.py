"""baf_risk: risk appetite (level and range), rationale, date to reach target, the lead committee and
its level of assurance; inherent scores become optional

Revision ID: 9eba0612dfa8
Revises: 9d2c4e6f8a10
Create Date: 2026-12-06 17:00:00.000000+00:00

Existing risks keep everything they had: the new columns are all nullable and empty (NULL: no
appetite, rationale, date, lead committee or assurance level recorded), which the pages show as "Not
recorded"; the service also stores an empty rationale or committee as NULL. Versions already kept in
baf_risk_version hold no appetite fields and are read as none recorded. Downgrading drops the new
columns; a risk saved without inherent scores gets its residual scores as inherent ones, since the
earlier schema requires them (the nearest honest value: the risk before controls was at least as
high as with them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "9eba0612dfa8"
down_revision: str | Sequence[str] | None = "9d2c4e6f8a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = {
    "inherent_pair": "(inherent_likelihood IS NULL) = (inherent_consequence IS NULL)",
    "appetite_low_range": "appetite_low BETWEEN 1 AND 25",
    "appetite_high_range": "appetite_high BETWEEN 1 AND 25",
    "appetite_order": "appetite_low <= appetite_high",
    "appetite_level_known": "appetite_level IN ('averse', 'minimal', 'cautious', 'open', 'eager')",
    "assurance_level_known": "assurance_level IN ('significant', 'reasonable', 'limited')",
}

baf_risk = sa.table(
    "baf_risk",
    sa.column("inherent_likelihood", sa.Integer),
    sa.column("inherent_consequence", sa.Integer),
    sa.column("residual_likelihood", sa.Integer),
    sa.column("residual_consequence", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("baf_risk", schema=None) as batch_op:
        batch_op.alter_column("inherent_likelihood", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("inherent_consequence", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("appetite_level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(sa.Column("appetite_low", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("appetite_high", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("appetite_rationale", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("target_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "lead_committee",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("assurance_level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_baf_risk_{name}"), condition)


def downgrade() -> None:
    op.execute(
        sa.update(baf_risk)
        .where(baf_risk.c.inherent_likelihood.is_(None))
        .values(
            inherent_likelihood=baf_risk.c.residual_likelihood,
            inherent_consequence=baf_risk.c.residual_consequence,
        )
    )
    with op.batch_alter_table("baf_risk", schema=None) as batch_op:
        for name in reversed(CHECKS):
            batch_op.drop_constraint(batch_op.f(f"ck_baf_risk_{name}"), type_="check")
        batch_op.drop_column("assurance_level")
        batch_op.drop_column("lead_committee")
        batch_op.drop_column("target_date")
        batch_op.drop_column("appetite_rationale")
        batch_op.drop_column("appetite_high")
        batch_op.drop_column("appetite_low")
        batch_op.drop_column("appetite_level")
        batch_op.alter_column("inherent_consequence", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("inherent_likelihood", existing_type=sa.Integer(), nullable=False)
