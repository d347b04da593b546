"""single sign-on: the provider identity linked to an account, sign-ins under way, provider MFA

Revision ID: 7b3d5e9a1c24
Revises: 3c7d2e91b0a4
Create Date: 2026-12-06 11:46:43.382744+00:00

Adds user_account.oidc_issuer and oidc_subject (unique together; both null until the first sign-in
through the provider), web_session.signed_in_by_provider and second_factor_by_provider, and the table of single sign-ons
started and not yet finished. Existing rows need nothing: no account is linked, no session used it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import api.db

revision: str = "7b3d5e9a1c24"
down_revision: str | Sequence[str] | None = "3c7d2e91b0a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_sign_in_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("code_verifier", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("next_path", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_sign_in_request")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oidc_sign_in_request_state_hash")),
    )
    with op.batch_alter_table("oidc_sign_in_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_sign_in_request_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("oidc_issuer", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.add_column(
            sa.Column("oidc_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_user_account_oidc_issuer_oidc_subject"), ["oidc_issuer", "oidc_subject"]
        )

    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("signed_in_by_provider", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("second_factor_by_provider", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_column("second_factor_by_provider")
        batch_op.drop_column("signed_in_by_provider")

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_user_account_oidc_issuer_oidc_subject"), type_="unique")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("oidc_issuer")

    with op.batch_alter_table("oidc_sign_in_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_sign_in_request_expires_at"))

    op.drop_table("oidc_sign_in_request")
