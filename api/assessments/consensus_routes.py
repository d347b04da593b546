"""JSON API for the board's side of an assessment: the spread of members' ratings, the rating
window, the agreed answers and their evidence, the sign-off checks, signing off and reopening
(bearer token; scoped to the caller's trusts).

An assessment itself and each member's own answers are in routes.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.assessments import evidence as evidence_service
from api.assessments import service
from api.assessments.carry_forward import cycle_names
from api.assessments.downloads import evidence_file_download
from api.assessments.models import ConsensusRating, Evidence
from api.assessments.repository import assessment_for_admin, consensus_of, criteria_of, evidence_of
from api.assessments.routes import assessment_public
from api.assessments.schemas import (
    AssessmentPublic,
    CloseRating,
    ConsensusPublic,
    ConsensusUpdate,
    CriterionSpread,
    EvidencePublic,
    LevelCount,
    LinkEvidenceCreate,
    RatingDeadlineUpdate,
    ReopenRequest,
    SignOffChecksPublic,
    SignOffPoint,
    SignOffSection,
)
from api.assessments.signoff import StatementPoint, sign_off_checks
from api.assessments.spread import board_spread, rating_closed, spread_of
from api.db import SessionDep
from api.deps import SettingsDep
from api.permissions import ChairApi, ManagerApi, MemberApi, PlatformAdminApi
from api.public import filled

router = APIRouter(prefix="/api/v1", tags=["assessments"])


def _consensus_public(
    criterion_key: str, consensus: ConsensusRating, evidence: list[Evidence], carried_from: dict[int, str]
) -> ConsensusPublic:
    """The board's agreed answer for one statement, with its evidence."""
    evidence_public = [_evidence_public(e, carried_from) for e in evidence]
    return filled(ConsensusPublic, consensus, criterion_key=criterion_key, evidence=evidence_public)


def _evidence_public(evidence: Evidence, carried_from: dict[int, str] | None = None) -> EvidencePublic:
    """`carried_from`: cycle names by id, for evidence carried forward from an earlier year."""
    carried_forward_from = (carried_from or {}).get(evidence.carried_from_cycle_id or 0)
    return filled(EvidencePublic, evidence, carried_forward_from=carried_forward_from)


@router.get("/assessments/{assessment_id}/consensus", response_model=list[CriterionSpread])
def get_consensus(session: SessionDep, access: ManagerApi) -> list[CriterionSpread]:
    """Per criterion: the spread of members' ratings (no names) and the agreed level so far.

    While members are rating, only how many have rated; the spread once rating has closed, for
    criteria at least 5 members other than you rated (docs/anonymity.md). A fact item (framework
    version 2) has no spread (`answered_from_records`, `hidden_because` "records"): its `consensus`
    is the board's answer from its records, with its evidence."""
    spreads = board_spread(session, access.assessment, access.principal.user.id)
    closed = rating_closed(access.assessment)
    agreed = consensus_of(session, access.assessment.id)
    evidence = evidence_of(session, access.assessment.id)
    carried_from = cycle_names(session, [e for rows in evidence.values() for e in rows])
    answer = []
    for _section, criterion in criteria_of(session, access.assessment):
        data = spread_of(spreads, criterion, closed)
        consensus: ConsensusRating | None = agreed.get(criterion.id)
        answer.append(
            filled(
                CriterionSpread,
                data,
                criterion_key=criterion.key,
                kind=criterion.kind,
                answered_from_records=not criterion.member_rated,
                counts=[LevelCount(level=k, count=v) for k, v in data.counts.items()]
                if data.counts
                else None,
                consensus=_consensus_public(
                    criterion.key, consensus, evidence.get(criterion.id, []), carried_from
                )
                if consensus
                else None,
            )
        )
    return answer


@router.post(
    "/assessments/{assessment_id}/close-rating",
    response_model=AssessmentPublic,
    responses={409: {"description": "Stale version"}},
)
def close_rating(body: CloseRating, session: SessionDep, access: ChairApi) -> AssessmentPublic:
    """Close rating (chair): members' ratings lock and the board's spread can be shown. Final for
    the year; closing again changes nothing."""
    assessment = service.close_rating(session, access.principal, access.assessment.id, version=body.version)
    return assessment_public(session, assessment, access.principal)


@router.put(
    "/assessments/{assessment_id}/rating-deadline",
    response_model=AssessmentPublic,
    responses={409: {"description": "Stale version, or rating has closed"}},
)
def put_rating_deadline(
    body: RatingDeadlineUpdate, session: SessionDep, settings: SettingsDep, access: ChairApi
) -> AssessmentPublic:
    """The last day members can rate (UK time): rating closes by itself once it has passed."""
    assessment = service.set_rating_deadline(
        session, access.principal, access.assessment.id, body, k_anonymity=settings.k_anonymity
    )
    return assessment_public(session, assessment, access.principal)


@router.put(
    "/assessments/{assessment_id}/consensus/{criterion_key}",
    response_model=ConsensusPublic,
    responses={409: {"description": "Stale version (the answer holds the current value) or signed off"}},
)
def put_consensus(
    criterion_key: str, body: ConsensusUpdate, session: SessionDep, settings: SettingsDep, access: ManagerApi
) -> ConsensusPublic:
    """The board's agreed level, rationale and sharing flag for one statement (chair or board
    secretary). For a fact item (framework version 2) this is the board's answer from its records,
    given once, at any time before sign-off: a second answer updates the same record (compare-and-set
    on `version`). Evidence goes on the same record (.../links, .../files)."""
    consensus = service.agree_consensus(
        session, access.principal, access.assessment.id, criterion_key, body, k_anonymity=settings.k_anonymity
    )
    evidence = evidence_of(session, access.assessment.id).get(consensus.criterion_id, [])
    return _consensus_public(criterion_key, consensus, evidence, cycle_names(session, evidence))


@router.post(
    "/assessments/{assessment_id}/consensus/{criterion_key}/links",
    status_code=201,
    response_model=EvidencePublic,
)
def add_link(
    criterion_key: str, body: LinkEvidenceCreate, session: SessionDep, access: ManagerApi
) -> EvidencePublic:
    evidence = evidence_service.add_link(
        session, access.principal, access.assessment.id, criterion_key, title=body.title, url=body.url
    )
    return _evidence_public(evidence)


@router.post(
    "/assessments/{assessment_id}/consensus/{criterion_key}/files",
    status_code=201,
    response_model=EvidencePublic,
)
async def add_file(
    criterion_key: str,
    session: SessionDep,
    access: ManagerApi,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, PNG or JPEG, at most 10 MB")],
) -> EvidencePublic:
    data = await read_upload(file)
    # Checking the file and the database work block: in the thread pool, never in the event loop,
    # where a wait for a row lock would stop the very requests that hold it from finishing.
    evidence = await run_in_threadpool(
        evidence_service.add_file,
        session,
        access.principal,
        access.assessment.id,
        criterion_key,
        filename=file.filename or "",
        data=data,
    )
    return _evidence_public(evidence)


async def read_upload(file: UploadFile) -> bytes:
    """Read at most one byte past the limit, so a huge upload is refused without holding it all."""
    return await file.read(evidence_service.MAX_UPLOAD_BYTES + 1)


@router.get(
    "/assessments/{assessment_id}/evidence/{evidence_id}",
    response_model=EvidencePublic,
    responses={
        200: {
            "description": "A link: its details (JSON). An uploaded file: the file itself, as an attachment",
            "content": {media_type: {} for media_type, _label in evidence_service.FILE_TYPES.values()},
        }
    },
)
def download_evidence(request: Request, evidence_id: int, session: SessionDep, access: MemberApi) -> Response:
    evidence = evidence_service.evidence_for(session, access.principal, access.assessment.id, evidence_id)
    return evidence_file_response(request, session, evidence)


def evidence_file_response(request: Request, session: Session, evidence: Evidence) -> Response:
    if evidence.kind == "link":
        return JSONResponse(_evidence_public(evidence).model_dump())
    return evidence_file_download(request, session, evidence, evidence.title)


@router.delete("/assessments/{assessment_id}/evidence/{evidence_id}", status_code=204)
def delete_evidence(evidence_id: int, session: SessionDep, access: ManagerApi) -> Response:
    evidence_service.remove_evidence(session, access.principal, access.assessment.id, evidence_id)
    return Response(status_code=204)


def _points(points: list[StatementPoint]) -> list[SignOffPoint]:
    return [filled(SignOffPoint, p, criterion_key=p.key, members_median=p.median) for p in points]


@router.get("/assessments/{assessment_id}/sign-off-checks", response_model=SignOffChecksPublic)
def get_sign_off_checks(session: SessionDep, access: ManagerApi) -> SignOffChecksPublic:
    """The points the sign-off page lists, for clients that submit through the API."""
    checks = sign_off_checks(session, access.assessment, access.principal.user.id)
    return SignOffChecksPublic(
        members_not_finished=checks.not_finished,
        agreed_without_rationale=_points(checks.without_rationale),
        far_from_median_without_rationale=_points(checks.far_without_rationale),
        sections_without_evidence=[
            SignOffSection(section_key=s.key, number=s.number, title=s.title)
            for s in checks.sections_without_evidence
        ],
        answered_from_records_without_evidence=_points(checks.records_without_evidence),
        level_four_not_sustained=_points(checks.level_four_unsupported),
        blocked=checks.blocked,
    )


@router.post(
    "/assessments/{assessment_id}/submit",
    response_model=AssessmentPublic,
    responses={422: {"description": "Lists every criterion without an agreed level (`missing`)"}},
)
def submit_assessment(session: SessionDep, settings: SettingsDep, access: ChairApi) -> AssessmentPublic:
    assessment = service.submit(
        session, access.principal, access.assessment.id, k_anonymity=settings.k_anonymity
    )
    return assessment_public(session, assessment, access.principal)


@router.post("/admin/assessments/{assessment_id}/reopen", response_model=AssessmentPublic)
def reopen_assessment(
    assessment_id: int,
    body: ReopenRequest,
    session: SessionDep,
    settings: SettingsDep,
    admin: PlatformAdminApi,
) -> AssessmentPublic:
    assessment = service.reopen(
        session,
        admin.user,
        assessment_for_admin(session, assessment_id),
        body.reason,
        k_anonymity=settings.k_anonymity,
    )
    return assessment_public(session, assessment, None)
