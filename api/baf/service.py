"""The trust's race-equality risk on its board assurance framework: reading, saving, its history.

One row per trust per cycle holds the current version; every save keeps the version it replaces
(BafRiskVersion), with who wrote it and who replaced it. Saves are a compare-and-set on `version`.
Services flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.accounts.models import User
from api.actions.models import Action
from api.actions.service import is_overdue, today_in_uk
from api.assessments.models import Assessment, Cycle
from api.audit.service import record_about
from api.baf.matrix import APPETITE_STATUSES, Appetite, Position, appetite
from api.baf.models import CONTENT_FIELDS, BafRisk, BafRiskVersion
from api.baf.schemas import BafRiskContent, BafRiskUpdate, RiskVersionSaved
from api.db import added_first, utcnow
from api.errors import Conflict, FieldError
from api.organisations.models import Organisation

# The three lines of assurance. The trust chooses the line of each source (many file the staff
# survey as independent, others as oversight): nothing here ties a source to a line.
LINES = {
    1: "First line (management)",
    2: "Second line (oversight and monitoring)",
    3: "Third line (independent)",
}
# The level of assurance the lead committee gives the board on the risk.
ASSURANCE_LEVELS = {
    "significant": ("Significant", "The controls work and the risk is being managed well"),
    "reasonable": ("Reasonable", "The controls mostly work; the gaps are known and being closed"),
    "limited": ("Limited", "Gaps in control or in assurance put the objective at risk; the board should act"),
}


# --- Which cycle -------------------------------------------------------------------------------------------


def current_cycle(session: Session, today: date | None = None) -> Cycle | None:
    """The latest cycle that has opened: the open one, or between cycles the one just closed."""
    today = today or today_in_uk()
    return session.exec(
        select(Cycle).where(col(Cycle.opens_on) <= today).order_by(col(Cycle.opens_on).desc())
    ).first()


def latest_risk_row(session: Session, organisation_id: int) -> BafRisk | None:
    """The trust's risk in the latest cycle it has one for."""
    return session.exec(
        select(BafRisk)
        .join(Cycle, col(Cycle.id) == BafRisk.cycle_id)
        .where(BafRisk.organisation_id == organisation_id)
        .order_by(col(Cycle.opens_on).desc())
    ).first()


# --- What pages, the API and the board report read ---------------------------------------------------------


@dataclass(frozen=True)
class LinkedActionView:
    id: int
    title: str
    status: str
    overdue: bool
    due_date: date
    cycle: str
    assessment_id: int


@dataclass(frozen=True)
class GapView:
    kind: str  # control | assurance
    text: str
    action_ids: list[int]
    actions: list[LinkedActionView]


@dataclass(frozen=True)
class AssuranceView:
    line: int
    source: str

    @property
    def line_name(self) -> str:
        return LINES[self.line]


@dataclass
class BafRiskView:
    """The risk as the board reads it, with each score and rating worked out from the matrix."""

    id: int
    organisation_id: int
    cycle_id: int
    cycle: str
    is_current_cycle: bool
    description: str
    strategic_objective: str
    lead: str
    inherent: Position | None  # None when not recorded (it is optional)
    residual: Position
    target: Position
    appetite: Appetite | None
    appetite_rationale: str
    target_date: date | None
    controls: list[str]
    assurances: list[AssuranceView]
    lead_committee: str
    assurance_level: str | None
    gaps: list[GapView]
    version: int
    updated_at: datetime
    updated_by: str | None

    @property
    def appetite_status(self) -> str | None:
        """within, above or below the appetite range (the residual score); None without an appetite."""
        return self.appetite.status(self.residual.score) if self.appetite else None

    @property
    def in_appetite(self) -> bool | None:
        return None if self.appetite_status is None else self.appetite_status == "within"

    @property
    def appetite_status_name(self) -> str:
        """ "In appetite", "Out of appetite" or "No risk appetite recorded"."""
        return (
            APPETITE_STATUSES[self.appetite_status][0]
            if self.appetite_status
            else "No risk appetite recorded"
        )

    @property
    def appetite_status_reason(self) -> str:
        """Why, in words: "The residual score is above the range"; empty without an appetite."""
        return APPETITE_STATUSES[self.appetite_status][1] if self.appetite_status else ""

    @property
    def assurance_level_name(self) -> str:
        return ASSURANCE_LEVELS[self.assurance_level][0] if self.assurance_level else "Not recorded"

    def assurances_on_line(self, line: int) -> list[str]:
        return [a.source for a in self.assurances if a.line == line]

    @property
    def gaps_in_control(self) -> list[GapView]:
        return [g for g in self.gaps if g.kind == "control"]

    @property
    def gaps_in_assurance(self) -> list[GapView]:
        return [g for g in self.gaps if g.kind == "assurance"]


def positions(content: dict[str, Any] | BafRisk) -> tuple[Position | None, Position, Position]:
    """The inherent (None when not recorded), residual and target positions of a risk or a version."""
    get = content.get if isinstance(content, dict) else lambda name: getattr(content, name, None)
    return tuple(  # type: ignore[return-value]
        Position(get(f"{stage}_likelihood"), get(f"{stage}_consequence"))
        if get(f"{stage}_likelihood") is not None
        else None
        for stage in ("inherent", "residual", "target")
    )


def appetite_of(content: dict[str, Any] | BafRisk) -> Appetite | None:
    get = content.get if isinstance(content, dict) else lambda name: getattr(content, name, None)
    return appetite(get("appetite_level"), get("appetite_low"), get("appetite_high"))


def current_baf_risk(
    session: Session, organisation_id: int, *, today: date | None = None
) -> BafRiskView | None:
    """The trust's race-equality risk as it stands: this cycle's, else the latest earlier one; or None."""
    row = latest_risk_row(session, organisation_id)
    if row is None:
        return None
    return risk_view(session, row, today=today)


def risk_view(session: Session, row: BafRisk, *, today: date | None = None) -> BafRiskView:
    today = today or today_in_uk()
    cycle = session.get(Cycle, row.cycle_id)
    assert cycle is not None
    now_cycle = current_cycle(session, today)
    updated_by = session.get(User, row.updated_by_id) if row.updated_by_id else None
    linked = _linked_actions(
        session, row.organisation_id, [i for gap in row.gaps for i in gap.get("action_ids", [])], today
    )
    inherent, residual, target = positions(row)
    return BafRiskView(
        id=row.id,
        organisation_id=row.organisation_id,
        cycle_id=row.cycle_id,
        cycle=cycle.name,
        is_current_cycle=now_cycle is not None and now_cycle.id == row.cycle_id,
        description=row.description,
        strategic_objective=row.strategic_objective,
        lead=row.lead,
        inherent=inherent,
        residual=residual,  # type: ignore[arg-type]
        target=target,  # type: ignore[arg-type]
        appetite=appetite_of(row),
        appetite_rationale=row.appetite_rationale or "",
        target_date=row.target_date,
        controls=list(row.controls),
        assurances=[AssuranceView(int(a["line"]), a["source"]) for a in row.assurances],
        lead_committee=row.lead_committee or "",
        assurance_level=row.assurance_level,
        gaps=[
            GapView(
                kind=gap["kind"],
                text=gap["text"],
                action_ids=[i for i in gap.get("action_ids", []) if i in linked],
                actions=_unique([linked[i] for i in gap.get("action_ids", []) if i in linked]),
            )
            for gap in row.gaps
        ],
        version=row.version,
        updated_at=row.updated_at,
        updated_by=updated_by.name if updated_by else None,
    )


def _unique(actions: list[LinkedActionView]) -> list[LinkedActionView]:
    return list({a.id: a for a in actions}.values())


def latest_continuations(session: Session, organisation_id: int, action_ids: list[int]) -> dict[int, int]:
    """Each action id → the id of the action that carries it forward to now (itself if none does)."""
    latest = {i: i for i in action_ids}
    frontier = set(action_ids)
    while frontier:
        rows = session.exec(
            select(Action.carried_from_action_id, Action.id).where(
                Action.organisation_id == organisation_id, col(Action.carried_from_action_id).in_(frontier)
            )
        ).all()
        step = {int(old): new for old, new in rows if old is not None}
        for original, current in latest.items():
            if current in step:
                latest[original] = step[current]
        frontier = set(step.values())
    return latest


def _linked_actions(
    session: Session, organisation_id: int, action_ids: list[int], today: date
) -> dict[int, LinkedActionView]:
    """Linked action id → the action as carried forward to now; ids of deleted actions are left out."""
    if not action_ids:
        return {}
    latest = latest_continuations(session, organisation_id, action_ids)
    rows = session.exec(
        select(Action, Cycle.name)
        .join(Assessment, col(Assessment.id) == Action.assessment_id)
        .join(Cycle, col(Cycle.id) == Assessment.cycle_id)
        .where(Action.organisation_id == organisation_id, col(Action.id).in_(set(latest.values())))
    ).all()
    found = {
        action.id: LinkedActionView(
            id=action.id,
            title=action.title,
            status=action.status,
            overdue=is_overdue(action.status, action.due_date, today),
            due_date=action.due_date,
            cycle=cycle_name,
            assessment_id=action.assessment_id,
        )
        for action, cycle_name in rows
    }
    return {original: found[current] for original, current in latest.items() if current in found}


# Text fields stored as NULL when empty (the columns came after the first risks were recorded).
TEXT_OR_NULL = ("appetite_rationale", "lead_committee")


# --- Saving ------------------------------------------------------------------------------------------------


def _content(row: BafRisk) -> dict[str, Any]:
    """The version's content as JSON: the date to reach target as an ISO date."""
    content = {name: getattr(row, name) for name in CONTENT_FIELDS}
    for name in TEXT_OR_NULL:
        content[name] = content[name] or ""
    if content["target_date"] is not None:
        content["target_date"] = content["target_date"].isoformat()
    return content


def _check_target_date(command: BafRiskContent, current: BafRisk | None, today: date) -> None:
    """A new date to reach target must not be in the past; one already saved may stay as it is."""
    if command.target_date is None or command.target_date >= today:
        return
    if current is not None and current.target_date == command.target_date:
        return
    raise FieldError("target_date", "The date to reach target must be today or in the future")


def _check_action_ids(session: Session, organisation_id: int, content: BafRiskContent) -> None:
    wanted = {i for gap in content.gaps for i in gap.action_ids}
    if not wanted:
        return
    ours = set(
        session.exec(
            select(Action.id).where(Action.organisation_id == organisation_id, col(Action.id).in_(wanted))
        ).all()
    )
    for index, gap in enumerate(content.gaps):
        for action_id in gap.action_ids:
            if action_id not in ours:
                raise FieldError(
                    f"gaps.{index}.action_ids", f"Action {action_id} is not one of this trust's actions"
                )


def save_baf_risk(
    session: Session,
    actor: User,
    organisation: Organisation,
    command: BafRiskUpdate,
    *,
    today: date | None = None,
) -> BafRisk:
    """Record a new version of the trust's risk in the current cycle.

    `command.version` is the version of the risk the person last saw (0 when none was recorded); saving over
    an earlier cycle's risk starts this cycle's at version 1 and leaves the earlier one as it was.
    """
    cycle = current_cycle(session, today)
    if cycle is None:
        raise Conflict("No assessment year has started yet, so there is no year to record the risk in")
    _check_action_ids(session, organisation.id, command)
    version = command.version
    current = latest_risk_row(session, organisation.id)
    seen = current.version if current else 0
    if version != seen:
        raise Conflict("The risk has changed since you opened it", current={"version": seen})
    _check_target_date(command, current, today or today_in_uk())
    values = command.model_dump(exclude={"version"})
    values["assurances"] = [{"line": a["line"], "source": a["source"]} for a in values["assurances"]]
    for name in TEXT_OR_NULL:  # "" is stored as NULL: not recorded
        values[name] = values[name] or None
    values["gaps"] = [
        {"kind": g["kind"], "text": g["text"], "action_ids": list(dict.fromkeys(g["action_ids"]))}
        for g in values["gaps"]
    ]
    now = utcnow()
    old_residual = positions(current)[1].score if current else None  # type: ignore[union-attr]
    if current is None or current.cycle_id != cycle.id:
        row = BafRisk(
            organisation_id=organisation.id,
            cycle_id=cycle.id,
            **values,
            version=1,
            created_at=now,
            updated_by_id=actor.id,
            updated_at=now,
        )
        if not added_first(session, row):
            raise Conflict("Someone else recorded this year's risk at the same time") from None
    else:
        previous = _content(current)
        saved_by_id, saved_at = current.updated_by_id, current.updated_at
        result = session.execute(
            update(BafRisk)
            .where(col(BafRisk.id) == current.id, col(BafRisk.version) == version)
            .values(**values, version=version + 1, updated_by_id=actor.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.expire(current)
            raise Conflict("Someone else saved the risk at the same time", current={"version": None})
        session.add(
            BafRiskVersion(
                baf_risk_id=current.id,
                version=version,
                content=previous,
                saved_by_id=saved_by_id,
                saved_at=saved_at,
                replaced_by_id=actor.id,
                replaced_at=now,
            )
        )
        session.flush()
        session.expire(current)
        row = current
    session.refresh(row)
    new_residual = positions(row)[1].score  # type: ignore[union-attr]
    record_about(
        session,
        "baf_risk.updated",
        row,
        f"Race equality BAF risk ({cycle.name}) saved: residual score "
        f"{old_residual if old_residual is not None else 'none'} → {new_residual}",
        actor=actor,
        organisation_id=organisation.id,
        details={
            "cycle": cycle.name,
            "version": row.version,
            "old_residual_score": old_residual,
            "new_residual_score": new_residual,
            "appetite_status": command.appetite_status,
            "assurance_level": command.assurance_level,
        },
    )
    session.flush()
    return row


# --- History -----------------------------------------------------------------------------------------------


class HistoryEntry(RiskVersionSaved):
    """A version with its content (CONTENT_FIELDS as JSON) and what the content works out to."""

    model_config = ConfigDict(frozen=True)

    content: dict[str, Any]

    @property
    def inherent(self) -> Position | None:
        return positions(self.content)[0]

    @property
    def residual(self) -> Position:
        return positions(self.content)[1]  # type: ignore[return-value]

    @property
    def target(self) -> Position:
        return positions(self.content)[2]  # type: ignore[return-value]

    @property
    def appetite(self) -> Appetite | None:
        return appetite_of(self.content)

    @property
    def appetite_status(self) -> str | None:
        return self.appetite.status(self.residual.score) if self.appetite else None

    @property
    def assurance_level(self) -> str | None:
        return self.content.get("assurance_level")


def risk_history(session: Session, organisation_id: int) -> list[HistoryEntry]:
    """Every version of the trust's risk, newest cycle first, newest version first within a cycle."""
    rows = session.exec(
        select(BafRisk, Cycle.name)
        .join(Cycle, col(Cycle.id) == BafRisk.cycle_id)
        .where(BafRisk.organisation_id == organisation_id)
        .order_by(col(Cycle.opens_on).desc())
    ).all()
    if not rows:
        return []
    versions: dict[int, list[BafRiskVersion]] = {}
    for version in session.exec(
        select(BafRiskVersion)
        .where(col(BafRiskVersion.baf_risk_id).in_([risk.id for risk, _name in rows]))
        .order_by(col(BafRiskVersion.version).desc())
    ).all():
        versions.setdefault(version.baf_risk_id, []).append(version)
    people_ids = {risk.updated_by_id for risk, _n in rows} | {
        person for rows_ in versions.values() for v in rows_ for person in (v.saved_by_id, v.replaced_by_id)
    }
    people = {
        user.id: user.name
        for user in session.exec(select(User).where(col(User.id).in_([i for i in people_ids if i]))).all()
    }

    def entry(
        cycle: str,
        version: int,
        content: dict[str, Any],
        saved_at: datetime,
        saved_by_id: int | None,
        replaced_at: datetime | None = None,
        replaced_by_id: int | None = None,
    ) -> HistoryEntry:
        """One version, with the names of who saved it and who replaced it (the current one: no one)."""
        return HistoryEntry(
            cycle=cycle,
            version=version,
            current=replaced_at is None,
            saved_at=saved_at,
            saved_by=people.get(saved_by_id or 0),
            replaced_at=replaced_at,
            replaced_by=people.get(replaced_by_id or 0),
            content=content,
        )

    entries: list[HistoryEntry] = []
    for risk, cycle_name in rows:
        entries.append(entry(cycle_name, risk.version, _content(risk), risk.updated_at, risk.updated_by_id))
        entries.extend(
            entry(
                cycle_name, v.version, v.content, v.saved_at, v.saved_by_id, v.replaced_at, v.replaced_by_id
            )
            for v in versions.get(risk.id, [])
        )
    return entries
