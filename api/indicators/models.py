"""The board's WRES indicators and EDI improvement plan progress: one row per assessment (its year)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow
from api.indicators.definitions import (
    GAP_MAX,
    GAP_MIN,
    MEASURES,
    PERCENT_MAX,
    PERCENT_MIN,
    RATIO_MAX,
)


def _range_check(field: str, kind: str) -> CheckConstraint:
    condition = {
        "ratio": f"{field} > 0 AND {field} <= {RATIO_MAX:g}",
        "percent": f"{field} >= {PERCENT_MIN:g} AND {field} <= {PERCENT_MAX:g}",
        "gap": f"{field} >= {GAP_MIN:g} AND {field} <= {GAP_MAX:g}",
    }[kind]
    return CheckConstraint(f"{field} IS NULL OR ({condition})", name=f"{field}_range")


class BoardIndicators(SQLModel, table=True):
    """The figures as the trust published them for the assessment's year; a null is "not recorded"."""

    __tablename__ = "board_indicators"
    __table_args__ = tuple(_range_check(m.field, m.kind) for m in MEASURES)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", unique=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    # WRES indicator 1: BME share (percent) of the whole workforce and of bands 8a and above.
    wres_1_bme_workforce: float | None = None
    wres_1_bme_senior: float | None = None
    # WRES indicators 2 to 4: relative likelihoods (1.0 is parity).
    wres_2: float | None = None
    wres_3: float | None = None
    wres_4: float | None = None
    # WRES indicators 5 to 8: staff survey percentages for White and BME staff.
    wres_5_white: float | None = None
    wres_5_bme: float | None = None
    wres_6_white: float | None = None
    wres_6_bme: float | None = None
    wres_7_white: float | None = None
    wres_7_bme: float | None = None
    wres_8_white: float | None = None
    wres_8_bme: float | None = None
    # WRES indicator 9: board minus workforce BME percentage, in percentage points.
    wres_9: float | None = None
    # The six high impact actions: {"1": {"status": "in_progress", "note": "..."}}; an action with
    # no status recorded is left out.
    hia: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
