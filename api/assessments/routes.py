"""JSON API for an assessment and each member's own answers: opening and reading it, its statements,
and a member's ratings and headline answer (bearer token; scoped to the caller's trusts).

The board's side (the spread, closing rating, the agreed answers and their evidence, sign-off and
reopening) is in consensus_routes.py.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from api.accounts.principal import Principal
from api.accounts.roles import MANAGER_ROLES, RATER_ROLES
from api.assessments import service
from api.assessments.models import Assessment, Cycle, Rating
from api.assessments.repository import criteria_of, my_ratings, rated_criteria_of
from api.assessments.schemas import (
    AssessmentCreate,
    AssessmentPublic,
    BoardProgress,
    CriterionPublic,
    HeadlinePublic,
    HeadlineUpdate,
    Progress,
    RatingPublic,
    RatingUpdate,
    RatingWindow,
)
from api.assessments.spread import rating_closed
from api.db import SessionDep
from api.deps import SettingsDep
from api.frameworks.models import FrameworkRecord
from api.organisations.models import Organisation
from api.permissions import (
    AssessmentAccess,
    MemberApi,
    OneStatementSave,
    RaterApi,
    RaterSavingApi,
    TrustManagerApi,
)
from api.public import filled
from api.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["assessments"])


def assessment_public(
    session: Session, assessment: Assessment, principal: Principal | None
) -> AssessmentPublic:
    cycle = session.get(Cycle, assessment.cycle_id)
    framework = session.get(FrameworkRecord, assessment.framework_id)
    organisation = session.get(Organisation, assessment.organisation_id)
    assert cycle and framework and organisation
    mine = None
    if principal is not None:
        membership = principal.membership_for(assessment.organisation_id)
        if membership is not None and membership.role in RATER_ROLES:
            progress = service.my_progress(session, assessment, principal.user.id)
            mine = filled(Progress, progress)
    finished, members = service.board_progress(session, assessment)
    not_finished = None
    if principal is not None:
        membership = principal.membership_for(assessment.organisation_id)
        if membership is not None and membership.role in MANAGER_ROLES:
            not_finished = service.members_not_finished(session, assessment)
    return filled(
        AssessmentPublic,
        assessment,
        organisation_code=organisation.ods_code,
        cycle=cycle.name,
        framework_key=framework.key,
        rating=RatingWindow(
            closed=rating_closed(assessment),
            deadline=assessment.rating_deadline,
            closed_at=assessment.rating_closed_at,
        ),
        my_progress=mine,
        board_progress=BoardProgress(members_finished=finished, members=members, not_finished=not_finished),
    )


@router.post(
    "/organisations/{ods_code}/assessments",
    status_code=201,
    response_model=AssessmentPublic,
    responses={409: {"description": "Already open for that cycle: the answer points to it"}},
)
def open_assessment(body: AssessmentCreate, session: SessionDep, access: TrustManagerApi) -> AssessmentPublic:
    assessment = service.open_assessment(session, access.organisation, body.cycle, access.principal.user)
    return assessment_public(session, assessment, access.principal)


@router.get("/assessments/{assessment_id}", response_model=AssessmentPublic)
def get_assessment(session: SessionDep, access: MemberApi) -> AssessmentPublic:
    return assessment_public(session, access.assessment, access.principal)


@router.get("/assessments/{assessment_id}/criteria", response_model=list[CriterionPublic])
def get_criteria(
    session: SessionDep, access: MemberApi, members_rate: bool | None = None
) -> list[CriterionPublic]:
    """The assessment's statements in order, each saying who answers it: every member (`members_rate`:
    a perception item, or any version 1 criterion), or the board once from its records (a fact item,
    answered by the chair or the board secretary through PUT .../consensus/{criterion_key}).
    `?members_rate=true` lists only what each member rates."""
    return [
        CriterionPublic(
            key=criterion.key,
            section_key=section.key,
            statement=criterion.statement,
            kind=criterion.kind,
            members_rate=criterion.member_rated,
        )
        for section, criterion in criteria_of(session, access.assessment)
        if members_rate is None or criterion.member_rated == members_rate
    ]


@router.get("/assessments/{assessment_id}/ratings", response_model=list[RatingPublic])
def get_my_ratings(session: SessionDep, access: RaterApi) -> list[RatingPublic]:
    """Your own ratings, of the statements members rate (never a fact item)."""
    keys = {criterion.id: criterion.key for _s, criterion in rated_criteria_of(session, access.assessment)}
    return [
        RatingPublic(criterion_key=keys[r.criterion_id], level=r.level, comment=r.comment, version=r.version)
        for r in my_ratings(session, access.assessment.id, access.principal.user.id)
        if r.criterion_id in keys
    ]


@router.put(
    "/assessments/{assessment_id}/ratings/{criterion_key}",
    response_model=RatingPublic,
    responses={
        409: {"description": "Stale version (the answer holds the current value) or already submitted"},
        422: {
            "description": "Not a criterion of this assessment, or a fact item (members do not rate it: "
            "the chair or the board secretary answers it once for the board), naming `criterion_key`"
        },
    },
)
def put_rating(
    criterion_key: str, body: RatingUpdate, session: SessionDep, settings: SettingsDep, access: RaterSavingApi
) -> RatingPublic:
    rating = save_member_rating(session, settings, access, criterion_key, body)
    return RatingPublic(
        criterion_key=criterion_key, level=rating.level, comment=rating.comment, version=rating.version
    )


def save_member_rating(
    session: Session,
    settings: Settings,
    access: AssessmentAccess | OneStatementSave,
    criterion_key: str,
    command: RatingUpdate,
) -> Rating:
    """One member's answer to one statement, saved: the one way in for this route, the section
    page's "Save and continue" and its autosave (api/assessments/views.py).

    On PostgreSQL the API's gate leaves its checks to the save, which makes them, the save and its
    audit event in one statement (autosave.py); the usual path is service.save_rating."""
    if isinstance(access, OneStatementSave):
        rating = access.save(
            criterion_key, level=command.level, comment=command.comment, version=command.version
        )
        if rating is not None:
            return rating
        access = access.checked()  # the year has closed: the usual path decides
    return service.save_rating(
        session,
        access.principal,
        access.assessment,
        criterion_key,
        command,
        k_anonymity=settings.k_anonymity,
    )


@router.get("/assessments/{assessment_id}/headline", response_model=HeadlinePublic)
def get_headline(session: SessionDep, access: RaterApi) -> HeadlinePublic:
    score, version = service.my_headline(session, access.assessment.id, access.principal.user.id)
    return HeadlinePublic(score=score, version=version)


@router.put("/assessments/{assessment_id}/headline", response_model=HeadlinePublic)
def put_headline(
    body: HeadlineUpdate, session: SessionDep, settings: SettingsDep, access: RaterApi
) -> HeadlinePublic:
    response = service.save_headline(
        session, access.principal, access.assessment.id, body, k_anonymity=settings.k_anonymity
    )
    return HeadlinePublic(score=response.headline_score, version=response.version)
