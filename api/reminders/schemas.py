"""The reminder command, read by the JSON route and the page alike."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, Field

from api.integers import MAX_INTEGER


class ReminderCreate(BaseModel):
    """Email a reminder to finish rating to one member who has not finished (one a member a day)."""

    form_messages: ClassVar[dict[str, str]] = {"user_id": "Choose a board member who has not finished rating"}

    user_id: int = Field(ge=1, le=MAX_INTEGER, description="The member to remind (their user id)")


class ReminderPublic(BaseModel):
    user_id: int
    name: str
    sent_on: date = Field(description="The day in the UK it was sent: the next can go the day after")


class UnfinishedMemberPublic(BaseModel):
    """A member who has not finished rating: who, never what they said."""

    user_id: int
    name: str
    reminded_today: bool
