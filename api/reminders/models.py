"""Who was reminded to finish rating, and when: the unique keys make each reminder go once."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

# The daily command's reminders: to members, 14, 7 and 2 days before ratings close; to the chair,
# once the board is ready to agree its ratings.
SCHEDULED_KINDS = ("closing_14", "closing_7", "closing_2", "ready_to_agree")


class Reminder(SQLModel, table=True):
    """A reminder the chair or the board secretary sent a member: at most one per member per UK day,
    whoever sends it (the unique key refuses a second, even from two requests at once)."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("assessment_id", "user_id", "sent_on"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    # The day in the UK it was sent.
    sent_on: date
    sent_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScheduledReminder(SQLModel, table=True):
    """A reminder `python -m api send-reminders` sent: each kind once per person per assessment, so
    two runs at the same moment (or a run repeated the same day) send it once."""

    __tablename__ = "scheduled_reminder"
    __table_args__ = (
        UniqueConstraint("assessment_id", "user_id", "kind"),
        CheckConstraint(
            "kind IN ('closing_14', 'closing_7', 'closing_2', 'ready_to_agree')", name="kind_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
