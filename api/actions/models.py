"""Tables of the action plan: actions, the criteria they address, and their dated progress notes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

ACTION_STATUSES = ("not_started", "in_progress", "done")
STATUS_NAMES = {"not_started": "Not started", "in_progress": "In progress", "done": "Done"}


class Action(SQLModel, table=True):
    """Something the board will do, in the cycle (assessment) it belongs to.

    Overdue is never stored: it is worked out from the due date and the status when read.
    """

    __tablename__ = "action"
    __table_args__ = (
        CheckConstraint("status IN ('not_started', 'in_progress', 'done')", name="status_known"),
        # An action is carried into a given assessment once at most.
        UniqueConstraint("assessment_id", "carried_from_action_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    # Denormalised from the assessment, so every query can be scoped to the caller's trusts directly.
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    # A board member's name or a post ("Director of People"): free text, as boards write it.
    owner: str = Field(default="", max_length=200)
    due_date: date
    status: str = Field(default="not_started", max_length=20, index=True)
    # The framework section (priority) it addresses, if any.
    section_key: str | None = Field(default=None, max_length=64)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1)
    # The last cycle's action this one continues (the old one is left as it was).
    carried_from_action_id: int | None = Field(
        default=None, foreign_key="action.id", index=True, ondelete="SET NULL"
    )


class ActionCriterion(SQLModel, table=True):
    """A criterion (by its stable key) that an action addresses."""

    __tablename__ = "action_criterion"

    action_id: int = Field(foreign_key="action.id", primary_key=True, ondelete="CASCADE")
    criterion_key: str = Field(max_length=64, primary_key=True)


class ActionNote(SQLModel, table=True):
    """A dated progress note on an action."""

    __tablename__ = "action_note"

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="action.id", index=True, ondelete="CASCADE")
    text: str = Field(sa_type=Text)
    noted_on: date
    author_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
