"""The board's WRES figures and EDI improvement plan progress: reading, saving, importing, and the
indicators related to each priority (through its criteria's `maps_to` tags).

One row per assessment; a save is a compare-and-set on `version` (0 when nothing is recorded yet).
Services flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.accounts.models import User
from api.assessments.models import Assessment, Cycle
from api.assessments.repository import criteria_of
from api.audit.service import record
from api.db import utcnow
from api.errors import Conflict
from api.frameworks.models import FrameworkRecord
from api.frameworks.schema import MAPPING_TAGS, FrameworkDefinition
from api.frameworks.service import framework_document
from api.indicators.csv_import import parse_wres_csv
from api.indicators.definitions import (
    HIA_STATUSES,
    HIGH_IMPACT_ACTIONS,
    MEASURE_FIELDS,
    MEASURES,
    NOT_RECORDED,
    WRES_INDICATORS,
    HighImpactAction,
    Indicator,
    Measure,
    measure_text,
)
from api.indicators.models import BoardIndicators
from api.indicators.schemas import IndicatorsUpdate

STALE = "The indicators have changed since you opened them"

# --- What pages, the API and the exports read ----------------------------------------------------------


@dataclass(frozen=True)
class MeasureView:
    measure: Measure
    value: float | None

    @property
    def text(self) -> str:
        return measure_text(self.measure, self.value)


@dataclass(frozen=True)
class ActionProgress:
    action: HighImpactAction
    status: str | None
    note: str

    @property
    def status_name(self) -> str:
        return HIA_STATUSES.get(self.status or "", NOT_RECORDED)


@dataclass(frozen=True)
class IndicatorsView:
    assessment_id: int
    cycle: str
    # The command's fields as recorded (None / "" where not recorded).
    values: dict[str, Any]
    version: int
    updated_at: datetime | None
    updated_by: str | None

    @property
    def measures(self) -> list[MeasureView]:
        return [MeasureView(m, self.values.get(m.field)) for m in MEASURES]

    def indicator(self, number: int) -> list[MeasureView]:
        return [v for v in self.measures if v.measure.indicator == number]

    @property
    def by_indicator(self) -> list[tuple[Indicator, list[MeasureView]]]:
        return [(indicator, self.indicator(indicator.number)) for indicator in WRES_INDICATORS]

    @property
    def actions(self) -> list[ActionProgress]:
        return [
            ActionProgress(a, self.values.get(a.status_field), self.values.get(a.note_field) or "")
            for a in HIGH_IMPACT_ACTIONS
        ]

    @property
    def recorded(self) -> bool:
        return self.version > 0


def _values(row: BoardIndicators | None) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(row, field) if row else None for field in MEASURE_FIELDS}
    hia = row.hia if row else {}
    for action in HIGH_IMPACT_ACTIONS:
        entry = hia.get(str(action.number)) or {}
        values[action.status_field] = entry.get("status")
        values[action.note_field] = entry.get("note") or ""
    return values


def _row(session: Session, assessment_id: int) -> BoardIndicators | None:
    return session.exec(select(BoardIndicators).where(BoardIndicators.assessment_id == assessment_id)).first()


def indicators_view(session: Session, assessment: Assessment) -> IndicatorsView:
    """What the board recorded for the assessment's year (an empty record, version 0, if nothing)."""
    assert assessment.id is not None
    row = _row(session, assessment.id)
    cycle = session.get(Cycle, assessment.cycle_id)
    updated_by = session.get(User, row.updated_by_id) if row and row.updated_by_id else None
    return IndicatorsView(
        assessment_id=assessment.id,
        cycle=cycle.name if cycle else "",
        values=_values(row),
        version=row.version if row else 0,
        updated_at=row.updated_at if row else None,
        updated_by=updated_by.name if updated_by else None,
    )


# --- Saving -------------------------------------------------------------------------------------------


def save_indicators(
    session: Session,
    actor: User,
    assessment: Assessment,
    command: IndicatorsUpdate,
    *,
    how: str = "recorded",
) -> IndicatorsView:
    """Replace what the board recorded with `command`, if `command.version` is the version last seen."""
    assert assessment.id is not None
    values = command.model_dump(exclude={"version"})
    version = command.version  # type: ignore[attr-defined]
    columns = {field: values[field] for field in MEASURE_FIELDS}
    hia = {
        str(a.number): {"status": values[a.status_field], "note": values[a.note_field]}
        for a in HIGH_IMPACT_ACTIONS
        if values[a.status_field] or values[a.note_field]
    }
    current = _row(session, assessment.id)
    seen = current.version if current else 0
    if version != seen:
        raise Conflict(STALE, current={"version": seen})
    now = utcnow()
    if current is None:
        row = BoardIndicators(
            assessment_id=assessment.id,
            organisation_id=assessment.organisation_id,
            **columns,
            hia=hia,
            version=1,
            created_at=now,
            updated_by_id=actor.id,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            raise Conflict(
                "Someone else recorded the indicators at the same time", current={"version": 1}
            ) from None
    else:
        result = session.execute(
            update(BoardIndicators)
            .where(col(BoardIndicators.id) == current.id, col(BoardIndicators.version) == version)
            .values(**columns, hia=hia, version=version + 1, updated_by_id=actor.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.expire(current)
            raise Conflict("Someone else saved the indicators at the same time", current={"version": None})
        session.flush()
        session.expire(current)
        row = current
    session.refresh(row)
    cycle = session.get(Cycle, assessment.cycle_id)
    recorded = sum(1 for field in MEASURE_FIELDS if columns[field] is not None)
    record(
        session,
        f"indicators.{how}",
        actor=actor,
        organisation_id=assessment.organisation_id,
        object_type="assessment",
        object_id=assessment.id,
        summary=(
            f"WRES indicators and EDI improvement plan progress ({cycle.name if cycle else ''}) {how}: "
            f"{recorded} of {len(MEASURE_FIELDS)} WRES figures, {len(hia)} of {len(HIGH_IMPACT_ACTIONS)} high impact actions"
        ),
        details={"version": row.version, "wres_figures": recorded, "high_impact_actions": len(hia)},
    )
    session.flush()
    return indicators_view(session, assessment)


def import_wres(
    session: Session, actor: User, assessment: Assessment, *, text: str, version: int
) -> IndicatorsView:
    """Record the WRES figures in a CSV file (api/indicators/csv_import.py): those in the file replace
    what was recorded, the others (and the high impact actions) stay. ImportRefused lists every
    problem, and nothing is recorded."""
    figures = parse_wres_csv(text)
    merged = {**indicators_view(session, assessment).values, **figures, "version": version}
    command = IndicatorsUpdate.model_validate(merged, strict=False)
    return save_indicators(session, actor, assessment, command, how="imported")


# --- Beside each priority's score ------------------------------------------------------------------------


@dataclass(frozen=True)
class RelatedIndicator:
    tag: str
    name: str
    # The board's figure or progress as shown; None for a standard whose figures are not kept here
    # (EDS 2022 outcomes and CQC quality statements are named only).
    value: str | None

    @property
    def recorded(self) -> bool:
        return self.value is not None and self.value != NOT_RECORDED


def _wres_value(views: list[MeasureView]) -> str:
    if all(v.value is None for v in views):
        return NOT_RECORDED
    if len(views) == 1:
        return views[0].text
    if views[0].measure.group == "workforce":
        workforce, senior = views
        return f"BME share: whole workforce {workforce.text}, bands 8a and above {senior.text}"
    return ", ".join(f"{v.measure.label.removesuffix(' staff')} {v.text}" for v in views)


def _tag_order(tag: str) -> tuple[int, int, str]:
    kind, _, rest = tag.partition("-")
    rank = {"wres": 0, "hia": 1, "eds": 2, "cqc": 3}.get(kind, 4)
    return (rank, int(rest) if rest.isdigit() else 0, tag)


def related_indicator(tag: str, view: IndicatorsView) -> RelatedIndicator:
    kind, _, rest = tag.partition("-")
    if kind == "wres" and rest.isdigit():
        indicator = WRES_INDICATORS[int(rest) - 1]
        return RelatedIndicator(
            tag,
            f"WRES indicator {indicator.number}: {indicator.title}",
            _wres_value(view.indicator(indicator.number)),
        )
    if kind == "hia" and rest.isdigit():
        progress = view.actions[int(rest) - 1]
        return RelatedIndicator(
            tag, f"High impact action {rest}: {progress.action.title}", progress.status_name
        )
    return RelatedIndicator(tag, MAPPING_TAGS.get(tag, tag), None)


def related_indicators(
    session: Session, assessment: Assessment, doc: FrameworkDefinition | None = None
) -> dict[str, list[RelatedIndicator]]:
    """Section key -> the indicators its criteria map to (the union of their `maps_to`), WRES first,
    with the board's figures for the year. Empty for a framework without `maps_to` (version 1)."""
    if doc is None:
        framework = session.get(FrameworkRecord, assessment.framework_id)
        assert framework is not None
        doc = framework_document(framework)
    tags: dict[str, dict[str, None]] = {}
    for section, criterion in criteria_of(session, assessment):
        definition = doc.criterion(criterion.key)
        for tag in (definition.maps_to if definition else None) or []:
            tags.setdefault(section.key, {})[tag] = None
    if not tags:
        return {}
    view = indicators_view(session, assessment)
    return {
        key: [related_indicator(tag, view) for tag in sorted(found, key=_tag_order)]
        for key, found in tags.items()
    }
