"""Peer-group snapshots: the frozen set of submitted scores every peer figure is computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


class PeerSnapshot(SQLModel, table=True):
    """One peer group's submitted scores in one cycle, as at the last batch refresh.

    The scores are copied in (not referenced), so a reopened or changed assessment moves nothing
    until the group's next refresh. See docs/anonymity.md for when a refresh happens.
    """

    __tablename__ = "peer_snapshot"
    __table_args__ = (
        UniqueConstraint("cycle_id", "group_kind", "group_value"),
        CheckConstraint(
            "group_kind IN ('all', 'trust_type', 'region', 'size_band')", name="group_kind_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True, ondelete="CASCADE")
    group_kind: str = Field(max_length=20)
    group_value: str = Field(max_length=60)
    taken_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The assessments whose scores are in the snapshot.
    assessment_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    # Per section key (and "overall"): {assessment id: exact stored score}. Never sent to anyone.
    scores: dict[str, dict[str, float]] = Field(default_factory=dict, sa_type=JSON)
    final: bool = Field(default=False, description="Taken after the cycle closed")

    def score_of(self, section_key: str, assessment_id: int) -> float | None:
        return self.scores.get(section_key, {}).get(str(assessment_id))

    def values(self, section_key: str, excluding: int | None = None) -> list[float]:
        per_assessment: dict[str, Any] = self.scores.get(section_key, {})
        skip = str(excluding)
        return [v for k, v in per_assessment.items() if v is not None and k != skip]
