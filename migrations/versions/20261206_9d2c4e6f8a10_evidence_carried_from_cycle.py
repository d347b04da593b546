"""evidence: the cycle it was carried forward from, as a column instead of a ' (2025/26)' title suffix

Revision ID: 9d2c4e6f8a10
Revises: 17ec69a335d0
Create Date: 2026-12-06 14:10:00.000000+00:00

Adds evidence.carried_from_cycle_id. Evidence carried forward before this revision had the year it
came from written on the end of its title ("Staff survey (2025/26)"): each such title whose year is
the name of a cycle other than the evidence's own loses the suffix, and the cycle goes in the
column. Downgrading writes the suffix back.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d2c4e6f8a10"
down_revision: str | Sequence[str] | None = "17ec69a335d0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUFFIX = re.compile(r"^(?P<title>.*) \((?P<cycle>\d{4}/\d{2})\)$", re.S)
MAX_TITLE = 200

evidence = sa.table(
    "evidence",
    sa.column("id", sa.Integer),
    sa.column("consensus_rating_id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("carried_from_cycle_id", sa.Integer),
)
consensus_rating = sa.table(
    "consensus_rating", sa.column("id", sa.Integer), sa.column("assessment_id", sa.Integer)
)
assessment = sa.table("assessment", sa.column("id", sa.Integer), sa.column("cycle_id", sa.Integer))
cycle = sa.table("cycle", sa.column("id", sa.Integer), sa.column("name", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carried_from_cycle_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_evidence_carried_from_cycle_id_cycle"), "cycle", ["carried_from_cycle_id"], ["id"]
        )
    conn = op.get_bind()
    cycles = {name: cycle_id for cycle_id, name in conn.execute(sa.select(cycle.c.id, cycle.c.name))}
    rows = conn.execute(
        sa.select(evidence.c.id, evidence.c.title, assessment.c.cycle_id)
        .join(consensus_rating, consensus_rating.c.id == evidence.c.consensus_rating_id)
        .join(assessment, assessment.c.id == consensus_rating.c.assessment_id)
        .where(evidence.c.title.like("% (%/%)"))
    ).all()
    for evidence_id, title, own_cycle_id in rows:
        match = SUFFIX.match(title)
        source = cycles.get(match.group("cycle")) if match else None
        if match is None or source is None or source == own_cycle_id:
            continue
        conn.execute(
            sa.update(evidence)
            .where(evidence.c.id == evidence_id)
            .values(title=match.group("title"), carried_from_cycle_id=source)
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(evidence.c.id, evidence.c.title, cycle.c.name).join(
            cycle, cycle.c.id == evidence.c.carried_from_cycle_id
        )
    ).all()
    for evidence_id, title, cycle_name in rows:
        suffix = f" ({cycle_name})"
        conn.execute(
            sa.update(evidence)
            .where(evidence.c.id == evidence_id)
            .values(title=title[: MAX_TITLE - len(suffix)] + suffix)
        )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_evidence_carried_from_cycle_id_cycle"), type_="foreignkey")
        batch_op.drop_column("carried_from_cycle_id")
