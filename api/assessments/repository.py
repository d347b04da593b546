"""Queries for assessments, every one starting from a statement scoped to the caller's trusts."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from api.accounts.models import Membership, User
from api.accounts.principal import Principal
from api.accounts.roles import RATER_ROLES
from api.assessments.models import Assessment, ConsensusRating, Cycle, Evidence, MemberResponse, Rating
from api.errors import NotFound
from api.frameworks.models import Criterion, FrameworkSection
from api.frameworks.schema import FACT
from api.integers import can_name_a_row
from api.organisations.models import Organisation

RATING_ROLES = RATER_ROLES
# In SQL, Criterion.member_rated: not a fact item (a version 1 criterion's kind is null).
MEMBER_RATED = Criterion.kind.is_distinct_from(FACT)  # type: ignore[union-attr]


def readable_assessments(principal: Principal) -> SelectOfScalar[Assessment]:
    """Assessments of the trusts the caller sits on: the only way routes reach an assessment."""
    return select(Assessment).where(Assessment.organisation_id.in_(principal.organisation_ids))  # type: ignore[attr-defined]


# Every route on an assessment starts with this read (autosave included), so it is built once, with
# the caller's trusts as an expanding parameter. Its cycle comes in the same statement: whether the
# year has closed is then known without another query (session.get finds it in the session).
_ASSESSMENT_FOR = (
    select(Assessment, Cycle)
    .join(Cycle, Cycle.id == Assessment.cycle_id)  # type: ignore[arg-type]
    .where(
        Assessment.organisation_id.in_(bindparam("organisation_ids", expanding=True)),  # type: ignore[attr-defined]
        Assessment.id == bindparam("assessment_id"),
    )
)
# FOR SHARE (of the assessment's row only) on PostgreSQL: a submission (an UPDATE of this row) waits
# for saves in flight, and a save that starts after a submission sees it. populate_existing: the row
# as it is once locked, not as this session first read it (perhaps before a submission committed).
_ASSESSMENT_FOR_LOCKED = _ASSESSMENT_FOR.with_for_update(read=True, of=Assessment).execution_options(  # type: ignore[arg-type]
    populate_existing=True
)


NO_SUCH_ASSESSMENT = "No assessment with that id among your boards"


def assessment_for(
    session: Session, principal: Principal, assessment_id: int, *, lock: bool = False
) -> Assessment:
    """The caller's trust's assessment, or 404 (never 403: another trust's id is not confirmed).

    The same rule as readable_assessments(principal), with the id."""
    if not can_name_a_row(assessment_id):
        raise NotFound(NO_SUCH_ASSESSMENT)
    row = session.exec(
        _ASSESSMENT_FOR_LOCKED if lock else _ASSESSMENT_FOR,
        params={"organisation_ids": principal.organisation_ids, "assessment_id": assessment_id},
    ).first()
    if row is None:
        raise NotFound(NO_SUCH_ASSESSMENT)
    assessment, cycle = row
    # The identity map holds objects weakly: keep the cycle for this session, so that a later
    # session.get(Cycle, ...) (has the year closed?) finds it instead of asking the database.
    session.info.setdefault("cycles", {})[cycle.id] = cycle
    return assessment


def assessment_for_admin(session: Session, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id) if can_name_a_row(assessment_id) else None
    if assessment is None:
        raise NotFound("No assessment with that id")
    return assessment


def criteria_of(session: Session, assessment: Assessment) -> list[tuple[FrameworkSection, Criterion]]:
    """The framework's sections and criteria in order, limited to those that apply to this trust."""
    organisation = session.get(Organisation, assessment.organisation_id)
    assert organisation is not None
    rows = session.exec(
        select(FrameworkSection, Criterion)
        .join(Criterion, Criterion.section_id == FrameworkSection.id)
        .where(Criterion.framework_id == assessment.framework_id)
        .order_by(FrameworkSection.number, Criterion.position)  # type: ignore[arg-type]
    ).all()
    return [
        (section, criterion)
        for section, criterion in rows
        if not criterion.applies_to or organisation.trust_type in criterion.applies_to
    ]


def rated_criteria_of(session: Session, assessment: Assessment) -> list[tuple[FrameworkSection, Criterion]]:
    """What each member rates: criteria_of less the fact items (framework version 2), which the chair
    or the board secretary answers once for the board. Every criterion of version 1."""
    return [
        (section, criterion)
        for section, criterion in criteria_of(session, assessment)
        if criterion.member_rated
    ]


def by_section(
    pairs: list[tuple[FrameworkSection, Criterion]],
) -> list[tuple[FrameworkSection, list[Criterion]]]:
    """criteria_of's pairs grouped by section, both in framework order."""
    grouped: dict[int, tuple[FrameworkSection, list[Criterion]]] = {}
    for section, criterion in pairs:
        grouped.setdefault(section.id or 0, (section, []))[1].append(criterion)
    return list(grouped.values())


def rated_criterion_ids(session: Session, assessment: Assessment) -> set[int]:
    """The ids of the criteria each member rates (as rated_criteria_of decides), in one light query:
    no sections, no criterion texts."""
    trust_type = select(Organisation.trust_type).where(Organisation.id == assessment.organisation_id)
    rows = session.exec(
        select(Criterion.id, Criterion.applies_to, trust_type.scalar_subquery()).where(
            Criterion.framework_id == assessment.framework_id, MEMBER_RATED
        )
    ).all()
    return {criterion_id for criterion_id, applies_to, trust in rows if not applies_to or trust in applies_to}


def my_ratings(session: Session, assessment_id: int, respondent_id: int) -> list[Rating]:
    return list(
        session.exec(
            select(Rating).where(Rating.assessment_id == assessment_id, Rating.respondent_id == respondent_id)
        ).all()
    )


def ratings_of_criterion(session: Session, assessment_id: int, criterion_id: int) -> list[Rating]:
    return list(
        session.exec(
            select(Rating).where(Rating.assessment_id == assessment_id, Rating.criterion_id == criterion_id)
        ).all()
    )


def all_ratings(session: Session, assessment_id: int) -> list[Rating]:
    return list(session.exec(select(Rating).where(Rating.assessment_id == assessment_id)).all())


def consensus_of(session: Session, assessment_id: int) -> dict[int, ConsensusRating]:
    rows = session.exec(select(ConsensusRating).where(ConsensusRating.assessment_id == assessment_id)).all()
    return {row.criterion_id: row for row in rows}


def evidence_of(session: Session, assessment_id: int) -> dict[int, list[Evidence]]:
    rows = session.exec(
        select(ConsensusRating.criterion_id, Evidence)
        .join(Evidence, Evidence.consensus_rating_id == ConsensusRating.id)
        .where(ConsensusRating.assessment_id == assessment_id)
        .order_by(Evidence.id)  # type: ignore[arg-type]
    ).all()
    grouped: dict[int, list[Evidence]] = {}
    for criterion_id, evidence in rows:
        grouped.setdefault(criterion_id, []).append(evidence)
    return grouped


def rating_members(session: Session, organisation_id: int) -> list[tuple[Membership, User]]:
    return list(
        session.exec(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organisation_id == organisation_id, Membership.role.in_(RATING_ROLES))  # type: ignore[attr-defined]
        ).all()
    )


def responses_of(session: Session, assessment_id: int) -> list[MemberResponse]:
    return list(
        session.exec(select(MemberResponse).where(MemberResponse.assessment_id == assessment_id)).all()
    )


def cycle_by_name(session: Session, name: str) -> Cycle | None:
    return session.exec(select(Cycle).where(Cycle.name == name)).first()


def previous_assessment(session: Session, assessment: Assessment) -> Assessment | None:
    """The same trust's assessment in the cycle before this one, if it had one."""
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    return session.exec(
        select(Assessment)
        .join(Cycle, Cycle.id == Assessment.cycle_id)
        .where(Assessment.organisation_id == assessment.organisation_id, Cycle.opens_on < cycle.opens_on)
        .order_by(Cycle.opens_on.desc())  # type: ignore[attr-defined]
    ).first()
