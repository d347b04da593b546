"""The Organisation table: an NHS trust and the attributes its peer groups come from."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    ods_code: str = Field(max_length=10, unique=True, index=True)
    name: str = Field(max_length=200)
    # The fine type (seven kinds) for display; peer_type (acute, non_acute, ambulance) for peers.
    trust_type: str = Field(max_length=40, index=True)
    peer_type: str = Field(max_length=20, index=True)
    region: str = Field(max_length=60, index=True)
    size_band: str | None = Field(default=None, max_length=20, index=True)
    # A trust can require a second factor for everyone on its board.
    require_two_factor: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
