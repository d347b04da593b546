"""What the platform admin's pages read and change: cycles and their counts, trusts and their
assessments, loaded frameworks, and the people with platform roles.

Services flush and never commit: the request's session dependency commits, so a change, its audit
event and its email are kept together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from sqlalchemy import case, func, or_, update
from sqlmodel import Session, col, select

from api.accounts.links import INVITATION, _issue_link
from api.accounts.models import ROLE_NAMES, OneTimeToken, User
from api.accounts.roles import PLATFORM_ADMIN, PLATFORM_ROLES, SECTOR_ANALYST
from api.accounts.service import note_if_closed
from api.accounts.sessions import end_all_sessions
from api.accounts.wording import SERVICE_NAME, when
from api.assessments.cycles import is_open
from api.assessments.models import Assessment, Cycle
from api.audit.service import record, record_on_user
from api.db import utcnow
from api.errors import Conflict, NotFound, Unprocessable
from api.frameworks.loader import FrameworkFileError, canonical_definition, content_hash, parse_framework
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.integers import can_name_a_row
from api.mail import send_email
from api.organisations.models import Organisation
from api.organisations.service import ImportResult, import_organisations, parse_organisations_csv
from api.public import filled
from api.settings import Settings
from api.templating import render_text

CycleState = Literal["open", "closed", "not_open_yet"]
# What each platform role does, for the invitation email and the invite page.
ROLE_PURPOSES = {
    SECTOR_ANALYST: "see the national picture: sector-wide figures only, never one trust's ratings",
    PLATFORM_ADMIN: (
        "run the service: trusts, yearly cycles, frameworks, the people with sector-wide roles, "
        "and reopening a submitted assessment"
    ),
}

# --- Cycles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleSummary:
    cycle: Cycle
    framework_key: str
    framework_title: str
    framework_version: int
    # Plain counts of boards: admins see how far the year has got, never a trust's ratings.
    opened: int
    submitted: int
    state: CycleState


def cycle_state(cycle: Cycle, today: date) -> CycleState:
    if today < cycle.opens_on:
        return "not_open_yet"
    return "open" if is_open(cycle, today) else "closed"


def cycle_summaries(session: Session, today: date | None = None) -> list[CycleSummary]:
    """Every cycle, newest first, with its framework and how many boards opened and submitted."""
    today = today or utcnow().date()
    submitted = func.coalesce(func.sum(case((col(Assessment.status) == "submitted", 1), else_=0)), 0)
    rows = session.exec(
        select(  # type: ignore[call-overload]
            Cycle,
            FrameworkRecord.key,
            FrameworkRecord.title,
            FrameworkRecord.version,
            func.count(col(Assessment.id)),
            submitted,
        )
        .join(FrameworkRecord, col(FrameworkRecord.id) == col(Cycle.framework_id))
        .outerjoin(Assessment, col(Assessment.cycle_id) == col(Cycle.id))
        .group_by(col(Cycle.id), col(FrameworkRecord.id))
        .order_by(col(Cycle.opens_on).desc())
    ).all()
    return [
        CycleSummary(cycle, key, title, version, opened, submitted_count, cycle_state(cycle, today))
        for cycle, key, title, version, opened, submitted_count in rows
    ]


# --- Trusts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustSearch:
    text: str = ""
    trust_type: str = ""
    region: str = ""

    def conditions(self) -> list:
        conditions = []
        if self.text:
            conditions.append(
                or_(
                    col(Organisation.name).icontains(self.text, autoescape=True),
                    col(Organisation.ods_code).startswith(self.text.upper(), autoescape=True),
                )
            )
        if self.trust_type:
            conditions.append(col(Organisation.trust_type) == self.trust_type)
        if self.region:
            conditions.append(col(Organisation.region) == self.region)
        return conditions


@dataclass(frozen=True)
class AssessmentState:
    assessment_id: int
    status: str


@dataclass(frozen=True)
class TrustRow:
    organisation: Organisation
    # By cycle id; a cycle the board has not opened is absent.
    assessments: dict[int, AssessmentState] = field(default_factory=dict)


def trust_rows(session: Session, search: TrustSearch) -> list[TrustRow]:
    """The trusts that match, by name, each with its assessment status in every cycle (two queries)."""
    conditions = search.conditions()
    organisations = session.exec(
        select(Organisation).where(*conditions).order_by(col(Organisation.name))
    ).all()
    rows = {o.id: TrustRow(o) for o in organisations}
    assessments = session.exec(
        select(Assessment.id, Assessment.organisation_id, Assessment.cycle_id, Assessment.status)
        .join(Organisation, col(Organisation.id) == col(Assessment.organisation_id))
        .where(*conditions)
    ).all()
    for assessment_id, organisation_id, cycle_id, status in assessments:
        rows[organisation_id].assessments[cycle_id] = AssessmentState(assessment_id, status)  # type: ignore[index]
    return list(rows.values())


def all_cycles(session: Session) -> list[Cycle]:
    return list(session.exec(select(Cycle).order_by(col(Cycle.opens_on).desc())).all())


def import_trusts(
    session: Session, *, text: str, file_name: str, actor: User, client_ip: str | None = None
) -> ImportResult:
    """Check every row, then add and update trusts. A bad row raises InputError and nothing is written."""
    rows = parse_organisations_csv(text)
    result = import_organisations(session, rows)
    total = result.added + result.updated
    record(
        session,
        "organisations.imported",
        actor=actor,
        object_type="organisation",
        summary=(
            f"{total} organisation{'s' if total != 1 else ''} imported from {file_name} "
            f"({result.added} new, {result.updated} updated)"
        ),
        details={"file": file_name, "added": result.added, "updated": result.updated},
        client_ip=client_ip,
    )
    session.flush()
    return result


# --- Frameworks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameworkSummary:
    id: int
    key: str
    version: int
    title: str
    source_file: str
    loaded_at: datetime
    sections: int
    criteria: int
    cycles: list[str]


def framework_summaries(session: Session) -> list[FrameworkSummary]:
    """Loaded frameworks, newest first, with their size and the cycles that use them."""
    sections = (
        select(FrameworkSection.framework_id, func.count().label("n"))
        .group_by(col(FrameworkSection.framework_id))
        .subquery()
    )
    criteria = (
        select(Criterion.framework_id, func.count().label("n"))
        .group_by(col(Criterion.framework_id))
        .subquery()
    )
    rows = session.exec(
        select(  # type: ignore[call-overload]
            FrameworkRecord.id,
            FrameworkRecord.key,
            FrameworkRecord.version,
            FrameworkRecord.title,
            FrameworkRecord.source_file,
            FrameworkRecord.loaded_at,
            func.coalesce(sections.c.n, 0),
            func.coalesce(criteria.c.n, 0),
        )
        .outerjoin(sections, sections.c.framework_id == col(FrameworkRecord.id))
        .outerjoin(criteria, criteria.c.framework_id == col(FrameworkRecord.id))
        .order_by(col(FrameworkRecord.loaded_at).desc(), col(FrameworkRecord.id).desc())
    ).all()
    cycles: dict[int, list[str]] = {}
    for framework_id, name in session.exec(
        select(Cycle.framework_id, Cycle.name).order_by(col(Cycle.opens_on))
    ).all():
        cycles.setdefault(framework_id, []).append(name)
    return [FrameworkSummary(*row, cycles=cycles.get(row[0], [])) for row in rows]


@dataclass(frozen=True)
class FrameworkCheck:
    """What the loader makes of an uploaded file: its located errors, or what it holds."""

    file_name: str
    errors: list[str] = field(default_factory=list)
    key: str = ""
    version: int = 0
    title: str = ""
    sections: int = 0
    criteria: int = 0
    # Whether a framework with this key is loaded already: "same" content, or "changed" (refused).
    loaded: Literal["no", "same", "changed"] = "no"

    @property
    def valid(self) -> bool:
        return not self.errors


def check_framework(session: Session, text: str, file_name: str) -> FrameworkCheck:
    """The checks of `python -m api framework check`, on uploaded text; writes nothing."""
    try:
        doc = parse_framework(text, file_name)
    except FrameworkFileError as exc:
        return FrameworkCheck(file_name, errors=exc.errors)
    existing = session.exec(
        select(FrameworkRecord.version, FrameworkRecord.content_hash).where(FrameworkRecord.key == doc.key)
    ).first()
    loaded: Literal["no", "same", "changed"] = "no"
    if existing is not None:
        same = existing[0] == doc.version and existing[1] == content_hash(canonical_definition(doc))
        loaded = "same" if same else "changed"
    return FrameworkCheck(
        file_name,
        key=doc.key,
        version=doc.version,
        title=doc.title,
        sections=len(doc.sections),
        criteria=sum(len(section.criteria) for section in doc.sections),
        loaded=loaded,
    )


# --- People with platform roles ------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformPerson:
    user_id: int
    name: str
    email: str
    role: str
    two_factor: bool
    # Invited but has not chosen a password yet.
    invited: bool
    closed: bool

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


def _person(user: User) -> PlatformPerson:
    assert user.id is not None and user.platform_role is not None
    return filled(
        PlatformPerson,
        user,
        user_id=user.id,
        role=user.platform_role,
        two_factor=user.totp_enabled_at is not None,
        invited=user.password_hash is None,
        closed=not user.is_active,
    )


def platform_people(session: Session) -> list[PlatformPerson]:
    """Platform admins first, then sector analysts, each by name."""
    users = session.exec(
        select(User)
        .where(col(User.platform_role).is_not(None))
        .order_by(col(User.platform_role).desc(), func.lower(User.name), col(User.email))
    ).all()
    return [_person(user) for user in users]


def platform_person(session: Session, user_id: int) -> tuple[User, PlatformPerson]:
    user = session.get(User, user_id) if can_name_a_row(user_id) else None
    if user is None or not user.platform_role:
        raise NotFound("Nobody with a platform role has that number")
    return user, _person(user)


@dataclass(frozen=True)
class PlatformInvitation:
    user: User
    # False when the person already had a password: they were told, not sent a link.
    link_sent: bool


def _invitation_email(
    settings: Settings, *, user: User, role: str, actor: User, link: str | None, expires_at: datetime | None
) -> tuple[str, str]:
    role_name = ROLE_NAMES[role].lower()
    body = render_text(
        "emails/platform_invitation.txt",
        service_name=SERVICE_NAME,
        user=user,
        actor=actor,
        role_name=role_name,
        role_purpose=ROLE_PURPOSES[role],
        two_factor_set_up=user.totp_enabled_at is not None,
        link=link,
        expires=when(expires_at) if expires_at else None,
        sign_in=f"{settings.base_url.rstrip('/')}/sign-in",
    )
    if link is None:
        return f"You are now a {role_name} on the {SERVICE_NAME}", body
    assert expires_at is not None
    return f"Join the {SERVICE_NAME} as a {role_name}", body


def invite_platform_user(
    session: Session,
    settings: Settings,
    *,
    actor: User,
    email: str,
    name: str,
    role: str,
    client_ip: str | None = None,
) -> PlatformInvitation:
    """Give someone a platform role: a new account with an emailed link, or a note to an existing one.

    `email` must already be normalised. Inviting someone who has not accepted yet sends a fresh link
    (their older links stop working).
    """
    if role not in PLATFORM_ROLES:
        raise Unprocessable("Select their role", field="role")
    user = session.exec(select(User).where(User.email == email)).first()
    existing_account = user is not None
    if user is not None:
        if not user.is_active:
            raise Conflict(
                f"The account for {email} has been closed. Contact the service team to reopen it",
                field="email",
            )
        if user.platform_role and user.password_hash is not None:
            raise Conflict(
                f"{user.name} ({email}) is already a {ROLE_NAMES[user.platform_role].lower()}. "
                "To change their role, remove it and invite them again",
                field="email",
            )
    else:
        user = User(email=email, name=name, password_hash=None)
    previous_role = user.platform_role
    user.platform_role = role
    user.closed_at = None
    session.add(user)
    session.flush()
    if existing_account:
        # A new duty starts with a new sign-in: every session and token from before it ends, so none
        # carries the role without the second factor it needs.
        end_all_sessions(session, user.id)  # type: ignore[arg-type]
    link_sent = user.password_hash is None
    link, expires_at = (
        _issue_link(session, settings, user=user, purpose=INVITATION, created_by=actor)
        if link_sent
        else (None, None)
    )
    subject, body = _invitation_email(
        settings, user=user, role=role, actor=actor, link=link, expires_at=expires_at
    )
    send_email(session, settings, to=user.email, subject=subject, body=body)
    record_on_user(
        session,
        "platform_role.invited",
        user,
        f"{email} invited as {ROLE_NAMES[role].lower()} by {actor.email}",
        actor=actor,
        details={
            "email": email,
            "role": role,
            "previous_role": previous_role,
            "existing_account": existing_account,
            "link_sent": link_sent,
            "by": actor.email,
        },
        client_ip=client_ip,
    )
    session.flush()
    return PlatformInvitation(user=user, link_sent=link_sent)


def remove_platform_role(session: Session, *, user: User, actor: User, client_ip: str | None = None) -> None:
    """Take the role away; the person is signed out everywhere and their invitation link stops.

    Nobody removes their own role, and the last platform admin who can sign in keeps theirs.
    """
    role = user.platform_role
    if role is None:
        raise NotFound("Nobody with a platform role has that number")
    if user.id == actor.id:
        raise Conflict("You cannot remove your own platform role. Ask another platform admin to do it")
    if role == PLATFORM_ADMIN:
        # Locks every admin's row (PostgreSQL), so two admins removing each other at once cannot
        # leave the service with none: the second sees the first's change and is refused.
        admins = session.exec(
            select(User.id)
            .where(
                User.platform_role == PLATFORM_ADMIN,
                col(User.is_active).is_(True),
                col(User.password_hash).is_not(None),
            )
            .order_by(col(User.id))
            .with_for_update()
        ).all()
        if not [admin_id for admin_id in admins if admin_id != user.id]:
            raise Conflict(
                f"{user.name} is the last platform admin who can sign in, so their role cannot be "
                "removed. Invite another platform admin and wait for them to accept first"
            )
    user.platform_role = None
    session.add(user)
    # Only the platform invitation (no trust): a board's invitation to the same person still works.
    session.exec(
        update(OneTimeToken)  # type: ignore[call-overload]
        .where(
            col(OneTimeToken.user_id) == user.id,
            col(OneTimeToken.purpose) == INVITATION,
            col(OneTimeToken.organisation_id).is_(None),
            col(OneTimeToken.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    note_if_closed(session, user)
    record_on_user(
        session,
        "platform_role.removed",
        user,
        f"{user.email} is no longer a {ROLE_NAMES[role].lower()} (removed by {actor.email})",
        actor=actor,
        details={"email": user.email, "role": role, "by": actor.email},
        client_ip=client_ip,
    )
    session.flush()
