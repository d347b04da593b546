"""audit append only: PostgreSQL refuses UPDATE and DELETE on audit_event

Row-level triggers, so TRUNCATE (the test suite's reset between tests) still works. SQLite has
no equivalent worth the cost (the tests empty tables there with DELETE): nothing changes on SQLite.

Revision ID: 75681226f77a
Revises: 72e4e710b0cc
Create Date: 2026-11-23 15:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "75681226f77a"
down_revision: str | Sequence[str] | None = "72e4e710b0cc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _is_postgresql():
        return
    op.execute(
        """
        CREATE FUNCTION audit_event_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER audit_event_append_only
        BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
        """
    )


def downgrade() -> None:
    if not _is_postgresql():
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
