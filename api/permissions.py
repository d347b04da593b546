"""Who may: every role dependency a route declares, in one place.

A route says who may call it by taking one of the aliases at the bottom of this module. Each name
says whom it lets in and through which door:

- `...Page`: a page, signed in with the session cookie (and the second factor when needed);
  `...Api`: the JSON API, with a bearer token.
- The object the route names in its path: `Trust...` the trust in `{ods_code}`, `Action...` the
  action in `{action_id}`, otherwise (`Member`, `Rater`, `Manager`, `Chair`) the assessment in
  `{assessment_id}`. `PlatformAdmin` and `Analyst` name no object: they are platform roles.

Every trust-object rule is one `PathObjectGate`: load the object named in the path through a query
already limited to the caller's trusts (another trust's object, or none: 404, so its existence is
not confirmed), then check the caller's role on that trust's board (403). Each gate carries
`allowed_roles` and `page`, so tests/test_route_walk.py finds every route's rule by itself.

Role names are constants in api/accounts/roles.py. Add a new alias here, never in a route module.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session

from api.accounts.principal import Principal, TrustMembership
from api.accounts.roles import ANALYST_ROLES, CHAIR, MANAGER_ROLES, PLATFORM_ADMIN, RATER_ROLES, TRUST_ROLES
from api.accounts.tokens import secret_hash
from api.actions.models import Action
from api.actions.service import action_for
from api.assessments import autosave
from api.assessments.models import Assessment, Rating
from api.assessments.repository import NO_SUCH_ASSESSMENT, assessment_for
from api.db import SessionDep
from api.deps import (
    TOKEN_REFUSED,
    NotSignedIn,
    bearer_token,
    get_api_principal,
    get_page_principal,
    token_second_factor_refusal,
)
from api.errors import Forbidden, NotFound
from api.integers import can_name_a_row
from api.organisations.models import Organisation

# --- What a route receives --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustAccess:
    principal: Principal
    organisation: Organisation
    membership: TrustMembership


@dataclass(frozen=True)
class AssessmentAccess:
    principal: Principal
    assessment: Assessment
    membership: TrustMembership


@dataclass(frozen=True)
class ActionAccess:
    principal: Principal
    action: Action
    membership: TrustMembership


# --- The gates --------------------------------------------------------------------------------------------

AccessT = TypeVar("AccessT")

ROLE_REFUSED = "Your role on this board does not allow this"


def _principal(request: Request, session: Session, page: bool) -> Principal:
    return get_page_principal(request, session) if page else get_api_principal(request, session)


class PathObjectGate(Generic[AccessT]):
    """The object named by `path_param` in the path, for a member of its trust with one of the roles.

    `find(session, principal, value)` returns the object and its trust's id, reading only the
    caller's trusts, and raises NotFound for anything else. The gate then checks the caller's role
    on that trust's board (403 with `refused`) and returns `access(principal, object, membership)`.
    FastAPI reads the path parameter from the signature the gate builds for itself.
    """

    def __init__(
        self,
        *roles: str,
        page: bool,
        path_param: str,
        path_type: type,
        find: Callable[[Session, Principal, Any], tuple[Any, int]],
        access: Callable[[Principal, Any, TrustMembership], AccessT],
        refused: str = ROLE_REFUSED,
    ) -> None:
        self.allowed_roles = frozenset(roles or TRUST_ROLES)
        self.page = page
        self.path_param = path_param
        self._find = find
        self._access = access
        self._refused = refused
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter("request", kind, annotation=Request),
                inspect.Parameter("session", kind, annotation=SessionDep),
                inspect.Parameter(path_param, kind, annotation=path_type),
            ]
        )

    def __call__(self, request: Request, session: Session, **path: Any) -> AccessT:
        principal = _principal(request, session, self.page)
        found, organisation_id = self._find(session, principal, path[self.path_param])
        membership = principal.membership_for(organisation_id)
        assert membership is not None, "find() returned an object outside the caller's trusts"
        if membership.role not in self.allowed_roles:
            raise Forbidden(self._refused)
        return self._access(principal, found, membership)

    def __repr__(self) -> str:
        door = "page" if self.page else "API"
        return f"PathObjectGate({self.path_param}; {', '.join(sorted(self.allowed_roles))}; {door})"


def _find_trust(session: Session, principal: Principal, ods_code: str) -> tuple[Organisation, int]:
    membership = principal.membership_by_code(ods_code)
    if membership is None:
        raise NotFound("No trust with that code among your boards")
    organisation = session.get(Organisation, membership.organisation_id)
    assert organisation is not None
    return organisation, organisation.id  # type: ignore[return-value]


def _find_assessment(*, lock: bool) -> Callable[[Session, Principal, int], tuple[Assessment, int]]:
    def find(session: Session, principal: Principal, assessment_id: int) -> tuple[Assessment, int]:
        assessment = assessment_for(session, principal, assessment_id, lock=lock)
        return assessment, assessment.organisation_id

    return find


def _find_action(session: Session, principal: Principal, action_id: int) -> tuple[Action, int]:
    action = action_for(session, principal, action_id)
    return action, action.organisation_id


def trust_role(*roles: str, page: bool = False) -> PathObjectGate[TrustAccess]:
    """The trust named by `{ods_code}`; no roles given: any member of its board."""
    return PathObjectGate(
        *roles, page=page, path_param="ods_code", path_type=str, find=_find_trust, access=TrustAccess
    )


def assessment_role(*roles: str, page: bool = False, lock: bool = False) -> PathObjectGate[AssessmentAccess]:
    """The assessment named by `{assessment_id}`. `lock`: read it under a share lock (see
    assessment_for), for routes that change what is in it, so the check and the lock are one query."""
    return PathObjectGate(
        *roles,
        page=page,
        path_param="assessment_id",
        path_type=int,
        find=_find_assessment(lock=lock),
        access=AssessmentAccess,
    )


@dataclass(frozen=True)
class OneStatementSave:
    """RaterSavingApi on PostgreSQL: the gate's checks are left to the save itself, which makes them
    in the same statement as the writes (api/assessments/autosave.py). `save` answers exactly as
    the gate and service.save_rating would: 401, 404, 403, 409, 422, or the saved rating."""

    gate: RatingSaveGate
    request: Request
    session: Session
    assessment_id: int
    token: str

    def save(self, criterion_key: str, *, level: int | None, comment: str, version: int) -> Rating | None:
        """The saved rating; None when the year has closed: then `checked()` and the usual save."""
        facts = autosave.save_in_one_statement(
            self.session,
            token_hash=secret_hash(self.token),
            assessment_id=self.assessment_id,
            criterion_key=criterion_key,
            level=level,
            comment=comment,
            version=version,
            rating_roles=self.gate.allowed_roles,
        )
        # Who may, in the gate's order: signed in, the second factor, the board (404), the role (403).
        if facts.user_id is None:
            raise NotSignedIn(TOKEN_REFUSED)
        refusal = token_second_factor_refusal(
            facts.totp_enabled_at, facts.second_factor_at, needs_second_factor=bool(facts.needs_second_factor)
        )
        if refusal is not None:
            raise refusal
        if facts.assessment_id is None:
            raise NotFound(NO_SUCH_ASSESSMENT)
        if facts.role not in self.gate.allowed_roles:
            raise Forbidden(ROLE_REFUSED)
        return facts.saved_rating(self.session, criterion_key, version)

    def checked(self) -> AssessmentAccess:
        """The usual gate (token, then the assessment under its share lock)."""
        return PathObjectGate.__call__(
            self.gate, self.request, self.session, assessment_id=self.assessment_id
        )


class RatingSaveGate(PathObjectGate[AssessmentAccess]):
    """assessment_role(*roles, lock=True) for the API's rating save. On PostgreSQL it reads nothing
    (beyond the Authorization header's shape) and returns a OneStatementSave: the checks run in the
    save's one statement. SQLite, and an id no row can have, take the usual gate."""

    def __init__(self, *roles: str) -> None:
        super().__init__(
            *roles,
            page=False,
            path_param="assessment_id",
            path_type=int,
            find=_find_assessment(lock=True),
            access=AssessmentAccess,
        )

    def __call__(  # type: ignore[override]
        self, request: Request, session: Session, **path: Any
    ) -> AssessmentAccess | OneStatementSave:
        assessment_id = path[self.path_param]
        if session.get_bind().dialect.name == "postgresql" and can_name_a_row(assessment_id):
            return OneStatementSave(self, request, session, assessment_id, bearer_token(request))
        return super().__call__(request, session, **path)


def action_role(*roles: str, page: bool = False) -> PathObjectGate[ActionAccess]:
    """The action named by `{action_id}`."""
    return PathObjectGate(
        *roles,
        page=page,
        path_param="action_id",
        path_type=int,
        find=_find_action,
        access=ActionAccess,
        refused="Only the chair and the board secretary change the action plan",
    )


class PlatformGate:
    """Allows only people with one of these platform roles (others: 403). No object in the path."""

    def __init__(self, *roles: str, page: bool) -> None:
        self.allowed_roles = frozenset(roles)
        self.page = page

    def __call__(self, request: Request, session: SessionDep) -> Principal:
        principal = _principal(request, session, self.page)
        if principal.user.platform_role not in self.allowed_roles:
            raise Forbidden("You do not have permission to do this")
        return principal


def platform_role(*roles: str, page: bool = False) -> PlatformGate:
    return PlatformGate(*roles, page=page)


# --- The aliases routes take ------------------------------------------------------------------------------

# The trust in {ods_code}.
TrustMemberApi = Annotated[TrustAccess, Depends(trust_role())]
TrustMemberPage = Annotated[TrustAccess, Depends(trust_role(page=True))]
TrustManagerApi = Annotated[TrustAccess, Depends(trust_role(*MANAGER_ROLES))]
TrustManagerPage = Annotated[TrustAccess, Depends(trust_role(*MANAGER_ROLES, page=True))]
# The trust's audit log: today the managers.
TrustLogReaderApi = Annotated[TrustAccess, Depends(trust_role(*MANAGER_ROLES))]
TrustLogReaderPage = Annotated[TrustAccess, Depends(trust_role(*MANAGER_ROLES, page=True))]

# The assessment in {assessment_id}.
MemberApi = Annotated[AssessmentAccess, Depends(assessment_role())]
MemberPage = Annotated[AssessmentAccess, Depends(assessment_role(page=True))]
RaterApi = Annotated[AssessmentAccess, Depends(assessment_role(*RATER_ROLES))]
RaterPage = Annotated[AssessmentAccess, Depends(assessment_role(*RATER_ROLES, page=True))]
# A rater saving an answer: the assessment is read under the share lock save_rating needs.
# On PostgreSQL the API's save makes these checks in its own one statement (RatingSaveGate).
RaterSavingApi = Annotated[AssessmentAccess | OneStatementSave, Depends(RatingSaveGate(*RATER_ROLES))]
RaterSavingPage = Annotated[AssessmentAccess, Depends(assessment_role(*RATER_ROLES, page=True, lock=True))]
ManagerApi = Annotated[AssessmentAccess, Depends(assessment_role(*MANAGER_ROLES))]
ManagerPage = Annotated[AssessmentAccess, Depends(assessment_role(*MANAGER_ROLES, page=True))]
ChairApi = Annotated[AssessmentAccess, Depends(assessment_role(CHAIR))]
ChairPage = Annotated[AssessmentAccess, Depends(assessment_role(CHAIR, page=True))]

# The action in {action_id}.
ActionReaderApi = Annotated[ActionAccess, Depends(action_role())]
ActionReaderPage = Annotated[ActionAccess, Depends(action_role(page=True))]
ActionManagerApi = Annotated[ActionAccess, Depends(action_role(*MANAGER_ROLES))]
ActionManagerPage = Annotated[ActionAccess, Depends(action_role(*MANAGER_ROLES, page=True))]

# Platform roles: no object in the path.
PlatformAdminApi = Annotated[Principal, Depends(platform_role(PLATFORM_ADMIN))]
PlatformAdminPage = Annotated[Principal, Depends(platform_role(PLATFORM_ADMIN, page=True))]
AnalystApi = Annotated[Principal, Depends(platform_role(*ANALYST_ROLES))]
AnalystPage = Annotated[Principal, Depends(platform_role(*ANALYST_ROLES, page=True))]
