"""Route dependencies: the assessment named in the path, for a member of its trust with a role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.assessments.models import Assessment
from api.assessments.repository import assessment_for
from api.db import SessionDep
from api.deps import ALL_TRUST_ROLES, Principal, TrustMembership, get_api_principal, get_page_principal
from api.errors import Forbidden


@dataclass(frozen=True)
class AssessmentAccess:
    principal: Principal
    assessment: Assessment
    membership: TrustMembership


class _AssessmentRole:
    """Another trust's assessment (or none): 404. A member without one of these roles: 403.

    `lock`: read the assessment under a share lock (see assessment_for), for routes that change
    what is in it, so the access check and the lock are one query.
    """

    def __init__(self, *roles: str, page: bool, lock: bool = False) -> None:
        self.allowed_roles = frozenset(roles or ALL_TRUST_ROLES)
        self.page = page
        self.lock = lock

    def __call__(self, request: Request, session: SessionDep, assessment_id: int) -> AssessmentAccess:
        principal = get_page_principal(request, session) if self.page else get_api_principal(request, session)
        assessment = assessment_for(session, principal, assessment_id, lock=self.lock)
        membership = principal.membership_for(assessment.organisation_id)
        assert membership is not None
        if membership.role not in self.allowed_roles:
            raise Forbidden("Your role on this board does not allow this")
        return AssessmentAccess(principal, assessment, membership)


def assessment_role(*roles: str, page: bool = False, lock: bool = False) -> _AssessmentRole:
    return _AssessmentRole(*roles, page=page, lock=lock)


AnyMember = Annotated[AssessmentAccess, Depends(assessment_role())]
Rater = Annotated[AssessmentAccess, Depends(assessment_role("chair", "board_member"))]
# A rater saving an answer: the assessment is read under the share lock save_rating needs.
RaterSaving = Annotated[AssessmentAccess, Depends(assessment_role("chair", "board_member", lock=True))]
Manager = Annotated[AssessmentAccess, Depends(assessment_role("chair", "board_secretary"))]
ChairOnly = Annotated[AssessmentAccess, Depends(assessment_role("chair"))]

PageMember = Annotated[AssessmentAccess, Depends(assessment_role(page=True))]
PageRater = Annotated[AssessmentAccess, Depends(assessment_role("chair", "board_member", page=True))]
PageRaterSaving = Annotated[
    AssessmentAccess, Depends(assessment_role("chair", "board_member", page=True, lock=True))
]
PageManager = Annotated[AssessmentAccess, Depends(assessment_role("chair", "board_secretary", page=True))]
PageChair = Annotated[AssessmentAccess, Depends(assessment_role("chair", page=True))]
