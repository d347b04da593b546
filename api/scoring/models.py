"""Scores stored at submission, so benchmarks and heatmaps read them instead of recomputing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

OVERALL_KEY = "overall"


class StoredScore(SQLModel, table=True):
    """One submitted assessment's score for one section, or its overall maturity (`overall`)."""

    __tablename__ = "stored_score"
    __table_args__ = (
        UniqueConstraint("assessment_id", "section_key"),
        CheckConstraint("kind IN ('priority', 'baf', 'overall')", name="kind_known"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 4)", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    section_key: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=10)
    # The exact mean; what is shown is rounded (one decimal, or coarser for small peer groups).
    score: float | None = None
    # How many criteria (or priority sections, for `overall`) the score is the mean of.
    count: int = 0
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
