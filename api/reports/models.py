"""Rendered exports kept for reuse, and the one export in progress per person.

`RenderedExport`: the bytes of a board report (PDF) or workbook (XLSX), keyed by everything that
makes them differ (api/reports/cache.py): the assessment and its content, the framework version,
the peer snapshots its figures came from, the kind, and the part that depends on who downloads it
(which members' spreads that person may see). A download whose key matches costs a read.

`ExportLock`: one row per person while one of their exports renders, with an expiry, so a second
export by the same person on any instance of the service answers 429 until the first is done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class RenderedExport(SQLModel, table=True):
    __tablename__ = "rendered_export"
    __table_args__ = (
        UniqueConstraint(
            "assessment_id",
            "kind",
            "content_version",
            "framework_version",
            "snapshot_batch",
            "viewer_part",
            name="uq_rendered_export_key",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=20)
    # SHA-256 of the assessment's content as the export shows it (cache.py: content_facts).
    content_version: str = Field(max_length=64)
    framework_version: str = Field(max_length=120)
    # Which peer snapshots the figures came from: their number and the latest refresh.
    snapshot_batch: str = Field(max_length=80)
    # SHA-256 of what depends on the person downloading (empty list: the same for everyone).
    viewer_part: str = Field(max_length=64)
    body: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExportLock(SQLModel, table=True):
    __tablename__ = "export_lock"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    # Random, so only the export that took the lock lets it go.
    token: str = Field(max_length=32)
    expires_at: datetime = Field(sa_type=UTCDateTime)
