"""Tables of the board assurance framework risk: one per trust per cycle, and its earlier versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

SCORE_FIELDS = (
    "inherent_likelihood",
    "inherent_consequence",
    "residual_likelihood",
    "residual_consequence",
    "target_likelihood",
    "target_consequence",
)
APPETITE_FIELDS = ("appetite_level", "appetite_low", "appetite_high", "appetite_rationale", "target_date")
# What a version holds: everything a PUT replaces.
CONTENT_FIELDS = (
    "description",
    "strategic_objective",
    "lead",
    *SCORE_FIELDS,
    *APPETITE_FIELDS,
    "controls",
    "assurances",
    "lead_committee",
    "assurance_level",
    "gaps",
)


class BafRisk(SQLModel, table=True):
    """The trust's principal race-equality risk as it stands in one cycle (the current version).

    Scores and ratings are worked out when read (api/baf/matrix.py), never stored.
    """

    __tablename__ = "baf_risk"
    __table_args__ = (
        UniqueConstraint("organisation_id", "cycle_id"),
        *(CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_range") for name in SCORE_FIELDS),
        # Inherent scores are optional, but come as a pair.
        CheckConstraint(
            "(inherent_likelihood IS NULL) = (inherent_consequence IS NULL)", name="inherent_pair"
        ),
        CheckConstraint("appetite_low BETWEEN 1 AND 25", name="appetite_low_range"),
        CheckConstraint("appetite_high BETWEEN 1 AND 25", name="appetite_high_range"),
        CheckConstraint("appetite_low <= appetite_high", name="appetite_order"),
        CheckConstraint(
            "appetite_level IN ('averse', 'minimal', 'cautious', 'open', 'eager')",
            name="appetite_level_known",
        ),
        CheckConstraint(
            "assurance_level IN ('significant', 'reasonable', 'limited')", name="assurance_level_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    description: str = Field(sa_type=Text)
    strategic_objective: str = Field(default="", sa_type=Text)
    lead: str = Field(default="", max_length=200)
    # Optional: many boards record only the current and target scores.
    inherent_likelihood: int | None = None
    inherent_consequence: int | None = None
    residual_likelihood: int
    residual_consequence: int
    target_likelihood: int
    target_consequence: int
    # The board's risk appetite: a level (api/baf/matrix.APPETITE_LEVELS) and the range of scores it
    # accepts, e.g. cautious 4 to 6. Whether the risk is in appetite is worked out from the residual
    # score when read; out of appetite, the rationale and the date to reach target are required.
    appetite_level: str | None = Field(default=None, max_length=20)
    appetite_low: int | None = None
    appetite_high: int | None = None
    # NULL when not recorded (the API answers "").
    appetite_rationale: str | None = Field(default=None, sa_type=Text)
    target_date: date | None = None
    # ["WRES action plan", ...]
    controls: list[str] = Field(default_factory=list, sa_type=JSON)
    # [{"line": 1, "source": "..."}], line 1 management, 2 oversight, 3 independent: the trust
    # chooses the line of each source.
    assurances: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # The committee that oversees the risk for the board, and the level of assurance it last gave.
    lead_committee: str | None = Field(default=None, max_length=200)
    assurance_level: str | None = Field(default=None, max_length=20)
    # [{"kind": "control" | "assurance", "text": "...", "action_ids": [1, 2]}]
    gaps: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BafRiskVersion(SQLModel, table=True):
    """An earlier version of a cycle's risk, kept when a newer one replaced it."""

    __tablename__ = "baf_risk_version"
    __table_args__ = (UniqueConstraint("baf_risk_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    baf_risk_id: int = Field(foreign_key="baf_risk.id", index=True, ondelete="CASCADE")
    version: int
    # The fields of CONTENT_FIELDS as they were.
    content: dict[str, Any] = Field(sa_type=JSON)
    # Who wrote this version and when; who replaced it and when.
    saved_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    saved_at: datetime = Field(sa_type=UTCDateTime)
    replaced_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    replaced_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
