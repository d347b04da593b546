"""The append-only audit log: who did what, when, to which trust's data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Plain columns, not foreign keys: the log outlives the rows it describes.
    actor_id: int | None = Field(default=None, index=True)
    actor_email: str | None = Field(default=None, max_length=254)
    organisation_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=60, index=True)
    object_type: str | None = Field(default=None, max_length=40)
    object_id: int | None = None
    summary: str = Field(default="", max_length=500)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    client_ip: str | None = Field(default=None, max_length=45)
