"""Reading the audit log: what a trust's chair and secretary may see, and the platform admin's whole log.

A trust reads the events recorded against it, plus the reader's own sign-ins, sign-outs and password
events: never another member's, since when a member signed in, beside when ratings changed, could name
a rater. Each member's own ratings are confidential, so in every log (the platform admin's too) their
`rating.changed` events become one line per assessment and day with a count: no name, no time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import JSON, Integer, String, and_, cast, false, func, literal_column, null, or_, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session, col, select

from api.accounts.models import ROLE_NAMES, User
from api.audit.models import AuditEvent
from api.db import UTCDateTime
from api.frameworks.models import Criterion
from api.organisations.models import Organisation

LONDON = ZoneInfo("Europe/London")
PER_PAGE = 50
OWN_RATINGS = "rating.changed"
# The person an event is about (the account created, the member whose role changed).
Subject = aliased(User, name="subject")


@dataclass(frozen=True)
class Kind:
    label: str
    actions: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def condition(self) -> ColumnElement[bool]:
        return _action_condition(self.actions, self.prefixes)


# The filter on the log pages: each action belongs to one kind.
KINDS: dict[str, Kind] = {
    "sign_ins": Kind(
        "Sign-ins", ("sign_in", "sign_in.failed", "sign_in.linked", "sign_out"), ("password.", "two_factor.")
    ),
    "membership": Kind("Membership", ("user.created",), ("invitation.", "member.", "trust.")),
    "assessment": Kind(
        "Assessment", ("cycle.opened", OWN_RATINGS, "consensus.changed"), ("assessment.", "evidence.")
    ),
    "exports": Kind("Exports", (), ("export.",)),
}
# The platform admin's log has one filter more: failed sign-ins (wrong passwords and codes, and tries
# refused while waiting), to spot someone guessing. A trust's log keeps KINDS.
PLATFORM_KINDS: dict[str, Kind] = {**KINDS, "failed_sign_ins": Kind("Failed sign-ins", ("sign_in.failed",))}
# A person's own account events carry no trust: each board the person sits on now may read them.
PERSONAL = Kind("Personal", ("sign_in", "sign_in.failed", "sign_in.linked", "sign_out"), ("password.",))


def _action_condition(actions: tuple[str, ...], prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if actions:
        parts.append(col(AuditEvent.action).in_(actions))
    # autoescape: the underscore in "two_factor." is a LIKE wildcard otherwise.
    parts.extend(col(AuditEvent.action).startswith(prefix, autoescape=True) for prefix in prefixes)
    return or_(*parts) if parts else false()


@dataclass(frozen=True)
class LogFilters:
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.kind is not None:
            conditions.append(PLATFORM_KINDS[self.kind].condition())
        if self.date_from is not None:
            conditions.append(col(AuditEvent.occurred_at) >= london_midnight(self.date_from))
        if self.date_to is not None:
            conditions.append(col(AuditEvent.occurred_at) < london_midnight(self.date_to + timedelta(days=1)))
        return conditions


def london_midnight(day: date) -> datetime:
    """The UTC instant a day starts in the UK, so a date filter follows British Summer Time."""
    return datetime.combine(day, time(), tzinfo=LONDON).astimezone(UTC)


@dataclass(frozen=True)
class LogEntry:
    """One line of the log: an event as recorded, or a trust's daily count of members' own-rating updates."""

    event_id: int | None
    # None on a daily count: the time would point to who rated.
    occurred_at: datetime | None
    day: date
    action: str
    description: str
    who: str
    actor_email: str | None
    organisation_name: str | None
    summary: str
    details: dict[str, Any]
    client_ip: str | None
    updates: int | None = None

    @property
    def is_daily_count(self) -> bool:
        return self.updates is not None

    @property
    def local_time(self) -> datetime | None:
        return self.occurred_at.astimezone(LONDON) if self.occurred_at else None


@dataclass(frozen=True)
class LogPage:
    entries: list[LogEntry]
    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.entries else 0

    @property
    def last_number(self) -> int:
        return (self.page - 1) * self.per_page + len(self.entries)


# --- The readable statements ---------------------------------------------------------------------


def readable_by_trust(organisation_id: int, reader_id: int) -> ColumnElement[bool]:
    """Events a trust's chair or secretary may read: the trust's own (own-rating events still need
    aggregating), and the reader's own personal events (sign-ins and password changes). Other
    members' sign-in times are never shown: beside the rating activity they could name a rater."""
    return or_(
        col(AuditEvent.organisation_id) == organisation_id,
        and_(
            col(AuditEvent.organisation_id).is_(None),
            PERSONAL.condition(),
            col(AuditEvent.actor_id) == reader_id,
        ),
    )


def _london_day(session: Session) -> ColumnElement[Any]:
    """The UK calendar day of an event, computed by the database so it can group and sort by it."""
    if session.get_bind().dialect.name == "postgresql":
        # A literal, not a bound parameter, so GROUP BY sees the same expression as SELECT.
        return func.date(func.timezone(literal_column("'Europe/London'"), AuditEvent.occurred_at))
    # SQLite has no time zones: lend this connection Python's (it stores UTC as ISO text).
    driver_connection = session.connection().connection.driver_connection
    driver_connection.create_function("london_day", 1, _sqlite_london_day, deterministic=True)  # type: ignore[union-attr]
    return func.london_day(AuditEvent.occurred_at)


def _sqlite_london_day(stored: str | None) -> str | None:
    if stored is None:
        return None
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).astimezone(LONDON).date().isoformat()


def _event_rows(day: ColumnElement[Any]) -> Select[Any]:
    return (
        select(
            col(AuditEvent.id).label("event_id"),
            col(AuditEvent.occurred_at).label("occurred_at"),
            day.label("day"),
            literal_column("0").label("is_daily_count"),
            cast(null(), Integer).label("updates"),
            col(AuditEvent.actor_id).label("actor_id"),
            col(AuditEvent.actor_email).label("actor_email"),
            col(User.name).label("actor_name"),
            col(Organisation.name).label("organisation_name"),
            col(AuditEvent.action).label("action"),
            col(AuditEvent.summary).label("summary"),
            col(AuditEvent.details).label("details"),
            col(AuditEvent.client_ip).label("client_ip"),
            col(Subject.email).label("subject_email"),
        )
        .select_from(AuditEvent)
        .outerjoin(User, col(User.id) == AuditEvent.actor_id)
        .outerjoin(Subject, and_(col(AuditEvent.object_type) == "user", Subject.id == AuditEvent.object_id))
        .outerjoin(Organisation, col(Organisation.id) == AuditEvent.organisation_id)
    )


def _daily_own_rating_counts(day: ColumnElement[Any]) -> Select[Any]:
    """Members' own-rating events, one row per trust, assessment and day: how many, never who or when."""
    return (
        select(
            cast(null(), Integer).label("event_id"),
            cast(null(), UTCDateTime).label("occurred_at"),
            day.label("day"),
            literal_column("1").label("is_daily_count"),
            func.count().label("updates"),
            cast(null(), Integer).label("actor_id"),
            cast(null(), String).label("actor_email"),
            cast(null(), String).label("actor_name"),
            func.max(Organisation.name).label("organisation_name"),
            literal_column(f"'{OWN_RATINGS}'").label("action"),
            cast(null(), String).label("summary"),
            cast(null(), JSON).label("details"),
            cast(null(), String).label("client_ip"),
            cast(null(), String).label("subject_email"),
        )
        .select_from(AuditEvent)
        .outerjoin(Organisation, col(Organisation.id) == AuditEvent.organisation_id)
        .where(col(AuditEvent.action) == OWN_RATINGS)
        .group_by(day, AuditEvent.organisation_id, AuditEvent.object_id)
    )


def trust_log_statement(
    session: Session, organisation_id: int, filters: LogFilters, reader_id: int
) -> Select[Any]:
    """A trust's log as `reader_id` may read it: readable events, with own-rating events replaced by
    their daily counts."""
    day = _london_day(session)
    filtered = filters.conditions()
    events = _event_rows(day).where(
        readable_by_trust(organisation_id, reader_id), col(AuditEvent.action) != OWN_RATINGS, *filtered
    )
    parts = [events]
    if filters.kind in (None, "assessment"):
        parts.append(
            _daily_own_rating_counts(day).where(col(AuditEvent.organisation_id) == organisation_id, *filtered)
        )
    # sqlalchemy's select, not sqlmodel's: one subquery argument must still give whole rows.
    return sa.select(union_all(*parts).subquery("entries"))


def platform_log_statement(session: Session, filters: LogFilters) -> Select[Any]:
    """Every event as recorded, except members' own-rating events: those as counts per trust,
    assessment and day (who rated, and when, is nobody's to read, the service team's included)."""
    day = _london_day(session)
    filtered = filters.conditions()
    parts = [_event_rows(day).where(col(AuditEvent.action) != OWN_RATINGS, *filtered)]
    if filters.kind in (None, "assessment"):
        parts.append(_daily_own_rating_counts(day).where(*filtered))
    return sa.select(union_all(*parts).subquery("entries"))


def _newest_first(statement: Select[Any]) -> Select[Any]:
    entries = statement.selected_columns
    # A day's count of own-rating updates heads that day: its place must not hint at when they were.
    return statement.order_by(
        entries.day.desc(),
        entries.is_daily_count.desc(),
        entries.occurred_at.desc(),
        entries.event_id.desc(),
    )


def log_page(session: Session, statement: Select[Any], page: int) -> LogPage:
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()  # type: ignore[call-overload]
    page = max(1, min(page, max(1, -(-total // PER_PAGE))))
    rows = session.exec(_newest_first(statement).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()  # type: ignore[call-overload]
    return LogPage(entries=_entries(session, rows), page=page, total=total)


def all_entries(session: Session, statement: Select[Any]) -> list[LogEntry]:
    return _entries(session, session.exec(_newest_first(statement)).all())  # type: ignore[call-overload]


# --- Plain English -------------------------------------------------------------------------------


def _entries(session: Session, rows: Any) -> list[LogEntry]:
    statements = _criterion_statements(session, rows)
    return [
        LogEntry(
            event_id=row.event_id,
            occurred_at=row.occurred_at,
            day=row.day if isinstance(row.day, date) else date.fromisoformat(row.day),
            action=row.action,
            description=describe(
                row.action,
                row.summary or "",
                row.details or {},
                statements=statements,
                subject=row.subject_email,
                updates=row.updates,
            ),
            who=_who(row),
            actor_email=row.actor_email,
            organisation_name=row.organisation_name,
            summary=row.summary or "",
            details=row.details or {},
            client_ip=row.client_ip,
            updates=row.updates,
        )
        for row in rows
    ]


def _criterion_statements(session: Session, rows: Any) -> dict[Any, str]:
    """Criterion statements for the consensus events on the page, by key (and by id), in one query."""
    wanted = {
        row.details.get("criterion")
        for row in rows
        if row.action == "consensus.changed" and isinstance(row.details, dict)
    } - {None}
    if not wanted:
        return {}
    keys = [w for w in wanted if isinstance(w, str)]
    ids = [w for w in wanted if isinstance(w, int)]
    found = session.exec(
        select(Criterion.id, Criterion.key, Criterion.statement)
        .where(or_(col(Criterion.key).in_(keys), col(Criterion.id).in_(ids)))
        .order_by(col(Criterion.framework_id))
    ).all()
    # Keys are stable across framework versions; the newest wording wins.
    return {**{key: text for _, key, text in found}, **{id_: text for id_, _, text in found}}


def _who(row: Any) -> str:
    if row.updates is not None:
        return ""
    if row.actor_name or row.actor_email:
        return row.actor_name or row.actor_email
    return "Unknown person" if row.action == "sign_in.failed" else "The service"


def _short(text: str, limit: int = 50) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _level(value: Any) -> str:
    return "not set" if value is None else str(value)


def _role(value: Any) -> str:
    return ROLE_NAMES.get(str(value), str(value)).lower()


FIXED_SENTENCES = {
    "sign_in": "Signed in",
    "sign_in.linked": "Linked their account to single sign-on",
    "sign_out": "Signed out",
    "password.reset": "Reset their password",
    "password.changed": "Changed their password",
    "invitation.accepted": "Accepted their invitation to the board",
    "two_factor.enabled": "Turned on two-factor authentication",
    "two_factor.disabled": "Turned off two-factor authentication",
    "two_factor.recovery_codes_renewed": "Made new recovery codes for two-factor authentication",
    "trust.two_factor_required": "Required two-factor authentication for everyone on the board",
    "trust.two_factor_optional": "Made two-factor authentication optional for the board",
    "assessment.submitted": "Submitted the assessment",
    OWN_RATINGS: "Updated their own ratings",
}
FALLBACK_SENTENCES = {
    "user.created": "Created an account",
    "invitation.sent": "Sent an invitation to join the board",
    "member.role_changed": "Changed a board member's role",
    "member.removed": "Removed a board member",
    "assessment.opened": "Opened the assessment",
    "evidence.added": "Added evidence",
    "evidence.removed": "Removed evidence",
    "export.downloaded": "Downloaded an export",
    "personal_data.downloaded": "Downloaded their own data",
    "person.erased": "Erased a person's name and email",
    "retention.ratings_deleted": "Deleted members' own ratings past the retention period",
}


def describe(
    action: str,
    summary: str,
    details: dict[str, Any],
    *,
    statements: dict[Any, str] | None = None,
    subject: str | None = None,
    updates: int | None = None,
) -> str:
    """One plain English sentence for an event, from its action and details (else its summary)."""
    if updates is not None:
        return f"Board members updated their own ratings ({updates} update{'s' if updates != 1 else ''})"
    if action in FIXED_SENTENCES:
        return FIXED_SENTENCES[action]
    if action == "sign_in.failed":
        return (
            f"Failed attempt to sign in as {details['email']}" if details.get("email") else "Failed sign-in"
        )
    if action == "consensus.changed" and "criterion" in details:
        criterion = (statements or {}).get(details["criterion"], str(details["criterion"]))
        old, new = details.get("old_level"), details.get("new_level")
        if old is None:
            return f"Consensus for '{_short(criterion)}' set to {_level(new)}"
        return f"Consensus for '{_short(criterion)}' changed from {_level(old)} to {_level(new)}"
    if action == "assessment.reopened":
        reason = details.get("reason")
        return (
            f"Reopened the assessment. Reason: {reason}" if reason else summary or "Reopened the assessment"
        )
    if action == "user.created" and subject:
        role = f" as {_role(details['role'])}" if details.get("role") else ""
        return f"Created an account for {subject}{role}"
    if action == "member.role_changed" and details.get("old_role") and details.get("new_role"):
        member = subject or details.get("email") or "a board member"
        return f"Changed {member}'s role from {_role(details['old_role'])} to {_role(details['new_role'])}"
    if action == "invitation.sent" and (details.get("email") or subject):
        role = f" as {_role(details['role'])}" if details.get("role") else ""
        return f"Invited {details.get('email') or subject} to join the board{role}"
    if action in ("evidence.added", "evidence.removed") and details.get("title"):
        verb = "Added" if action == "evidence.added" else "Removed"
        return f"{verb} evidence: {details['title']}"
    return summary or FALLBACK_SENTENCES.get(action) or action


OWN_SIGN_IN_ACTIONS = ("sign_in", "sign_in.failed", "sign_out")


def own_sign_ins(session: Session, user_id: int, limit: int = 10) -> list[AuditEvent]:
    """A person's own latest sign-ins, failed attempts and sign-outs, for their account page: the
    only place besides the platform admin's log where anyone sees them (a trust's log shows its
    reader only their own)."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.actor_id) == user_id, col(AuditEvent.action).in_(OWN_SIGN_IN_ACTIONS))
            .order_by(col(AuditEvent.occurred_at).desc(), col(AuditEvent.id).desc())
            .limit(limit)
        ).all()
    )
