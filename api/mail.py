"""Outgoing email: always recorded in the outbox table; sent by SMTP when SMTP_HOST is set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class OutboxEmail(SQLModel, table=True):
    """Every email the service sends. In development and tests this is where mail ends up."""

    __tablename__ = "outbox_email"

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254, index=True)
    subject: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
