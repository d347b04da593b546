"""Users and their memberships of trust boards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

TRUST_ROLES = ("chair", "board_member", "board_secretary")
PLATFORM_ROLES = ("sector_analyst", "platform_admin")
ALL_ROLES = TRUST_ROLES + PLATFORM_ROLES
# What a person is on the board, for the respondent-role view (chairs, NEDs, executives).
BOARD_ROLES = {
    "chair": "Chair",
    "ned": "Non-executive director",
    "executive": "Executive director",
    "chief_executive": "Chief executive",
    "secretary": "Board secretary",
    "other": "Other",
}


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "platform_role IS NULL OR platform_role IN ('sector_analyst', 'platform_admin')",
            name="platform_role_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=120)
    # None until an invited person sets a password.
    password_hash: str | None = Field(default=None, max_length=255)
    # Roles not tied to a trust.
    platform_role: str | None = Field(default=None, max_length=20)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id"),
        CheckConstraint("role IN ('chair', 'board_member', 'board_secretary')", name="role_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    board_role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
