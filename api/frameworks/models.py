"""Framework tables: the loaded, immutable questionnaire and the keys ratings refer to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow
from api.frameworks.schema import FACT


class FrameworkRecord(SQLModel, table=True):
    __tablename__ = "framework"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    version: int
    title: str = Field(max_length=200)
    # SHA-256 of the validated document: a changed file under the same key is refused.
    content_hash: str = Field(max_length=64)
    # The whole validated document (descriptors, guidance, resources) as loaded.
    definition: dict[str, Any] = Field(sa_type=JSON)
    source_file: str = Field(max_length=200)
    loaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FrameworkSection(SQLModel, table=True):
    __tablename__ = "framework_section"
    __table_args__ = (UniqueConstraint("framework_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    kind: str = Field(max_length=20)  # priority | baf
    number: int
    title: str = Field(max_length=200)


class Criterion(SQLModel, table=True):
    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("framework_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")
    section_id: int = Field(foreign_key="framework_section.id", index=True, ondelete="CASCADE")
    # Stable across framework versions, so trends hold.
    key: str = Field(max_length=64)
    position: int
    statement: str
    # Fine trust types it applies to; empty means all.
    applies_to: list[str] = Field(default_factory=list, sa_type=JSON)
    indicator: str | None = Field(default=None, max_length=40)
    # Framework version 2: fact (answered once for the board by the chair or secretary) or perception
    # (rated by every member). Null in version 1, where every member rates every criterion.
    kind: str | None = Field(default=None, max_length=20)

    @property
    def member_rated(self) -> bool:
        """Every member rates it: a perception item, or any version 1 criterion. A fact item is
        answered once for the board (its consensus record), by the chair or the board secretary."""
        return self.kind != FACT
