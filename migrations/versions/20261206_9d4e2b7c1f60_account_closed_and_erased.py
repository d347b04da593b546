"""user_account: when an account was closed (for the retention command) and when a person was erased;
the audit log lets an erasure rewrite who an event was by (PostgreSQL)

The audit log stays append-only, except that an UPDATE is let through inside a transaction that has
set `app.erasing_person` (api/data_protection/service.py does, for the person's own events only):
the law's right to erasure reaches the log too. DELETE is still refused. Accounts already left with no board membership and no platform role are counted as closed from the
day this revision runs, so the retention period starts then, never in the past.

Revision ID: 9d4e2b7c1f60
Revises: 7b3d5e9a1c24
Create Date: 2026-12-06 14:00:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = "9d4e2b7c1f60"
down_revision: str | Sequence[str] | None = "7b3d5e9a1c24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", api.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", api.db.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_user_account_closed_at"), ["closed_at"], unique=False)
    user = sa.table(
        "user_account",
        sa.column("id", sa.Integer()),
        sa.column("platform_role", sa.String()),
        sa.column("closed_at", api.db.UTCDateTime()),
    )
    membership = sa.table("membership", sa.column("user_id", sa.Integer()))
    op.get_bind().execute(
        sa.update(user)
        .where(
            user.c.platform_role.is_(None),
            ~sa.exists().where(membership.c.user_id == user.c.id),
        )
        .values(closed_at=datetime.now(UTC))
    )
    _audit_trigger(APPEND_ONLY_BUT_ERASURE)


APPEND_ONLY = """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
"""
APPEND_ONLY_BUT_ERASURE = """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND current_setting('app.erasing_person', true) = 'on' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
"""


def _audit_trigger(function: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function)


def downgrade() -> None:
    _audit_trigger(APPEND_ONLY)
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_closed_at"))
        batch_op.drop_column("erased_at")
        batch_op.drop_column("closed_at")
