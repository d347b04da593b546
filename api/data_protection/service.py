"""Data protection: erasing a person, applying the retention policy, and a person's own data (subject
access). The policy in plain words is docs/data-protection.md.

Erasing never changes a board's figures: a person's individual ratings and headline answers move to
a new anonymous stand-in row (not linked to their account), so the spread, the board-at-opening count
and the sector's role figures count them as before. Services flush, never commit.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, or_, text, update
from sqlmodel import Session, col, select

from api.accounts.members import _is_only_chair
from api.audit.service import record, record_on_user
from api.benchmarking.service import take_final_figures
from api.db import utcnow
from api.errors import Conflict
from api.mail import OutboxEmail
from api.models import (
    Action,
    ActionNote,
    ApiToken,
    Assessment,
    AssessmentRater,
    AuditEvent,
    ConsensusRating,
    Criterion,
    Cycle,
    Evidence,
    ExportLock,
    MemberResponse,
    Membership,
    OneTimeToken,
    Organisation,
    Rating,
    RecoveryCode,
    RenderedExport,
    SignInAttempt,
    User,
    WebSession,
)

# What an erased person is called wherever their name used to be.
ERASED_NAME = "Erased person"
# Their address becomes one that can never receive mail or match anyone (.invalid is reserved).
ERASED_DOMAIN = "erased.invalid"
# An action owned by an erased person (the owner is free text): this, not their name.
ERASED_OWNER = "A former board member"


def _placeholder_email() -> str:
    return f"erased-{secrets.token_hex(8)}@{ERASED_DOMAIN}"


# The PostgreSQL advisory lock every erasure and retention run holds to its commit: one at a time,
# so two instances' runs (or a run and a platform admin's erasure) never lock the same ratings in
# opposite orders. On SQLite a writer already holds the database's write lock from its first statement.
DATA_PROTECTION_LOCK = 0x44505231  # "DPR1"


def _one_at_a_time(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DATA_PROTECTION_LOCK})


@dataclass(frozen=True)
class Erasure:
    ratings_kept: int
    headline_answers_kept: int


def _scrub_audit(session: Session, user_id: int, email: str, name: str, placeholder: str) -> None:
    """Every audit event by or naming the person keeps what happened, without who they were."""
    events = session.exec(
        select(AuditEvent).where(
            or_(
                col(AuditEvent.actor_id) == user_id,
                col(AuditEvent.actor_email) == email,
                col(AuditEvent.summary).contains(email, autoescape=True),
                cast(AuditEvent.details, String).contains(email, autoescape=True),
            )
        )
    ).all()

    def scrub(text: str) -> str:
        text = text.replace(email, placeholder)
        return text.replace(name, ERASED_NAME) if len(name) >= 3 else text

    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and events:
        # The log's append-only trigger lets an UPDATE through only while this is on, in this
        # transaction (migrations/versions/20261206_9d4e2b7c1f60_account_closed_and_erased.py).
        session.execute(text("SELECT set_config('app.erasing_person', 'on', true)"))
    for event in events:
        if event.actor_id == user_id or event.actor_email == email:
            event.actor_email = placeholder
        event.summary = scrub(event.summary)[:500]
        event.details = json.loads(scrub(json.dumps(event.details or {}, ensure_ascii=False)))
        session.add(event)
    if postgresql and events:
        session.flush()
        session.execute(text("SELECT set_config('app.erasing_person', 'off', true)"))


def _erase(session: Session, user: User, now: datetime) -> Erasure:
    """The erasure itself, shared by the platform admin's page and the retention command."""
    user_id = user.id
    assert user_id is not None
    email, name = user.email, user.name
    # The person's individual answers move to a new anonymous row, counted as before.
    stand_in = User(
        email=_placeholder_email(), name=ERASED_NAME, is_active=False, erased_at=now, closed_at=now
    )
    session.add(stand_in)
    session.flush()
    ratings = session.exec(
        update(Rating).where(col(Rating.respondent_id) == user_id).values(respondent_id=stand_in.id)  # type: ignore[call-overload]
    ).rowcount
    headlines = session.exec(
        update(MemberResponse)
        .where(col(MemberResponse.respondent_id) == user_id)
        .values(respondent_id=stand_in.id)  # type: ignore[call-overload]
    ).rowcount
    session.exec(
        update(AssessmentRater)  # type: ignore[call-overload]
        .where(col(AssessmentRater.user_id) == user_id)
        .values(user_id=stand_in.id)
    )
    # Board reports and workbooks kept for the person's boards may print their name: render afresh.
    their_boards = select(Membership.organisation_id).where(col(Membership.user_id) == user_id)
    session.exec(
        delete(RenderedExport).where(  # type: ignore[call-overload]
            col(RenderedExport.assessment_id).in_(
                select(Assessment.id).where(col(Assessment.organisation_id).in_(their_boards))
            )
        )
    )
    session.exec(delete(ExportLock).where(col(ExportLock.user_id) == user_id))  # type: ignore[call-overload]
    for table, column in (
        (Membership, Membership.user_id),
        (WebSession, WebSession.user_id),
        (ApiToken, ApiToken.user_id),
        (OneTimeToken, OneTimeToken.user_id),
        (RecoveryCode, RecoveryCode.user_id),
    ):
        session.exec(delete(table).where(col(column) == user_id))  # type: ignore[call-overload]
    session.exec(delete(SignInAttempt).where(col(SignInAttempt.email) == email))  # type: ignore[call-overload]
    session.exec(delete(OutboxEmail).where(col(OutboxEmail.to_address) == email))  # type: ignore[call-overload]
    session.exec(
        update(Action).where(col(Action.owner) == name).values(owner=ERASED_OWNER)  # type: ignore[call-overload]
    )
    placeholder = _placeholder_email()
    _scrub_audit(session, user_id, email, name, placeholder)
    user.email, user.name = placeholder, ERASED_NAME
    user.password_hash = user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.oidc_issuer = user.oidc_subject = user.password_changed_at = None
    user.platform_role = None
    user.is_active = False
    user.erased_at = now
    user.closed_at = user.closed_at or now
    session.add(user)
    session.flush()
    return Erasure(ratings_kept=ratings, headline_answers_kept=headlines)


def erase_person(
    session: Session, *, user: User, actor: User, email: str, client_ip: str | None = None
) -> Erasure:
    """Erase someone's name and email, sign them out for good, and keep their ratings anonymously.

    `email` is the address the platform admin saw when confirming: if it has changed since, the page
    was out of date (409), so nobody erases a person other than the one they read about.
    """
    _one_at_a_time(session)
    # Read again under the lock: a retention run may have anonymised them since the page was read.
    session.refresh(user)
    if user.erased_at is not None:
        raise Conflict("This person's details have already been erased")
    if user.id == actor.id:
        raise Conflict("You cannot erase yourself. Ask another platform admin to do it")
    if email != user.email:
        raise Conflict(
            "This person's email address has changed since the page was shown. Check it is the right person",
            field="email",
        )
    if user.platform_role is not None:
        raise Conflict("Remove their platform role first, then erase their details")
    for membership in session.exec(select(Membership).where(Membership.user_id == user.id)).all():
        if _is_only_chair(session, membership):
            organisation = session.get(Organisation, membership.organisation_id)
            raise Conflict(
                f"{user.name} is the only chair of {organisation.name if organisation else 'a board'}. "
                "Appoint another chair first"
            )
    erasure = _erase(session, user, utcnow())
    record_on_user(
        session,
        "person.erased",
        user,
        f"A person's name and email were erased by {actor.email}",
        actor=actor,
        details={
            "by": actor.email,
            "ratings_kept_anonymously": erasure.ratings_kept,
            "headline_answers_kept_anonymously": erasure.headline_answers_kept,
        },
        client_ip=client_ip,
    )
    session.flush()
    return erasure


# --- Retention -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionResult:
    accounts_anonymised: int
    cycles_past_retention: int
    ratings_deleted: int
    headline_answers_deleted: int
    board_lists_deleted: int


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def apply_retention(
    session: Session, *, closed_account_days: int, rating_years: int, k: int, now: datetime | None = None
) -> RetentionResult:
    """Apply docs/data-protection.md's retention periods once. Running it again changes nothing.

    Safe on every instance at once: runs take turns (an advisory lock on PostgreSQL, the write lock
    on SQLite), and every piece of work is chosen by a predicate read after the turn begins, so the
    second run finds nothing left to do.
    """
    now = now or utcnow()
    _one_at_a_time(session)
    due = session.exec(
        select(User)
        .where(
            col(User.closed_at) <= now - timedelta(days=closed_account_days),
            col(User.erased_at).is_(None),
            col(User.platform_role).is_(None),
            ~select(Membership.id).where(Membership.user_id == User.id).exists(),
        )
        .order_by(col(User.id))
        .with_for_update()
    ).all()
    for user in due:
        _erase(session, user, now)
        record_on_user(
            session,
            "person.erased",
            user,
            f"A closed account was anonymised after {closed_account_days} days (retention)",
            actor=None,
            details={"retention_days": closed_account_days},
        )

    cutoff = _years_before(now.date(), rating_years)
    cycles = session.exec(select(Cycle).where(col(Cycle.closes_on) < cutoff).order_by(col(Cycle.id))).all()
    ratings = headlines = rosters = 0
    for cycle in cycles:
        # The sector's figures for the year (its role views come from members' own ratings) are made
        # final first; final figures are never taken again, so deleting the ratings moves nothing.
        take_final_figures(session, cycle, k, today=now.date())
        in_cycle = select(Assessment.id).where(Assessment.cycle_id == cycle.id)
        ratings += session.exec(delete(Rating).where(col(Rating.assessment_id).in_(in_cycle))).rowcount  # type: ignore[call-overload]
        headlines += session.exec(
            delete(MemberResponse).where(col(MemberResponse.assessment_id).in_(in_cycle))
        ).rowcount  # type: ignore[call-overload]
        rosters += session.exec(
            delete(AssessmentRater).where(col(AssessmentRater.assessment_id).in_(in_cycle))  # type: ignore[call-overload]
        ).rowcount
    if ratings or headlines:
        record(
            session,
            "retention.ratings_deleted",
            summary=(
                f"Members' own ratings of cycles that closed before {cutoff.isoformat()} deleted "
                f"({ratings} ratings, {headlines} headline answers); agreed ratings and scores kept"
            ),
            details={"before": cutoff.isoformat(), "ratings": ratings, "headline_answers": headlines},
        )
    session.flush()
    return RetentionResult(
        accounts_anonymised=len(due),
        cycles_past_retention=len(cycles),
        ratings_deleted=ratings,
        headline_answers_deleted=headlines,
        board_lists_deleted=rosters,
    )


# --- Subject access ------------------------------------------------------------------------------

SIGN_IN_ACTIONS = ("sign_in", "sign_in.failed", "sign_in.linked", "sign_out")


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rows_where(session: Session, model: Any, column: Any, value: object) -> list[Any]:
    """Every row of `model` whose `column` is `value`, oldest first."""
    return list(session.exec(select(model).where(column == value).order_by(col(model.id))).all())


def personal_data(session: Session, user: User) -> dict[str, Any]:
    """Everything the service holds about this person, for them to download.

    Other members' ratings are never included: only rows whose respondent is this person.
    """
    user_id = user.id
    memberships = session.exec(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)  # type: ignore[arg-type]
        .where(Membership.user_id == user_id)
        .order_by(col(Organisation.name))
    ).all()
    ratings = session.exec(
        select(Rating, Criterion.key, Cycle.name, Organisation.ods_code, Organisation.name)
        .join(Criterion, Criterion.id == Rating.criterion_id)  # type: ignore[arg-type]
        .join(Assessment, Assessment.id == Rating.assessment_id)  # type: ignore[arg-type]
        .join(Cycle, Cycle.id == Assessment.cycle_id)  # type: ignore[arg-type]
        .join(Organisation, Organisation.id == Assessment.organisation_id)  # type: ignore[arg-type]
        .where(Rating.respondent_id == user_id)
        .order_by(col(Cycle.name), col(Organisation.ods_code), col(Criterion.key))
    ).all()
    responses = session.exec(
        select(MemberResponse, Cycle.name, Organisation.ods_code, Organisation.name)
        .join(Assessment, Assessment.id == MemberResponse.assessment_id)  # type: ignore[arg-type]
        .join(Cycle, Cycle.id == Assessment.cycle_id)  # type: ignore[arg-type]
        .join(Organisation, Organisation.id == Assessment.organisation_id)  # type: ignore[arg-type]
        .where(MemberResponse.respondent_id == user_id)
        .order_by(col(Cycle.name), col(Organisation.ods_code))
    ).all()
    actions = session.exec(
        select(Action, Organisation.ods_code)
        .join(Organisation, Organisation.id == Action.organisation_id)  # type: ignore[arg-type]
        .where(
            or_(
                col(Action.created_by_id) == user_id,
                col(Action.updated_by_id) == user_id,
                col(Action.owner) == user.name,
            )
        )
        .order_by(col(Action.id))
    ).all()
    notes = _rows_where(session, ActionNote, ActionNote.author_id, user_id)
    evidence = _rows_where(session, Evidence, Evidence.added_by_id, user_id)
    agreed = session.exec(
        select(ConsensusRating.id, ConsensusRating.updated_at)
        .where(ConsensusRating.updated_by_id == user_id)
        .order_by(col(ConsensusRating.id))
    ).all()
    invitations = session.exec(
        select(OneTimeToken, Organisation.ods_code)
        .join(Organisation, Organisation.id == OneTimeToken.organisation_id, isouter=True)  # type: ignore[arg-type]
        .where(OneTimeToken.user_id == user_id)
        .order_by(col(OneTimeToken.id))
    ).all()
    events = session.exec(
        select(AuditEvent)
        .where(
            or_(
                col(AuditEvent.actor_id) == user_id,
                (col(AuditEvent.object_type) == "user") & (col(AuditEvent.object_id) == user_id),
            )
        )
        .order_by(col(AuditEvent.id))
    ).all()
    attempts = _rows_where(session, SignInAttempt, SignInAttempt.email, user.email)
    sessions = _rows_where(session, WebSession, WebSession.user_id, user_id)
    tokens = _rows_where(session, ApiToken, ApiToken.user_id, user_id)
    emails = _rows_where(session, OutboxEmail, OutboxEmail.to_address, user.email)
    return {
        "about": (
            "Everything the race equality board self-assessment holds about you, as at "
            f"{now_text()}. Other members' ratings are never included. See docs/data-protection.md."
        ),
        "profile": {
            "name": user.name,
            "email": user.email,
            "platform_role": user.platform_role,
            "account_created_at": _when(user.created_at),
            "password_set": user.password_hash is not None,
            "password_changed_at": _when(user.password_changed_at),
            "two_factor_on_since": _when(user.totp_enabled_at),
            "single_sign_on_linked": user.oidc_subject is not None,
            "single_sign_on_provider": user.oidc_issuer,
            "closed_at": _when(user.closed_at),
        },
        "memberships": [
            {
                "organisation_code": organisation.ods_code,
                "organisation_name": organisation.name,
                "role": membership.role,
                "board_role": membership.board_role,
                "since": _when(membership.created_at),
            }
            for membership, organisation in memberships
        ],
        "individual_ratings": [
            {
                "cycle": cycle,
                "organisation_code": ods_code,
                "organisation_name": organisation_name,
                "criterion": criterion_key,
                "level": rating.level,
                "comment": rating.comment,
                "updated_at": _when(rating.updated_at),
            }
            for rating, criterion_key, cycle, ods_code, organisation_name in ratings
        ],
        "headline_answers": [
            {
                "cycle": cycle,
                "organisation_code": ods_code,
                "organisation_name": organisation_name,
                "board_role_then": response.board_role,
                "headline_score": response.headline_score,
                "completed_at": _when(response.completed_at),
            }
            for response, cycle, ods_code, organisation_name in responses
        ],
        "actions": [
            {
                "organisation_code": ods_code,
                "title": action.title,
                "owner": action.owner,
                "due_date": _when(action.due_date),
                "status": action.status,
                "created_by_you": action.created_by_id == user_id,
                "last_changed_by_you": action.updated_by_id == user_id,
                "created_at": _when(action.created_at),
            }
            for action, ods_code in actions
        ],
        "action_notes": [
            {"action_id": note.action_id, "text": note.text, "noted_on": _when(note.noted_on)}
            for note in notes
        ],
        "evidence_added": [
            {"title": item.title, "kind": item.kind, "url": item.url, "added_at": _when(item.created_at)}
            for item in evidence
        ],
        "agreed_ratings_last_saved_by_you": [
            {"consensus_rating_id": rating_id, "saved_at": _when(saved_at)} for rating_id, saved_at in agreed
        ],
        "invitations": [
            {
                "purpose": token.purpose,
                "organisation_code": ods_code,
                "sent_at": _when(token.created_at),
                "expires_at": _when(token.expires_at),
                "used_at": _when(token.used_at),
            }
            for token, ods_code in invitations
        ],
        "sign_in_history": [
            {"action": event.action, "at": _when(event.occurred_at), "from_address": event.client_ip}
            for event in events
            if event.action in SIGN_IN_ACTIONS or event.action.startswith(("password.", "two_factor."))
        ],
        "sign_in_attempts": [
            {
                "at": _when(attempt.occurred_at),
                "from_address": attempt.client_ip,
                "succeeded": attempt.succeeded,
                "second_factor": attempt.second_factor,
            }
            for attempt in attempts
        ],
        "audit_events": [
            {
                "action": event.action,
                "at": _when(event.occurred_at),
                "summary": event.summary,
                "organisation_id": event.organisation_id,
            }
            for event in events
        ],
        "browser_sessions": [
            {
                "started_at": _when(web.created_at),
                "last_seen_at": _when(web.last_seen_at),
                "expires_at": _when(web.expires_at),
                "from_address": web.client_ip,
            }
            for web in sessions
        ],
        "api_tokens": [
            {"issued_at": _when(token.created_at), "expires_at": _when(token.expires_at)} for token in tokens
        ],
        "emails_sent_to_you": [
            {"subject": mail.subject, "written_at": _when(mail.created_at), "sent_at": _when(mail.sent_at)}
            for mail in emails
        ],
    }


def now_text() -> str:
    return utcnow().replace(microsecond=0).isoformat()
