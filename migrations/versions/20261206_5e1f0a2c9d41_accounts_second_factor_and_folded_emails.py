"""accounts: second factor on tokens and sign-in attempts, email addresses folded

Revision ID: 5e1f0a2c9d41
Revises: 0600073dd3a1
Create Date: 2026-12-06 10:00:00.000000+00:00

Email addresses are stored folded (Unicode NFKC, then case-folded), so `ﬁnance@…` and `finance@…`
are one account. Existing rows are folded here; if two accounts would end up with the same address,
the upgrade stops and names their ids, so a person can decide which account to keep.
"""

import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.db

revision: str = "5e1f0a2c9d41"
down_revision: str | Sequence[str] | None = "0600073dd3a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def folded(email: str) -> str:
    # A copy of api.accounts.service.folded_email as it is today: a migration must not change
    # meaning when the application's code does.
    return unicodedata.normalize("NFKC", email.strip()).casefold()


class EmailCollision(RuntimeError):
    pass


def fold_emails(connection: sa.Connection) -> int:
    """Fold every account's email; refuse (naming the ids) if two would collide. Returns rows changed."""
    users = sa.table("user_account", sa.column("id", sa.Integer), sa.column("email", sa.String))
    rows = connection.execute(sa.select(users.c.id, users.c.email).order_by(users.c.id)).all()
    by_folded: dict[str, list[int]] = defaultdict(list)
    for user_id, email in rows:
        by_folded[folded(email)].append(user_id)
    collisions = {email: ids for email, ids in by_folded.items() if len(ids) > 1}
    if collisions:
        listed = "; ".join(
            f"{email!r}: user_account ids {', '.join(str(i) for i in ids)}"
            for email, ids in sorted(collisions.items())
        )
        raise EmailCollision(
            "Cannot fold email addresses: these accounts differ only by letter case or Unicode form, "
            f"so they would become one address. Merge or rename them first, then upgrade again. {listed}"
        )
    changed = [(user_id, folded(email)) for user_id, email in rows if folded(email) != email]
    # Through a temporary value first, so a row never meets the unique constraint half-way.
    for user_id, _email in changed:
        connection.execute(
            users.update().where(users.c.id == user_id).values(email=f"folding-{user_id}@invalid")
        )
    for user_id, email in changed:
        connection.execute(users.update().where(users.c.id == user_id).values(email=email))
    return len(changed)


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("second_factor_at", api.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    fold_emails(op.get_bind())
    # A token issued before this revision to someone with two-factor on passed it (the token
    # endpoint asked for the code); mark it so, rather than signing everyone out of the API at once.
    op.execute(
        sa.text(
            "UPDATE api_token SET second_factor_at = created_at WHERE user_id IN "
            "(SELECT id FROM user_account WHERE totp_enabled_at IS NOT NULL "
            "AND totp_enabled_at <= api_token.created_at)"
        )
    )


def downgrade() -> None:
    # Folded addresses stay folded: the original spellings are not kept.
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.drop_column("second_factor")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("second_factor_at")
