"""The action plan: reading, adding, changing and carrying forward a board's actions.

Services flush and never commit: the request's session commits each change with its audit event.
A change to an action is a compare-and-set on its version (UPDATE ... WHERE version = n), so a stale
edit answers 409 instead of overwriting someone else's. Every query starts from `readable_actions`,
already filtered to the caller's trusts.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.accounts.models import Membership, User
from api.accounts.principal import Principal
from api.actions.models import STATUS_NAMES, Action, ActionCriterion, ActionNote
from api.actions.schemas import ActionCreate, ActionUpdate, SuggestedActionCreate
from api.assessments.models import Assessment, Cycle
from api.assessments.repository import criteria_of
from api.audit.service import record, record_about
from api.db import utcnow
from api.errors import Conflict, FieldError, NotFound
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document
from api.integers import can_name_a_row
from api.public import filled
from api.scoring.maths import DISAGREEMENT_RULE
from api.scoring.report import SectionResult, score_report

# Sections scoring below this (as shown, to one decimal), or where members disagree, get suggestions.
LOW_SCORE_BELOW = 2.0
# A suggested action is due this many months after it is added; the board then edits it.
SUGGESTED_DUE_IN_MONTHS = 3
UK = ZoneInfo("Europe/London")
MAX_TITLE = 200


def today_in_uk() -> date:
    """Due dates are UK dates: an action due today is not overdue until the day ends in the UK."""
    return utcnow().astimezone(UK).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan → 30 Apr)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def is_overdue(status: str, due_date: date, today: date) -> bool:
    return status != "done" and due_date < today


# --- Scoped queries -----------------------------------------------------------------------------------


def readable_actions(principal: Principal) -> SelectOfScalar[Action]:
    """Actions of the trusts the caller sits on: the only way routes reach an action."""
    return select(Action).where(col(Action.organisation_id).in_(principal.organisation_ids))


def action_for(session: Session, principal: Principal, action_id: int) -> Action:
    """The caller's trust's action, or 404 (another trust's id is never confirmed)."""
    if not can_name_a_row(action_id):
        raise NotFound("No action with that id among your boards")
    action = session.exec(readable_actions(principal).where(Action.id == action_id)).first()
    if action is None:
        raise NotFound("No action with that id among your boards")
    return action


# --- What pages, the API and the board report read ----------------------------------------------------


@dataclass(frozen=True)
class CriterionRef:
    key: str
    statement: str
    section_key: str | None


@dataclass(frozen=True)
class NoteView:
    id: int
    text: str
    noted_on: date
    author: str | None
    created_at: datetime


@dataclass
class ActionView:
    """One action as the board reads it; `overdue` is worked out from the date, never stored."""

    id: int
    assessment_id: int
    organisation_id: int
    cycle: str
    title: str
    description: str
    owner: str
    due_date: date
    status: str
    overdue: bool
    criteria: list[CriterionRef]
    section_key: str | None
    section_title: str | None
    carried_from_action_id: int | None
    carried_from_cycle: str | None
    carried_to_action_id: int | None
    notes: list[NoteView]
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status]

    @property
    def criterion_keys(self) -> list[str]:
        return [c.key for c in self.criteria]


@dataclass(frozen=True)
class Framing:
    """An assessment's framework, as far as actions need it: sections and applicable criteria."""

    doc: FrameworkDefinition
    sections: dict[str, FrameworkSection]
    criteria: dict[str, tuple[FrameworkSection, Criterion]]

    def section_criteria(self, section_key: str) -> list[str]:
        return [key for key, (section, _c) in self.criteria.items() if section.key == section_key]

    def section_title(self, section_key: str | None) -> str | None:
        section = self.sections.get(section_key or "")
        if section is None:
            return None
        return f"{section.number}. {section.title}" if section.kind == "priority" else section.title


def framing(session: Session, assessment: Assessment) -> Framing:
    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert framework is not None
    pairs = criteria_of(session, assessment)
    sections = {section.key: section for section, _c in pairs}
    return Framing(
        doc=framework_document(framework),
        sections=sections,
        criteria={criterion.key: (section, criterion) for section, criterion in pairs},
    )


def actions_for_assessment(
    session: Session,
    assessment: Assessment,
    *,
    status: str | None = None,
    owner: str | None = None,
    priority: str | None = None,
    today: date | None = None,
) -> list[ActionView]:
    """The assessment's actions, open ones first by due date, then done ones, each with its notes.

    `status` may also be "overdue". `priority` is a section key: actions linked to it or to one
    of its criteria. The caller has already checked the assessment is one of the caller's trusts'.
    """
    today = today or today_in_uk()
    frame = framing(session, assessment)
    statement = select(Action).where(Action.assessment_id == assessment.id)
    if status == "overdue":
        statement = statement.where(Action.status != "done", col(Action.due_date) < today)
    elif status:
        statement = statement.where(Action.status == status)
    if owner:
        statement = statement.where(func.lower(Action.owner) == owner.strip().lower())
    if priority:
        keys = frame.section_criteria(priority) or ["-"]
        statement = statement.where(
            or_(
                col(Action.section_key) == priority,
                exists(
                    select(ActionCriterion.action_id).where(
                        ActionCriterion.action_id == Action.id,
                        col(ActionCriterion.criterion_key).in_(keys),
                    )
                ),
            )
        )
    statement = statement.order_by(
        case((col(Action.status) == "done", 1), else_=0), col(Action.due_date), col(Action.id)
    )
    actions = list(session.exec(statement).all())
    return _views(session, actions, frame, today)


def action_view(session: Session, action: Action, today: date | None = None) -> ActionView:
    assessment = session.get(Assessment, action.assessment_id)
    assert assessment is not None
    return _views(session, [action], framing(session, assessment), today or today_in_uk())[0]


def _views(session: Session, actions: list[Action], frame: Framing, today: date) -> list[ActionView]:
    """Views of actions of one assessment, in four queries whatever their number."""
    if not actions:
        return []
    ids = [a.id for a in actions]
    links: dict[int, list[str]] = {}
    for link in session.exec(
        select(ActionCriterion)
        .where(col(ActionCriterion.action_id).in_(ids))
        .order_by(col(ActionCriterion.criterion_key))
    ).all():
        links.setdefault(link.action_id, []).append(link.criterion_key)
    notes: dict[int, list[NoteView]] = {}
    for note, author in session.exec(
        select(ActionNote, User.name)
        .outerjoin(User, col(User.id) == ActionNote.author_id)
        .where(col(ActionNote.action_id).in_(ids))
        .order_by(col(ActionNote.noted_on).desc(), col(ActionNote.id).desc())
    ).all():
        notes.setdefault(note.action_id, []).append(
            NoteView(
                id=note.id, text=note.text, noted_on=note.noted_on, author=author, created_at=note.created_at
            )
        )
    # The cycle of each action, of the action each continues, and which later action continues it.
    earlier = aliased(Action)
    earlier_assessment = aliased(Assessment)
    earlier_cycle = aliased(Cycle)
    cycle_name = session.exec(
        select(Cycle.name)
        .join(Assessment, col(Assessment.cycle_id) == Cycle.id)
        .where(Assessment.id == actions[0].assessment_id)
    ).one()
    carried_from = dict(
        session.exec(
            select(earlier.id, earlier_cycle.name)
            .join(earlier_assessment, earlier_assessment.id == earlier.assessment_id)
            .join(earlier_cycle, earlier_cycle.id == earlier_assessment.cycle_id)
            .where(
                col(earlier.id).in_([a.carried_from_action_id for a in actions if a.carried_from_action_id])
            )
        ).all()
    )
    carried_to = dict(
        session.exec(
            select(Action.carried_from_action_id, Action.id).where(
                col(Action.carried_from_action_id).in_(ids)
            )
        ).all()
    )
    views = []
    for action in actions:
        criteria = [
            CriterionRef(key, frame.criteria[key][1].statement, frame.criteria[key][0].key)
            if key in frame.criteria
            else CriterionRef(key, key, None)
            for key in links.get(action.id, [])
        ]
        views.append(
            filled(
                ActionView,
                action,
                cycle=cycle_name,
                overdue=is_overdue(action.status, action.due_date, today),
                criteria=criteria,
                section_title=frame.section_title(action.section_key),
                carried_from_cycle=carried_from.get(action.carried_from_action_id),
                carried_to_action_id=carried_to.get(action.id),
                notes=notes.get(action.id, []),
            )
        )
    return views


def owners_of(session: Session, assessment: Assessment) -> list[str]:
    """The owners named on the assessment's actions, for the owner filter."""
    rows = session.exec(
        select(Action.owner).where(Action.assessment_id == assessment.id, Action.owner != "").distinct()
    ).all()
    return sorted(set(rows), key=str.lower)


def board_member_names(session: Session, organisation_id: int) -> list[str]:
    """Names of the trust's board members, offered as owners."""
    rows = session.exec(
        select(User.name)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.organisation_id == organisation_id, col(User.is_active).is_(True))
    ).all()
    return sorted(set(rows), key=str.lower)


def latest_assessment(session: Session, organisation_id: int) -> Assessment | None:
    """The trust's assessment in the latest cycle it has one for (where its action plan lives now)."""
    return session.exec(
        select(Assessment)
        .join(Cycle, col(Cycle.id) == Assessment.cycle_id)
        .where(Assessment.organisation_id == organisation_id)
        .order_by(col(Cycle.opens_on).desc())
    ).first()


# --- Checking what was sent -------------------------------------------------------------------------


def _check_criteria(frame: Framing, keys: list[str]) -> list[str]:
    unique = list(dict.fromkeys(key.strip() for key in keys if key.strip()))
    for key in unique:
        if key not in frame.criteria:
            raise FieldError("criteria", f"{key!r} is not a criterion of this assessment")
    return unique


def _check_section(frame: Framing, section: str | None, criteria: list[str]) -> str | None:
    if section:
        if section not in frame.sections:
            raise FieldError("section", f"{section!r} is not a section (priority) of this assessment")
        return section
    # With no priority named, the action addresses the priority of its first criterion.
    return frame.criteria[criteria[0]][0].key if criteria else None


def _check_due_date(due_date: date | None, today: date) -> date:
    if due_date is None:
        raise FieldError("due_date", "Enter the date the action is due")
    if due_date < today:
        raise FieldError("due_date", "The due date must be today or in the future")
    return due_date


# --- Adding, changing, deleting -------------------------------------------------------------------------


def create_action(
    session: Session,
    actor: User,
    assessment: Assessment,
    command: ActionCreate,
    *,
    today: date | None = None,
    source: str | None = None,
) -> Action:
    """Add the action `command` describes (its title, lengths and status already checked by the
    model); here the rules that need the assessment: a due date from today, its own criteria."""
    today = today or today_in_uk()
    frame = framing(session, assessment)
    title = command.title
    due_date = _check_due_date(command.due_date, today)
    criteria = _check_criteria(frame, command.criteria)
    section = _check_section(frame, command.section, criteria)
    now = utcnow()
    action = Action(
        assessment_id=assessment.id,
        organisation_id=assessment.organisation_id,
        title=title[:MAX_TITLE],
        description=command.description,
        owner=command.owner,
        due_date=due_date,
        status=command.status,
        section_key=section,
        created_by_id=actor.id,
        created_at=now,
        updated_by_id=actor.id,
        updated_at=now,
    )
    session.add(action)
    session.flush()
    session.add_all(ActionCriterion(action_id=action.id, criterion_key=key) for key in criteria)
    record_about(
        session,
        "action.created",
        action,
        f"Action added: {action.title}"[:500],
        actor=actor,
        organisation_id=assessment.organisation_id,
        details={
            "title": action.title,
            "assessment_id": assessment.id,
            **({"source": source} if source else {}),
        },
    )
    session.flush()
    return action


UPDATABLE = ("title", "description", "owner", "due_date", "status", "criteria", "section")


def update_action(
    session: Session,
    actor: User,
    action: Action,
    command: ActionUpdate,
    *,
    today: date | None = None,
) -> Action:
    """Change the fields the command was sent with; `command.version` is the version last seen."""
    today = today or today_in_uk()
    version = command.version
    changes = command.model_dump(include=set(UPDATABLE) & command.model_fields_set)
    if action.version != version:
        raise Conflict("This action has changed since you opened it", current=_current(session, action))
    assessment = session.get(Assessment, action.assessment_id)
    assert assessment is not None
    frame = framing(session, assessment)
    values: dict[str, Any] = {}
    changed: dict[str, list[Any]] = {}
    old_criteria = sorted(
        session.exec(
            select(ActionCriterion.criterion_key).where(ActionCriterion.action_id == action.id)
        ).all()
    )
    if "title" in changes:
        values["title"] = changes["title"]
    for name in ("description", "owner"):
        if name in changes:
            values[name] = (changes[name] or "").strip()
    if "status" in changes:
        values["status"] = changes["status"]
    if "due_date" in changes and changes["due_date"] != action.due_date:
        # An overdue action can keep its date; a new date must not be in the past.
        values["due_date"] = _check_due_date(changes["due_date"], today)
    new_criteria = None
    if "criteria" in changes:
        new_criteria = _check_criteria(frame, changes["criteria"] or [])
    if "section" in changes:
        values["section_key"] = _check_section(frame, changes["section"], [])
    for name, value in values.items():
        old = getattr(action, name)
        if old != value:
            changed[name] = [_plain(old), _plain(value)]
    if new_criteria is not None and sorted(new_criteria) != old_criteria:
        changed["criteria"] = [old_criteria, sorted(new_criteria)]
    if not changed:
        # Saved as it was: no new version, no audit event.
        return action
    now = utcnow()
    result = session.execute(
        update(Action)
        .where(col(Action.id) == action.id, col(Action.version) == version)
        .values(**values, version=version + 1, updated_by_id=actor.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(action)
        raise Conflict(
            "This action was changed by someone else at the same time", current=_current(session, action)
        )
    if new_criteria is not None and "criteria" in changed:
        session.execute(delete(ActionCriterion).where(col(ActionCriterion.action_id) == action.id))
        session.add_all(ActionCriterion(action_id=action.id, criterion_key=key) for key in new_criteria)
    record_about(
        session,
        "action.updated",
        action,
        _update_summary(values.get("title", action.title), changed),
        actor=actor,
        details={"changed": {name: pair for name, pair in changed.items() if name != "description"}}
        | ({"description_changed": True} if "description" in changed else {}),
    )
    session.flush()
    session.refresh(action)
    return action


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _update_summary(title: str, changed: dict[str, list[Any]]) -> str:
    if "status" in changed:
        old, new = changed["status"]
        return f"Action '{title}' moved from {STATUS_NAMES[old].lower()} to {STATUS_NAMES[new].lower()}"[:500]
    fields = ", ".join(name.replace("_", " ") for name in changed) or "nothing"
    return f"Action '{title}' changed: {fields}"[:500]


def _current(session: Session, action: Action) -> dict[str, Any]:
    session.refresh(action)
    return {"version": action.version, "status": action.status, "title": action.title}


def delete_action(session: Session, actor: User, action: Action, *, version: int | None = None) -> None:
    if version is not None and action.version != version:
        raise Conflict("This action has changed since you opened it", current=_current(session, action))
    title, action_id, organisation_id = action.title, action.id, action.organisation_id
    session.delete(action)
    session.flush()
    record(
        session,
        "action.deleted",
        actor=actor,
        organisation_id=organisation_id,
        object_type="action",
        object_id=action_id,
        summary=f"Action deleted: {title}"[:500],
        details={"title": title},
    )
    session.flush()


def add_note(
    session: Session,
    actor: User,
    action: Action,
    text: str,
    noted_on: date | None,
    *,
    today: date | None = None,
) -> ActionNote:
    today = today or today_in_uk()
    text = text.strip()
    if not text:
        raise FieldError("text", "Enter the progress note")
    noted_on = noted_on or today
    if noted_on > today:
        raise FieldError("noted_on", "The date of a progress note cannot be in the future")
    note = ActionNote(action_id=action.id, text=text, noted_on=noted_on, author_id=actor.id)
    session.add(note)
    session.flush()
    record_about(
        session, "action.note_added", action, f"Progress note added to '{action.title}'"[:500], actor=actor
    )
    return note


# --- Suggested actions from the framework ------------------------------------------------------------------


@dataclass(frozen=True)
class SuggestedAction:
    index: int
    text: str


@dataclass(frozen=True)
class CriterionSuggestions:
    key: str
    statement: str
    consensus: int | None
    disagreement: bool
    actions: list[SuggestedAction]


@dataclass(frozen=True)
class ResourceSuggestion:
    index: int
    title: str
    description: str
    url: str | None


@dataclass(frozen=True)
class SectionSuggestions:
    key: str
    title: str
    score: float | None
    reasons: list[str]
    criteria: list[CriterionSuggestions]
    resources: list[ResourceSuggestion]


def needs_action(section: SectionResult) -> bool:
    """A section scoring below 2.0, or where members' ratings differ widely: offer suggestions."""
    shown = section.score.shown
    return (shown is not None and shown < LOW_SCORE_BELOW) or section.disagreement


def suggestions_for(
    session: Session, assessment: Assessment, viewer_id: int | None, *, section_key: str | None = None
) -> list[SectionSuggestions]:
    """Suggestions beside each section that needs action; or, for `section_key`, that section's.

    "Members differ" follows the same rule as every members' figure shown to `viewer_id`
    (spread.py): otherwise a suggestion could say what the reader is not shown."""
    report = score_report(session, assessment, viewer_id)
    doc = framing(session, assessment).doc
    groups = []
    for section in report.sections:
        if section_key is not None and section.key != section_key:
            continue
        if section_key is None and not needs_action(section):
            continue
        section_doc = next(s for s in doc.sections if s.key == section.key)
        reasons = []
        if section.score.shown is not None and section.score.shown < LOW_SCORE_BELOW:
            reasons.append(f"Scored {section.score.shown:.1f} of 4, below {LOW_SCORE_BELOW:.1f}")
        if section.disagreement:
            reasons.append("Members see it differently: " + DISAGREEMENT_RULE)
        weak = [
            c
            for c in section.criteria
            if c.disagreement or c.consensus is None or c.consensus < LOW_SCORE_BELOW
        ] or section.criteria
        criteria = []
        for result in weak:
            definition = doc.criterion(result.key)
            if definition is None:
                continue
            criteria.append(
                CriterionSuggestions(
                    key=result.key,
                    statement=result.statement,
                    consensus=result.consensus,
                    disagreement=result.disagreement,
                    actions=[SuggestedAction(i, text) for i, text in enumerate(definition.suggested_actions)],
                )
            )
        groups.append(
            SectionSuggestions(
                key=section.key,
                title=f"{section.number}. {section.title}" if section.kind == "priority" else section.title,
                score=section.score.shown,
                reasons=reasons,
                criteria=criteria,
                resources=[
                    ResourceSuggestion(i, r.title, r.description, r.url)
                    for i, r in enumerate(section_doc.resources)
                ],
            )
        )
    return groups


def suggested_fields(
    session: Session,
    assessment: Assessment,
    *,
    criterion: str | None,
    section: str | None,
    index: int,
    today: date,
) -> ActionCreate:
    """The pre-filled action for one framework suggestion (the board edits it afterwards)."""
    frame = framing(session, assessment)
    due = add_months(today, SUGGESTED_DUE_IN_MONTHS)
    if criterion is not None:
        if criterion not in frame.criteria:
            raise FieldError("criterion", f"{criterion!r} is not a criterion of this assessment")
        definition = frame.doc.criterion(criterion)
        assert definition is not None
        if not 0 <= index < len(definition.suggested_actions):
            raise FieldError(
                "index", f"{criterion!r} has {len(definition.suggested_actions)} suggested actions"
            )
        text = definition.suggested_actions[index]
        section_row, criterion_row = frame.criteria[criterion]
        title = text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1].rsplit(" ", 1)[0] + "…"
        return ActionCreate(
            title=title,
            description=f"{text}\n\nSuggested for the statement: {criterion_row.statement}",
            due_date=due,
            criteria=[criterion],
            section=section_row.key,
        )
    assert section is not None
    if section not in frame.sections:
        raise FieldError("section", f"{section!r} is not a section (priority) of this assessment")
    resources = next(s for s in frame.doc.sections if s.key == section).resources
    if not 0 <= index < len(resources):
        raise FieldError("index", f"{section!r} has {len(resources)} resources")
    resource = resources[index]
    description = resource.description + (f"\n\n{resource.url}" if resource.url else "")
    return ActionCreate(
        title=f"Review and use: {resource.title}"[:MAX_TITLE],
        description=description,
        due_date=due,
        section=section,
    )


def create_suggested_action(
    session: Session,
    actor: User,
    assessment: Assessment,
    command: SuggestedActionCreate,
    *,
    today: date | None = None,
) -> Action:
    today = today or today_in_uk()
    criterion, section, index = command.criterion, command.section, command.index
    fields = suggested_fields(
        session, assessment, criterion=criterion, section=section, index=index, today=today
    )
    source = f"criterion:{criterion}:{index}" if criterion else f"resource:{section}:{index}"
    return create_action(session, actor, assessment, fields, today=today, source=source)


# --- Carrying forward into the next cycle -------------------------------------------------------------------


def _criterion_key_map(session: Session, assessment: Assessment) -> dict[str, str]:
    """Old criterion key → the key in this assessment's framework (itself, or the one that replaces it)."""
    frame = framing(session, assessment)
    mapping: dict[str, str] = {}
    for key in frame.criteria:
        mapping[key] = key
    for key in frame.criteria:
        definition = frame.doc.criterion(key)
        for old in definition.replaces if definition else []:
            mapping.setdefault(old, key)
    return mapping


# What an action carried into the next year keeps as it was.
CARRIED_FIELDS = ("title", "description", "owner", "due_date", "status")


def carry_forward_actions(session: Session, previous: Assessment | None, new: Assessment) -> list[Action]:
    """Copy every action of `previous` that is not done into `new`, with its criteria and notes.

    Called when a trust opens its next assessment. The old actions are left as they were; each copy
    points back to the one it continues (carried_from_action_id).
    """
    if previous is None:
        return []
    open_actions = list(
        session.exec(
            select(Action)
            .where(Action.assessment_id == previous.id, Action.status != "done")
            .order_by(col(Action.id))
        ).all()
    )
    if not open_actions:
        return []
    ids = [a.id for a in open_actions]
    key_map = _criterion_key_map(session, new)
    section_keys = set(framing(session, new).sections)
    copies: dict[int, Action] = {}
    now = utcnow()
    for old in open_actions:
        copy = Action(
            **{name: getattr(old, name) for name in CARRIED_FIELDS},
            assessment_id=new.id,
            organisation_id=new.organisation_id,
            section_key=old.section_key if old.section_key in section_keys else None,
            created_by_id=new.opened_by_id,
            created_at=now,
            updated_by_id=new.opened_by_id,
            updated_at=now,
            carried_from_action_id=old.id,
        )
        session.add(copy)
        copies[old.id] = copy
    session.flush()
    seen: set[tuple[int, str]] = set()
    for link in session.exec(select(ActionCriterion).where(col(ActionCriterion.action_id).in_(ids))).all():
        mapped = key_map.get(link.criterion_key)
        target = copies[link.action_id].id
        if mapped and target is not None and (target, mapped) not in seen:
            seen.add((target, mapped))
            session.add(ActionCriterion(action_id=target, criterion_key=mapped))
    for note in session.exec(
        select(ActionNote).where(col(ActionNote.action_id).in_(ids)).order_by(col(ActionNote.id))
    ).all():
        session.add(
            ActionNote(
                action_id=copies[note.action_id].id,
                text=note.text,
                noted_on=note.noted_on,
                author_id=note.author_id,
                created_at=note.created_at,
            )
        )
    cycle = session.get(Cycle, previous.cycle_id)
    record_about(
        session,
        "action.carried_forward",
        new,
        f"{len(copies)} unfinished actions carried forward from {cycle.name if cycle else 'last year'}",
        actor=session.get(User, new.opened_by_id) if new.opened_by_id else None,
        details={"from_assessment_id": previous.id, "action_ids": {str(k): v.id for k, v in copies.items()}},
    )
    session.flush()
    return list(copies.values())
