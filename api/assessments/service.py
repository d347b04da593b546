"""The self-assessment journey: opening, each member's ratings, the consensus, sign-off, reopening.

Services flush and never commit: the request's session commits the change and its audit event
together, before the answer is sent. Every write that can race uses a version compare-and-set
(UPDATE ... WHERE version = n), so a stale or late save answers 409 instead of overwriting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.accounts.models import User
from api.accounts.principal import Principal
from api.accounts.roles import BOARD_MEMBER, BOARD_SECRETARY, CHAIR, MANAGER_ROLES, PLATFORM_ADMIN
from api.assessments.cycles import is_open
from api.assessments.models import Assessment, AssessmentRater, ConsensusRating, Cycle, MemberResponse, Rating
from api.assessments.repository import (
    MEMBER_RATED,
    RATING_ROLES,
    assessment_for,
    criteria_of,
    cycle_by_name,
    rated_criterion_ids,
    rating_members,
)
from api.assessments.schemas import ConsensusUpdate, HeadlineUpdate, RatingDeadlineUpdate, RatingUpdate
from api.assessments.spread import (
    board_ratings,
    criterion_spread,
    far_from_median,
    needs_rationale_text,
    rating_closed,
    uk_today,
)
from api.audit.service import record_about
from api.db import UTCDateTime, added_first, utcnow
from api.errors import Conflict, FieldError, Forbidden, Unprocessable
from api.frameworks.models import Criterion
from api.integers import MAX_INTEGER
from api.organisations.models import Organisation


def _rating_public(rating: Rating | None) -> dict[str, object] | None:
    if rating is None:
        return None
    return {"level": rating.level, "comment": rating.comment, "version": rating.version}


def _consensus_public(consensus: ConsensusRating | None) -> dict[str, object] | None:
    if consensus is None:
        return None
    return {
        "level": consensus.level,
        "rationale": consensus.rationale,
        "shared": consensus.shared,
        "version": consensus.version,
    }


# --- Opening ---------------------------------------------------------------------------------------


def open_assessment(
    session: Session, organisation: Organisation, cycle_name: str, actor: User, today: date | None = None
) -> Assessment:
    cycle = cycle_by_name(session, cycle_name)
    if cycle is None:
        raise FieldError("cycle", f"There is no {cycle_name} assessment cycle")
    today = today or utcnow().date()
    if not is_open(cycle, today):
        raise FieldError(
            "cycle",
            f"The {cycle.name} cycle is open from {cycle.opens_on:%-d %B %Y} to {cycle.closes_on:%-d %B %Y}",
        )
    existing = session.exec(
        select(Assessment).where(
            Assessment.organisation_id == organisation.id, Assessment.cycle_id == cycle.id
        )
    ).first()
    if existing is not None:
        raise _already_open(existing, cycle)
    assessment = Assessment(
        organisation_id=organisation.id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        opened_by_id=actor.id,
    )
    if not added_first(session, assessment):
        # Two people pressed "Open" at once: the first one opened it.
        existing = session.exec(
            select(Assessment).where(
                Assessment.organisation_id == organisation.id, Assessment.cycle_id == cycle.id
            )
        ).one()
        raise _already_open(existing, cycle) from None
    # The board at opening: only these members' ratings make up the spread (see spread.py).
    for _membership, user in rating_members(session, organisation.id):  # type: ignore[arg-type]
        session.add(AssessmentRater(assessment_id=assessment.id, user_id=user.id))  # type: ignore[arg-type]
    session.flush()
    record_about(
        session,
        "assessment.opened",
        assessment,
        f"{cycle.name} assessment opened",
        actor=actor,
        organisation_id=organisation.id,
    )
    from api.actions.service import carry_forward_actions
    from api.assessments.repository import previous_assessment

    carry_forward_actions(session, previous_assessment(session, assessment), assessment)
    return assessment


def _already_open(existing: Assessment, cycle: Cycle) -> Conflict:
    return Conflict(
        f"The {cycle.name} assessment is already open",
        assessment_id=existing.id,
        url=f"/api/v1/assessments/{existing.id}",
    )


# --- Reading criteria ------------------------------------------------------------------------------


def criterion_for(session: Session, assessment: Assessment, criterion_key: str) -> Criterion:
    """The criterion with this key in the assessment's framework, if it applies to the trust's type
    (as criteria_of decides), in one single-row query rather than reading the whole framework."""
    trust = select(Organisation.trust_type).where(Organisation.id == assessment.organisation_id)
    row = session.exec(
        select(Criterion, trust.scalar_subquery()).where(
            Criterion.framework_id == assessment.framework_id, Criterion.key == criterion_key
        )
    ).first()
    if row is not None:
        criterion, trust_type = row
        if not criterion.applies_to or trust_type in criterion.applies_to:
            return criterion
    raise not_a_criterion(criterion_key)


def not_a_criterion(criterion_key: str) -> FieldError:
    return FieldError("criterion_key", f"{criterion_key!r} is not a criterion of this assessment", "path")


def fact_item_refusal(criterion_key: str) -> FieldError:
    """What a member is told who tries to rate a fact item (the API's 422, the page's message)."""
    return FieldError(
        "criterion_key",
        f"{criterion_key!r} is answered once for the board from its records, by the chair or the board "
        "secretary: members do not rate it",
        "path",
    )


def member_rated_criterion(session: Session, assessment: Assessment, criterion_key: str) -> Criterion:
    """criterion_for, refusing a fact item (422): members rate only perception items (version 2)."""
    criterion = criterion_for(session, assessment, criterion_key)
    if not criterion.member_rated:
        raise fact_item_refusal(criterion_key)
    return criterion


def _require_in_progress(session: Session, assessment: Assessment, k_anonymity: int) -> None:
    """Open for changes; `k_anonymity` is the app's, for the final figures a closed year takes."""
    if assessment.status != "in_progress":
        raise signed_off(assessment.status)
    from api.assessments.cycles import require_open_for_changes

    # Refused once the year has closed.
    require_open_for_changes(session, assessment.cycle_id, assessment.id, k_anonymity)


def _require_rating_open(assessment: Assessment) -> None:
    """Ratings lock when rating closes (no query: the assessment row holds what decides it)."""
    if assessment.status == "in_progress" and rating_closed(assessment):
        raise rating_has_closed()


def signed_off(status: str) -> Conflict:
    return Conflict("This assessment has been signed off: nothing in it can change now", status=status)


def rating_has_closed() -> Conflict:
    return Conflict(
        "Rating has closed for this assessment: members' ratings can no longer change", rating_closed=True
    )


def answer_changed(current: Rating | None) -> Conflict:
    """A stale version: the answer holds the member's current rating."""
    return Conflict("This answer has changed since you opened it", current=_rating_public(current))


def answered_elsewhere(current: Rating | None) -> Conflict:
    """A first answer when one exists already (another tab or device)."""
    return Conflict("This answer was saved from another tab or device", current=_rating_public(current))


def _require_rater(principal: Principal, assessment: Assessment) -> None:
    membership = principal.membership_for(assessment.organisation_id)
    if membership is None or membership.role not in RATING_ROLES:
        raise Forbidden("Only the chair and board members give their own ratings")


# --- Individual ratings ----------------------------------------------------------------------------


# The compare-and-set of a changed answer, built once (autosave runs it for nearly every save). It
# finds the criterion by key in the same statement: a row can only exist for a criterion that
# applied when it was first answered (save_rating checks that), so the key needs no other check;
# a fact item is never matched (members do not rate it), so it goes on to save_rating's refusal.
_CHANGE_RATING = (
    update(Rating)
    .where(
        Rating.assessment_id == bindparam("b_assessment_id"),  # type: ignore[arg-type]
        Rating.respondent_id == bindparam("b_respondent_id"),  # type: ignore[arg-type]
        Rating.criterion_id  # type: ignore[arg-type]
        == select(Criterion.id)
        .where(
            Criterion.framework_id == bindparam("b_framework_id"),
            Criterion.key == bindparam("b_criterion_key"),
            MEMBER_RATED,
        )
        .scalar_subquery(),
        Rating.version == bindparam("b_version"),  # type: ignore[arg-type]
    )
    .values(
        level=bindparam("b_level"),
        comment=bindparam("b_comment"),
        version=bindparam("b_new_version"),
        updated_at=bindparam("b_updated_at", type_=UTCDateTime),
    )
    .returning(Rating)
)


def _first_answer_insert(insert: Callable[..., Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: a first answer in one statement, no savepoint;
    no row back means one already exists (answered from another tab or device)."""
    return (
        insert(Rating)
        .values(
            assessment_id=bindparam("b_assessment_id"),
            respondent_id=bindparam("b_respondent_id"),
            criterion_id=bindparam("b_criterion_id"),
            level=bindparam("b_level"),
            comment=bindparam("b_comment"),
            version=1,
            updated_at=bindparam("b_updated_at", type_=UTCDateTime),
        )
        .on_conflict_do_nothing(index_elements=["assessment_id", "respondent_id", "criterion_id"])
        .returning(Rating)
    )


# Built once per dialect; both databases this service runs on have ON CONFLICT and RETURNING.
_FIRST_ANSWER = {
    "postgresql": _first_answer_insert(postgresql_insert),
    "sqlite": _first_answer_insert(sqlite_insert),
}


def save_rating(
    session: Session,
    principal: Principal,
    assessment: Assessment,
    criterion_key: str,
    command: RatingUpdate,
    *,
    k_anonymity: int,
) -> Rating:
    """Store one member's rating; `version` is the version they last saw (0 for a first answer).

    `assessment` must have been read under the share lock in this transaction (assessment_for with
    lock=True, or the RaterSaving / PageRaterSaving route dependencies): a submission then waits
    for this save, or this save sees the submission.

    This is the busiest write of the year (autosave), so the usual case is two statements after
    the access check: the compare-and-set and the audit event.
    """
    level, comment, version = command.level, command.comment, command.version
    _require_rater(principal, assessment)
    _require_in_progress(session, assessment, k_anonymity)
    _require_rating_open(assessment)
    user_id = principal.user.id
    now = utcnow()
    rating = None
    if 0 < version <= MAX_INTEGER:
        # Changing an answer: the compare-and-set goes first (see _CHANGE_RATING). A version
        # outside that range matches no row: it is told apart below (a page's form can send any).
        rating = session.scalars(
            _CHANGE_RATING,
            {
                "b_assessment_id": assessment.id,
                "b_respondent_id": user_id,
                "b_framework_id": assessment.framework_id,
                "b_criterion_key": criterion_key,
                "b_version": version,
                "b_level": level,
                "b_comment": comment,
                "b_new_version": version + 1,
                "b_updated_at": now,
            },
            execution_options={"synchronize_session": False, "populate_existing": True},
        ).first()
    if rating is None:
        # Nothing matched: an unknown key or a fact item (422), a stale version (409) or a first
        # answer (insert).
        criterion = member_rated_criterion(session, assessment, criterion_key)
        if version != 0:
            raise answer_changed(my_rating(session, assessment.id, user_id, criterion.id))
        rating = session.scalars(
            _FIRST_ANSWER[session.get_bind().dialect.name],
            {
                "b_assessment_id": assessment.id,
                "b_respondent_id": user_id,
                "b_criterion_id": criterion.id,
                "b_level": level,
                "b_comment": comment,
                "b_updated_at": now,
            },
            execution_options={"populate_existing": True},
        ).first()
        if rating is None:
            raise answered_elsewhere(my_rating(session, assessment.id, user_id, criterion.id))
        # Only a first answer changes which criteria the member has answered, so only a first
        # answer can change whether they have finished; changing an answer cannot.
        _touch_response(session, principal, assessment)
    _record_rating_changed(session, principal, assessment)
    return rating


# The audit event for a member's own answers (which answer, and what, stay private); also written
# by the one-statement save (api/assessments/autosave.py).
RATING_CHANGED = "rating.changed"
RATING_CHANGED_SUMMARY = "A board member updated their own ratings"


def _record_rating_changed(session: Session, principal: Principal, assessment: Assessment) -> None:
    record_about(
        session,
        RATING_CHANGED,
        assessment,
        RATING_CHANGED_SUMMARY,
        actor=principal.user,
    )


def my_rating(session: Session, assessment_id: int, user_id: int, criterion_id: int) -> Rating | None:
    return session.exec(
        select(Rating).where(
            Rating.assessment_id == assessment_id,
            Rating.respondent_id == user_id,
            Rating.criterion_id == criterion_id,
        )
    ).first()


def _response_row(session: Session, principal: Principal, assessment: Assessment) -> MemberResponse:
    response = session.exec(
        select(MemberResponse).where(
            MemberResponse.assessment_id == assessment.id, MemberResponse.respondent_id == principal.user.id
        )
    ).first()
    if response is None:
        membership = principal.membership_for(assessment.organisation_id)
        assert membership is not None
        response = MemberResponse(
            assessment_id=assessment.id, respondent_id=principal.user.id, board_role=membership.board_role
        )
        if not added_first(session, response):
            response = session.exec(
                select(MemberResponse).where(
                    MemberResponse.assessment_id == assessment.id,
                    MemberResponse.respondent_id == principal.user.id,
                )
            ).one()
    return response


def _touch_response(session: Session, principal: Principal, assessment: Assessment) -> None:
    """Keep the member's 'finished' mark true to what they have answered. Called when they add an
    answer (a first rating or the headline): answers are never taken away, so a member marked
    finished stays finished, and one without a headline answer cannot be; only otherwise are
    the framework's criteria read."""
    response = _response_row(session, principal, assessment)
    if response.completed_at is not None or response.headline_score is None:
        return
    applicable = rated_criterion_ids(session, assessment)
    answered = set(
        session.exec(
            select(Rating.criterion_id).where(
                Rating.assessment_id == assessment.id, Rating.respondent_id == principal.user.id
            )
        ).all()
    )
    if applicable <= answered:
        response.completed_at = utcnow()
        session.add(response)


def save_headline(
    session: Session, principal: Principal, assessment_id: int, command: HeadlineUpdate, *, k_anonymity: int
) -> MemberResponse:
    """The 2022 survey's headline question, once per member per cycle (0 to 10)."""
    score, version = command.score, command.version
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    _require_rater(principal, assessment)
    _require_in_progress(session, assessment, k_anonymity)
    _require_rating_open(assessment)
    response = _response_row(session, principal, assessment)
    current_version = response.version if response.headline_score is not None else 0
    if version != current_version:
        raise Conflict(
            "Your answer has changed since you opened it",
            current={"score": response.headline_score, "version": current_version},
        )
    # A first answer leaves the row's version as it was (1): "still unanswered" is part of the check.
    unanswered = [MemberResponse.headline_score.is_(None)] if current_version == 0 else []  # type: ignore[union-attr]
    result = session.execute(
        update(MemberResponse)
        .where(MemberResponse.id == response.id, MemberResponse.version == response.version, *unanswered)  # type: ignore[arg-type]
        .values(headline_score=score, version=current_version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(response)
        raise Conflict(
            "Your answer was saved from another tab or device",
            current={"score": response.headline_score, "version": response.version},
        )
    session.expire(response)
    _touch_response(session, principal, assessment)
    _record_rating_changed(session, principal, assessment)
    session.flush()
    session.refresh(response)
    return response


# --- Consensus ----------------------------------------------------------------------------------------


def require_manager(principal: Principal, assessment: Assessment) -> None:
    membership = principal.membership_for(assessment.organisation_id)
    if membership is None or membership.role not in MANAGER_ROLES:
        raise Forbidden("Only the chair and the board secretary record the board's agreed ratings")


def consensus_row(session: Session, assessment: Assessment, criterion: Criterion) -> ConsensusRating | None:
    return session.exec(
        select(ConsensusRating).where(
            ConsensusRating.assessment_id == assessment.id, ConsensusRating.criterion_id == criterion.id
        )
    ).first()


def save_consensus(
    session: Session,
    principal: Principal,
    assessment_id: int,
    criterion_key: str,
    *,
    level: int | None,
    rationale: str,
    version: int,
    k_anonymity: int,
    shared: bool | None = None,
) -> ConsensusRating:
    """The board's agreed level for a criterion; for a fact item (version 2), the board's answer
    from its records: the same record, answered once, by the same people (the chair or the board
    secretary), at any time before sign-off. `shared`: the optional sharing flag (None keeps it)."""
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    require_manager(principal, assessment)
    _require_in_progress(session, assessment, k_anonymity)
    criterion = criterion_for(session, assessment, criterion_key)
    if shared:
        _require_sharing_flag(session, assessment)
    if criterion.member_rated:
        # A fact item has no members' ratings, so no median to be far from.
        _require_reason_when_far(session, principal, assessment, criterion, level, rationale)
    existing = consensus_row(session, assessment, criterion)
    now = utcnow()
    old_level = existing.level if existing else None
    if existing is None:
        if version != 0:
            raise Conflict("The agreed rating has changed since you opened it", current=None)
        consensus = ConsensusRating(
            assessment_id=assessment.id,
            criterion_id=criterion.id,
            level=level,
            rationale=rationale,
            shared=bool(shared),
            version=1,
            updated_by_id=principal.user.id,
            updated_at=now,
        )
        if not added_first(session, consensus):
            current = consensus_row(session, assessment, criterion)
            raise Conflict(
                "Someone else recorded the agreed rating at the same time", current=_consensus_public(current)
            ) from None
    else:
        if existing.version != version:
            raise Conflict(
                "The agreed rating has changed since you opened it", current=_consensus_public(existing)
            )
        result = session.execute(
            update(ConsensusRating)
            .where(ConsensusRating.id == existing.id, ConsensusRating.version == version)  # type: ignore[arg-type]
            .values(
                level=level,
                rationale=rationale,
                shared=existing.shared if shared is None else shared,
                version=version + 1,
                updated_by_id=principal.user.id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.expire(existing)
            raise Conflict(
                "Someone else recorded the agreed rating at the same time",
                current=_consensus_public(existing),
            )
        session.expire(existing)
        consensus = existing
    record_about(
        session,
        "consensus.changed",
        assessment,
        f"{'Answer from records' if not criterion.member_rated else 'Agreed rating'} for "
        f"{criterion.key}: {_level_text(old_level)} → {_level_text(level)}",
        actor=principal.user,
        details=_consensus_details(criterion, old_level, level, shared),
    )
    session.flush()
    session.refresh(consensus)
    return consensus


def _consensus_details(
    criterion: Criterion, old_level: int | None, level: int | None, shared: bool | None
) -> dict[str, object]:
    """The audit event's details: the levels, and (framework version 2) the kind and sharing flag."""
    details: dict[str, object] = {"criterion": criterion.key, "old_level": old_level, "new_level": level}
    if criterion.kind is not None:
        details["kind"] = criterion.kind
    if shared is not None:
        details["shared"] = shared
    return details


def _require_sharing_flag(session: Session, assessment: Assessment) -> None:
    """The sharing flag is recorded only where the assessment's framework has one (version 2)."""
    from api.frameworks.models import FrameworkRecord
    from api.frameworks.service import framework_document

    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert framework is not None
    if framework_document(framework).sharing_flag is None:
        raise FieldError(
            "shared", "This assessment's framework has no sharing flag: leave shared out or set it false"
        )


def _require_reason_when_far(
    session: Session,
    principal: Principal,
    assessment: Assessment,
    criterion: Criterion,
    level: int | None,
    rationale: str,
) -> None:
    """An agreed level 1.5 or more from the members' median needs the board's reason with it."""
    if level is None or rationale.strip():
        return
    ratings = board_ratings(session, assessment, criterion_id=criterion.id)
    seen = criterion_spread(ratings, criterion.id or 0, principal.user.id)
    if far_from_median(level, seen):
        assert seen.median is not None
        raise FieldError("rationale", needs_rationale_text(seen.median))


def agree_consensus(
    session: Session,
    principal: Principal,
    assessment_id: int,
    criterion_key: str,
    command: ConsensusUpdate,
    *,
    k_anonymity: int,
) -> ConsensusRating:
    """Record the board's agreed level and rationale (the page and the API), compare-and-set on
    `command.version`.

    Adding evidence first makes an empty row (no level, no rationale): nobody agreed anything there,
    so a save against the statement as it was before that row (version 0) is not out of date, and is
    made against the empty row instead of answering 409."""

    def save(version: int) -> ConsensusRating:
        return save_consensus(
            session,
            principal,
            assessment_id,
            criterion_key,
            level=command.level,
            rationale=command.rationale,
            version=version,
            k_anonymity=k_anonymity,
            shared=command.shared,
        )

    try:
        return save(command.version)
    except Conflict as exc:
        current = exc.extra.get("current")
        if command.version == 0 and current and current["level"] is None and not current["rationale"]:
            return save(int(current["version"]))
        raise


def _level_text(level: int | None) -> str:
    return "none" if level is None else str(level)


# --- Closing rating ------------------------------------------------------------------------------------


def _require_chair(principal: Principal, assessment: Assessment, refusal: str) -> None:
    membership = principal.membership_for(assessment.organisation_id)
    if membership is None or membership.role != CHAIR:
        raise Forbidden(refusal)


def _lock_for_update(session: Session, assessment: Assessment) -> None:
    """Wait for saves in flight (they hold FOR SHARE): what follows sees every one of them."""
    session.exec(
        select(Assessment.id).where(Assessment.id == assessment.id).with_for_update(key_share=True)
    ).one()
    session.refresh(assessment)


def _mark_rating_closed(session: Session, principal: Principal, assessment: Assessment, how: str) -> bool:
    """Close rating now (once: False if it was already closed by someone else)."""
    result = session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.rating_closed_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(
            rating_closed_at=utcnow(), rating_closed_by_id=principal.user.id, version=Assessment.version + 1
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(assessment)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _record_rating_closed(session, principal, assessment, how)
    return True


def _record_rating_closed(session: Session, principal: Principal, assessment: Assessment, how: str) -> None:
    record_about(
        session,
        "assessment.rating_closed",
        assessment,
        f"Rating closed {how}",
        actor=principal.user,
        details={"how": how},
    )


def close_rating(session: Session, principal: Principal, assessment_id: int, *, version: int) -> Assessment:
    """The chair closes rating: members' ratings lock and the board's spread can be shown.

    Final for the year (closing again after a reopening would show what the few who changed their
    minds said). Closing an assessment whose rating has already closed changes nothing."""
    assessment = assessment_for(session, principal, assessment_id)
    _require_chair(principal, assessment, "Only the chair closes rating")
    _lock_for_update(session, assessment)
    if assessment.rating_closed_at is not None or assessment.status == "submitted":
        return assessment
    if version != assessment.version:
        raise Conflict(
            "The assessment has changed since you opened it", current={"version": assessment.version}
        )
    how = "after the rating deadline" if rating_closed(assessment) else "by the chair"
    _mark_rating_closed(session, principal, assessment, how)
    session.flush()
    return assessment


def set_rating_deadline(
    session: Session,
    principal: Principal,
    assessment_id: int,
    command: RatingDeadlineUpdate,
    *,
    k_anonymity: int,
) -> Assessment:
    """The last day members can rate (UK time); rating closes by itself when it has passed."""
    deadline, version = command.rating_deadline, command.version
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    _require_chair(principal, assessment, "Only the chair sets the rating deadline")
    _require_in_progress(session, assessment, k_anonymity)
    if rating_closed(assessment):
        raise Conflict("Rating has closed for this assessment: the deadline can no longer change")
    if version != assessment.version:
        raise Conflict(
            "The assessment has changed since you opened it", current={"version": assessment.version}
        )
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    if deadline is not None:
        today = uk_today()
        if deadline < today:
            raise FieldError("rating_deadline", "The rating deadline must be today or later")
        if deadline > cycle.closes_on:
            raise FieldError(
                "rating_deadline",
                f"The rating deadline must be on or before the cycle's closing date, "
                f"{cycle.closes_on:%-d %B %Y}",
            )
    result = session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.version == version)  # type: ignore[arg-type]
        .values(rating_deadline=deadline, version=version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The assessment has changed since you opened it")
    session.refresh(assessment)
    record_about(
        session,
        "assessment.rating_deadline_set",
        assessment,
        f"Rating deadline set to {deadline:%-d %B %Y}" if deadline else "Rating deadline removed",
        actor=principal.user,
        details={"rating_deadline": deadline.isoformat() if deadline else None},
    )
    session.flush()
    return assessment


# --- Sign-off -----------------------------------------------------------------------------------------


def missing_consensus(session: Session, assessment: Assessment) -> list[Criterion]:
    agreed = set(
        session.exec(
            select(ConsensusRating.criterion_id).where(
                ConsensusRating.assessment_id == assessment.id,
                ConsensusRating.level.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
    )
    return [criterion for _s, criterion in criteria_of(session, assessment) if criterion.id not in agreed]


def submit(session: Session, principal: Principal, assessment_id: int, *, k_anonymity: int) -> Assessment:
    """Sign off. Submitting again, or twice at once, returns the one submission."""
    assessment = assessment_for(session, principal, assessment_id)
    membership = principal.membership_for(assessment.organisation_id)
    if membership is None or membership.role != CHAIR:
        raise Forbidden("Only the chair signs off the assessment")
    if assessment.status == "submitted":
        return assessment
    # Wait for saves in flight (they hold FOR SHARE) before checking and reading the clock, so the
    # recorded sign-off time is after every change it includes.
    _lock_for_update(session, assessment)
    if assessment.status == "submitted":
        return assessment
    from api.assessments.cycles import require_open_for_submission

    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    require_open_for_submission(session, cycle, assessment.id, k_anonymity, utcnow().date())
    missing = missing_consensus(session, assessment)
    if missing:
        raise Unprocessable(
            f"{len(missing)} criteria have no agreed level yet",
            missing=[criterion.key for criterion in missing],
        )
    from api.assessments.signoff import unexplained_far_levels

    unexplained = unexplained_far_levels(session, assessment, principal.user.id)
    if unexplained:
        raise Unprocessable(
            f"{len(unexplained)} agreed levels are 1.5 or more from the members' median with no "
            "rationale: write down the board's reason for each",
            unexplained=unexplained,
        )
    now = utcnow()
    # Signing off closes rating too, in the same change, if the chair had not already closed it.
    closes_rating = assessment.rating_closed_at is None
    result = session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.status == "in_progress")  # type: ignore[arg-type]
        .values(
            status="submitted",
            submitted_by_id=principal.user.id,
            submitted_at=now,
            rating_closed_at=func.coalesce(Assessment.rating_closed_at, now),
            rating_closed_by_id=func.coalesce(Assessment.rating_closed_by_id, principal.user.id),
            version=Assessment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(assessment)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Another request signed it off first: that submission is the answer.
        session.refresh(assessment)
        return assessment
    session.refresh(assessment)
    if closes_rating:
        _record_rating_closed(session, principal, assessment, "at sign-off")
    from api.benchmarking.service import after_submission
    from api.scoring.service import store_scores

    store_scores(session, assessment)
    after_submission(session, assessment, k_anonymity)
    record_about(
        session,
        "assessment.submitted",
        assessment,
        f"{cycle.name if cycle else ''} assessment signed off and submitted",
        actor=principal.user,
    )
    session.flush()
    return assessment


def reopen(
    session: Session, admin: User, assessment: Assessment, reason: str, *, k_anonymity: int
) -> Assessment:
    if admin.platform_role != PLATFORM_ADMIN:
        raise Forbidden("Only a platform admin can reopen a submission")
    reason = reason.strip()
    if not reason:
        raise FieldError("reason", "Give the reason for reopening")
    if assessment.status != "submitted":
        raise Conflict("This assessment is not submitted")
    from api.benchmarking.service import take_final_figures

    # After the close, the year's final figures are taken first, as the submissions stood then.
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    take_final_figures(session, cycle, k_anonymity)
    session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id)  # type: ignore[arg-type]
        .values(status="in_progress", submitted_at=None, submitted_by_id=None, version=Assessment.version + 1)
        .execution_options(synchronize_session=False)
    )
    from api.scoring.service import clear_scores

    clear_scores(session, assessment)
    record_about(
        session,
        "assessment.reopened",
        assessment,
        f"Submission reopened: {reason[:300]}",
        actor=admin,
        details={"reason": reason},
    )
    session.flush()
    session.refresh(assessment)
    return assessment


# --- Progress -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    answered: int
    total: int
    headline_answered: bool

    @property
    def finished(self) -> bool:
        return self.answered >= self.total and self.headline_answered


def my_progress(session: Session, assessment: Assessment, user_id: int) -> Progress:
    """What the member has rated of what they rate (fact items are not theirs to answer)."""
    applicable = rated_criterion_ids(session, assessment)
    answered = set(
        session.exec(
            select(Rating.criterion_id).where(
                Rating.assessment_id == assessment.id, Rating.respondent_id == user_id
            )
        ).all()
    )
    headline = session.exec(
        select(MemberResponse.headline_score).where(
            MemberResponse.assessment_id == assessment.id, MemberResponse.respondent_id == user_id
        )
    ).first()
    return Progress(
        answered=len(applicable & answered), total=len(applicable), headline_answered=headline is not None
    )


def board_progress(session: Session, assessment: Assessment) -> tuple[int, int]:
    """(members finished, members on the board who rate)."""
    members = {user.id for _m, user in rating_members(session, assessment.organisation_id)}
    finished = session.exec(
        select(func.count())
        .select_from(MemberResponse)
        .where(
            MemberResponse.assessment_id == assessment.id,
            MemberResponse.completed_at.is_not(None),  # type: ignore[union-attr]
            MemberResponse.respondent_id.in_(members or {-1}),  # type: ignore[attr-defined]
        )
    ).one()
    return finished, len(members)


def members_not_finished(session: Session, assessment: Assessment) -> list[str]:
    """Names of the chair and board members on the board now who have not finished rating, for the
    chair and secretary to remind: who has not finished, never what anyone said."""
    finished = set(
        session.exec(
            select(MemberResponse.respondent_id).where(
                MemberResponse.assessment_id == assessment.id,
                MemberResponse.completed_at.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
    )
    names = [
        user.name
        for _m, user in rating_members(session, assessment.organisation_id)
        if user.id not in finished
    ]
    return sorted(names, key=str.casefold)


@dataclass(frozen=True)
class BoardChange:
    """A change to the board since the assessment opened, shown to the whole board."""

    occurred_at: Any
    sentence: str


def board_changes(session: Session, assessment: Assessment) -> list[BoardChange]:
    """Every member added, and every change of a chair, since the assessment opened (from the
    append-only audit log, so removing someone again does not hide that they were added)."""
    from api.audit.models import AuditEvent

    events = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.organisation_id == assessment.organisation_id,
            AuditEvent.occurred_at > assessment.opened_at,  # type: ignore[operator]
            AuditEvent.action.in_(BOARD_CHANGE_ACTIONS),  # type: ignore[attr-defined]
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    emails = {str(e.details.get("email")) for e in events if e.details.get("email")}
    user_ids = {e.object_id for e in events if e.action == "user.created" and e.object_id}
    people = session.exec(
        select(User.id, User.email, User.name).where(
            col(User.email).in_(emails or {""}) | col(User.id).in_(user_ids or {-1})
        )
    ).all()
    by_email = {email: name for _id, email, name in people}
    by_id = {user_id: name for user_id, _email, name in people}
    changes = []
    for event in events:
        details = event.details or {}
        email = str(details.get("email") or "")
        who = by_email.get(email) or (by_id.get(event.object_id) if event.action == "user.created" else None)
        who = who or email or "Someone"
        by = f" (by {event.actor_email})" if event.actor_email else ""
        if event.action in ("invitation.sent", "user.created"):
            role = _role_words(details.get("role"), details.get("board_role"))
            changes.append(BoardChange(event.occurred_at, f"{who} joined the board as {role}{by}"))
        elif event.action == "member.role_changed":
            old, new = details.get("old_role"), details.get("new_role")
            if CHAIR in (old, new) and old != new:
                what = (
                    "became a chair"
                    if new == CHAIR
                    else f"stopped being a chair and is now {_role_words(new, details.get('new_board_role'))}"
                )
                changes.append(BoardChange(event.occurred_at, f"{who} {what}{by}"))
        elif event.action == "member.removed" and details.get("role") == CHAIR:
            changes.append(BoardChange(event.occurred_at, f"{who}, a chair, was removed from the board{by}"))
    return changes


BOARD_CHANGE_ACTIONS = ("invitation.sent", "user.created", "member.role_changed", "member.removed")


def _role_words(role: object, board_role: object) -> str:
    from api.accounts.wording import role_phrase

    if isinstance(role, str) and isinstance(board_role, str):
        return role_phrase(role, board_role)
    return {
        CHAIR: "a chair",
        BOARD_MEMBER: "a board member",
        BOARD_SECRETARY: "the board secretary",
    }.get(str(role), "a member")


def my_headline(session: Session, assessment_id: int, user_id: int) -> tuple[int | None, int]:
    """(score, version) of the member's headline answer; version 0 when not answered yet."""
    response = session.exec(
        select(MemberResponse).where(
            MemberResponse.assessment_id == assessment_id, MemberResponse.respondent_id == user_id
        )
    ).first()
    if response is None or response.headline_score is None:
        return None, 0
    return response.headline_score, response.version
