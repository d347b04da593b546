"""Reminding members to finish rating: by the chair or secretary (one a member a day), and daily by
`python -m api send-reminders` (14, 7 and 2 days before ratings close; the chair once the board is
ready to agree).

A reminder says who has not finished, never what anyone said. Each one goes once because its row's
unique key is written first, by INSERT ... ON CONFLICT DO NOTHING: the request or run that inserts
the row sends the email (through the outbox, in the same transaction); one that finds the row sends
nothing. So two sends at the same moment, from two pages or two machines, email once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.accounts.models import Membership, User
from api.accounts.principal import Principal
from api.accounts.roles import BOARD_SECRETARY, CHAIR
from api.accounts.wording import SERVICE_NAME
from api.assessments.cycles import is_open
from api.assessments.models import Assessment, AssessmentRater, Cycle, MemberResponse
from api.assessments.repository import RATING_ROLES
from api.assessments.spread import rating_closed, uk_today
from api.audit.service import record_about
from api.db import utcnow
from api.errors import Conflict, FieldError
from api.mail import send_email
from api.organisations.models import Organisation
from api.reminders.models import Reminder, ScheduledReminder
from api.settings import Settings
from api.templating import render_text

# Days before ratings close on which the daily command reminds members who have not finished.
MILESTONES = (14, 7, 2)


def closing_day(assessment: Assessment, cycle: Cycle) -> date:
    """The last day members can rate: the board's rating deadline if the chair set one before the
    year's close date, else the close date (both UK days)."""
    if assessment.rating_deadline is not None and assessment.rating_deadline < cycle.closes_on:
        return assessment.rating_deadline
    return cycle.closes_on


def milestone_for(days_left: int) -> str | None:
    """The reminder due with this many days left: the nearest milestone not yet passed, so a day the
    command did not run is made up for the next day (with one email, not two)."""
    if days_left < 0:
        return None
    due = [days for days in MILESTONES if days_left <= days]
    return f"closing_{min(due)}" if due else None


def unfinished_members(session: Session, assessment: Assessment) -> list[User]:
    """The chair and board members on the board now (active accounts) who have not finished rating:
    who, never what they said."""
    finished = select(MemberResponse.respondent_id).where(
        MemberResponse.assessment_id == assessment.id,
        col(MemberResponse.completed_at).is_not(None),
    )
    rows = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(
            Membership.organisation_id == assessment.organisation_id,
            col(Membership.role).in_(RATING_ROLES),
            col(User.is_active).is_(True),
            col(User.id).not_in(finished),
        )
        .order_by(col(User.id))
    ).all()
    # By name for people; ties by id, so every run takes rows (and their locks) in the same order.
    return sorted(rows, key=lambda user: (user.name.casefold(), user.id))


def reminded_on(session: Session, assessment_id: int, day: date) -> set[int]:
    """Members the chair or secretary reminded on this UK day."""
    return set(
        session.exec(
            select(Reminder.user_id).where(Reminder.assessment_id == assessment_id, Reminder.sent_on == day)
        ).all()
    )


def _insert_once(session: Session, model: Any, values: dict[str, Any], key: list[str]) -> bool:
    """Insert the row unless its unique key is taken; True if this call inserted it.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then
    inserts nothing; on SQLite writers take turns. Either way exactly one caller gets True."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=key).returning(model.id)
    return session.execute(statement).first() is not None


def _assessment_link(settings: Settings, assessment: Assessment) -> str:
    return f"{settings.base_url.rstrip('/')}/assessments/{assessment.id}"


def _year_email(template: str, organisation: Organisation, cycle: Cycle, **context: Any) -> str:
    """An email about a board's year, from its text template (emails/*.txt)."""
    return render_text(template, service_name=SERVICE_NAME, organisation=organisation, cycle=cycle, **context)


def _send_rating_reminder(
    session: Session,
    settings: Settings,
    year: tuple[Assessment, Cycle, Organisation],
    member: User,
    today: date,
    asked_by: str | None,
) -> int:
    """Email one member a reminder to finish rating the board's assessment of the year."""
    assessment, cycle, organisation = year
    from api.assessments.service import my_progress

    progress = my_progress(session, assessment, member.id)  # type: ignore[arg-type]
    closes = closing_day(assessment, cycle)
    days_left = (closes - today).days
    body = _year_email(
        "emails/rating_reminder.txt",
        organisation,
        cycle,
        member=member,
        asked_by=asked_by,
        answered=progress.answered,
        total=progress.total,
        headline_answered=progress.headline_answered,
        closes=closes,
        days_left=days_left,
        link=_assessment_link(settings, assessment),
    )
    when = "today" if days_left == 0 else ("tomorrow" if days_left == 1 else f"in {days_left} days")
    subject = f"{organisation.name}: please finish rating the board (rating closes {when})"
    return send_email(session, settings, to=member.email, subject=subject, body=body).id  # type: ignore[return-value]


# --- Sent by the chair or the board secretary ----------------------------------------------------------


def send_reminder(
    session: Session,
    settings: Settings,
    principal: Principal,
    assessment: Assessment,
    *,
    user_id: int,
    client_ip: str | None = None,
    today: date | None = None,
) -> Reminder:
    """Email one member who has not finished rating; at most once a member a UK day.

    The caller (a route dependency) has checked the assessment is the sender's trust's and that the
    sender is its chair or secretary."""
    today = today or uk_today()
    cycle = session.get(Cycle, assessment.cycle_id)
    organisation = session.get(Organisation, assessment.organisation_id)
    assert cycle is not None and organisation is not None
    if assessment.status != "in_progress" or rating_closed(assessment, today) or not is_open(cycle, today):
        raise Conflict("Rating has closed, so there is nobody to remind", reason="rating_closed")
    member = next((user for user in unfinished_members(session, assessment) if user.id == user_id), None)
    if member is None:
        raise FieldError("user_id", "Choose a board member who has not finished rating")
    inserted = _insert_once(
        session,
        Reminder,
        {
            "assessment_id": assessment.id,
            "user_id": member.id,
            "sent_on": today,
            "sent_by_id": principal.user.id,
            "created_at": utcnow(),
        },
        ["assessment_id", "user_id", "sent_on"],
    )
    if not inserted:
        raise Conflict(
            f"{member.name} has already been reminded today. You can send another reminder tomorrow.",
            field="user_id",
            reason="already_reminded_today",
        )
    membership = principal.membership_for(assessment.organisation_id)
    role = {CHAIR: "chair", BOARD_SECRETARY: "board secretary"}.get(membership.role if membership else "", "")
    asked_by = f"{principal.user.name} ({role})" if role else principal.user.name
    _send_rating_reminder(session, settings, (assessment, cycle, organisation), member, today, asked_by)
    record_about(
        session,
        "reminder.sent",
        assessment,
        f"Reminded {member.name} to finish rating",
        actor=principal.user,
        details={"user_id": member.id},
        client_ip=client_ip,
    )
    reminder = session.exec(
        select(Reminder).where(
            Reminder.assessment_id == assessment.id, Reminder.user_id == member.id, Reminder.sent_on == today
        )
    ).one()
    return reminder


# --- Sent by the daily command ----------------------------------------------------------------------


@dataclass
class DueReminders:
    """What one run of `send-reminders` sent; `email_ids` are its outbox rows."""

    to_members: int = 0
    to_chairs: int = 0
    email_ids: list[int] = field(default_factory=list)


def _ready_to_agree(session: Session, assessment: Assessment, today: date) -> bool:
    """Rating has closed, or every member on the board when it opened has finished."""
    if rating_closed(assessment, today):
        return True
    roster = set(
        session.exec(
            select(AssessmentRater.user_id).where(AssessmentRater.assessment_id == assessment.id)
        ).all()
    )
    if not roster:
        return False
    finished = set(
        session.exec(
            select(MemberResponse.respondent_id).where(
                MemberResponse.assessment_id == assessment.id,
                col(MemberResponse.completed_at).is_not(None),
                col(MemberResponse.respondent_id).in_(roster),
            )
        ).all()
    )
    return roster <= finished


def _chairs(session: Session, organisation_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == User.id)
            .where(
                Membership.organisation_id == organisation_id,
                Membership.role == CHAIR,
                col(User.is_active).is_(True),
            )
            .order_by(col(User.id))
        ).all()
    )


def send_due_reminders(session: Session, settings: Settings, today: date | None = None) -> DueReminders:
    """Every reminder due today, each sent once however many runs there are (see the module)."""
    today = today or uk_today()
    sent = DueReminders()
    rows = session.exec(
        select(Assessment, Cycle, Organisation)
        .join(Cycle, col(Cycle.id) == Assessment.cycle_id)
        .join(Organisation, col(Organisation.id) == Assessment.organisation_id)
        .where(
            Assessment.status == "in_progress",
            col(Cycle.closed_at).is_(None),
            col(Cycle.opens_on) <= today,
            col(Cycle.closes_on) >= today,
        )
        .order_by(col(Assessment.id))
    ).all()
    for assessment, cycle, organisation in rows:
        if not rating_closed(assessment, today):
            kind = milestone_for((closing_day(assessment, cycle) - today).days)
            if kind is not None:
                for member in unfinished_members(session, assessment):
                    if _insert_once(
                        session,
                        ScheduledReminder,
                        {
                            "assessment_id": assessment.id,
                            "user_id": member.id,
                            "kind": kind,
                            "created_at": utcnow(),
                        },
                        ["assessment_id", "user_id", "kind"],
                    ):
                        sent.email_ids.append(
                            _send_rating_reminder(
                                session, settings, (assessment, cycle, organisation), member, today, None
                            )
                        )
                        sent.to_members += 1
        if _ready_to_agree(session, assessment, today):
            for chair in _chairs(session, assessment.organisation_id):
                if _insert_once(
                    session,
                    ScheduledReminder,
                    {
                        "assessment_id": assessment.id,
                        "user_id": chair.id,
                        "kind": "ready_to_agree",
                        "created_at": utcnow(),
                    },
                    ["assessment_id", "user_id", "kind"],
                ):
                    closed = rating_closed(assessment, today)
                    body = _year_email(
                        "emails/ready_to_agree.txt",
                        organisation,
                        cycle,
                        chair=chair,
                        rating_closed=closed,
                        closes_on=cycle.closes_on,
                        # Closed: straight to agreeing. Not yet: to closing rating, which leads there.
                        link=f"{_assessment_link(settings, assessment)}/{'consensus' if closed else 'close-rating'}",
                    )
                    email = send_email(
                        session,
                        settings,
                        to=chair.email,
                        subject=f"{organisation.name}: the board is ready to agree its ratings",
                        body=body,
                    )
                    sent.email_ids.append(email.id)  # type: ignore[arg-type]
                    sent.to_chairs += 1
    session.flush()
    return sent
