"""JSON API for the action plan (bearer token; scoped to the caller's trusts).

Everyone on the board reads the plan; the chair and the board secretary change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from api.actions import service
from api.actions.models import Action
from api.actions.schemas import (
    ActionCreate,
    ActionPublic,
    ActionUpdate,
    NoteCreate,
    NotePublic,
    SuggestedActionCreate,
    Suggestion,
)
from api.assessments.access import AnyMember, Manager
from api.db import SessionDep
from api.deps import (
    ALL_TRUST_ROLES,
    MANAGER_ROLES,
    Principal,
    TrustMembership,
    get_api_principal,
    get_page_principal,
)
from api.errors import Forbidden, error_responses
from api.integers import MAX_INTEGER

router = APIRouter(prefix="/api/v1", tags=["actions"], responses=error_responses(401, 403, 404, 422))


# --- The action named in the path ---------------------------------------------------------------------


@dataclass(frozen=True)
class ActionAccess:
    principal: Principal
    action: Action
    membership: TrustMembership


class _ActionRole:
    """The action named by `{action_id}`, for a member of its trust with one of these roles.

    Another trust's action (or none): 404, from a statement already filtered to the caller's trusts.
    A member without the role: 403.
    """

    def __init__(self, *roles: str, page: bool) -> None:
        self.allowed_roles = frozenset(roles or ALL_TRUST_ROLES)
        self.page = page

    def __call__(self, request: Request, session: SessionDep, action_id: int) -> ActionAccess:
        principal = get_page_principal(request, session) if self.page else get_api_principal(request, session)
        action = service.action_for(session, principal, action_id)
        membership = principal.membership_for(action.organisation_id)
        assert membership is not None
        if membership.role not in self.allowed_roles:
            raise Forbidden("Only the chair and the board secretary change the action plan")
        return ActionAccess(principal, action, membership)


def action_role(*roles: str, page: bool = False) -> _ActionRole:
    return _ActionRole(*roles, page=page)


ActionReader = Annotated[ActionAccess, Depends(action_role())]
ActionManager = Annotated[ActionAccess, Depends(action_role(*MANAGER_ROLES))]


# --- Answers ----------------------------------------------------------------------------------------------


def action_public(view: service.ActionView) -> ActionPublic:
    return ActionPublic(
        id=view.id,
        assessment_id=view.assessment_id,
        cycle=view.cycle,
        title=view.title,
        description=view.description,
        owner=view.owner,
        due_date=view.due_date,
        status=view.status,  # type: ignore[arg-type]
        overdue=view.overdue,
        criteria=view.criterion_keys,
        section=view.section_key,
        carried_from_action_id=view.carried_from_action_id,
        carried_from_cycle=view.carried_from_cycle,
        notes=[
            NotePublic(id=n.id, text=n.text, noted_on=n.noted_on, author=n.author, created_at=n.created_at)
            for n in view.notes
        ],
        version=view.version,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def _public(session: SessionDep, action: Action) -> ActionPublic:
    return action_public(service.action_view(session, action))


StatusFilter = Literal["not_started", "in_progress", "done", "overdue"]


@router.get("/assessments/{assessment_id}/actions", response_model=list[ActionPublic])
def list_actions(
    session: SessionDep,
    access: AnyMember,
    status: Annotated[StatusFilter | None, Query(description="A status, or overdue")] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    priority: Annotated[str | None, Query(max_length=64, description="A section key")] = None,
) -> list[ActionPublic]:
    views = service.actions_for_assessment(
        session, access.assessment, status=status, owner=owner, priority=priority
    )
    return [action_public(view) for view in views]


@router.post(
    "/assessments/{assessment_id}/actions",
    status_code=201,
    response_model=ActionPublic,
    responses=error_responses(
        described={422: "Empty title, a due date in the past, an unknown criterion or section"}
    ),
)
def create_action(body: ActionCreate, session: SessionDep, access: Manager) -> ActionPublic:
    action = service.create_action(session, access.principal.user, access.assessment, body)
    return _public(session, action)


@router.get("/assessments/{assessment_id}/actions/suggestions", response_model=list[Suggestion])
def list_suggestions(session: SessionDep, access: AnyMember) -> list[Suggestion]:
    """Suggested actions and resources beside sections scoring below 2.0 or where members disagree."""
    return suggestions_public(service.suggestions_for(session, access.assessment, access.principal.user.id))


def suggestions_public(groups: list[service.SectionSuggestions]) -> list[Suggestion]:
    out: list[Suggestion] = []
    for group in groups:
        for criterion in group.criteria:
            out.extend(
                Suggestion(
                    section=group.key,
                    section_title=group.title,
                    reasons=group.reasons,
                    criterion=criterion.key,
                    index=item.index,
                    kind="suggested_action",
                    text=item.text,
                )
                for item in criterion.actions
            )
        out.extend(
            Suggestion(
                section=group.key,
                section_title=group.title,
                reasons=group.reasons,
                criterion=None,
                index=resource.index,
                kind="resource",
                text=resource.title,
                url=resource.url,
            )
            for resource in group.resources
        )
    return out


@router.post("/assessments/{assessment_id}/actions/suggested", status_code=201, response_model=ActionPublic)
def create_suggested_action(
    body: SuggestedActionCreate, session: SessionDep, access: Manager
) -> ActionPublic:
    """Add a framework suggestion as an action, due in 3 months: then change it with PATCH."""
    action = service.create_suggested_action(session, access.principal.user, access.assessment, body)
    return _public(session, action)


@router.get("/actions/{action_id}", response_model=ActionPublic)
def get_action(session: SessionDep, access: ActionReader) -> ActionPublic:
    return _public(session, access.action)


@router.patch(
    "/actions/{action_id}",
    response_model=ActionPublic,
    responses=error_responses(described={409: "Stale version: the answer holds the current version"}),
)
def patch_action(body: ActionUpdate, session: SessionDep, access: ActionManager) -> ActionPublic:
    action = service.update_action(session, access.principal.user, access.action, body)
    return _public(session, action)


@router.delete(
    "/actions/{action_id}",
    status_code=204,
    responses=error_responses(described={409: "Stale version (when `version` is given)"}),
)
def delete_action(
    session: SessionDep,
    access: ActionManager,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INTEGER, description="The version you last saw (optional)")
    ] = None,
) -> Response:
    service.delete_action(session, access.principal.user, access.action, version=version)
    return Response(status_code=204)


@router.post("/actions/{action_id}/notes", status_code=201, response_model=NotePublic)
def add_note(body: NoteCreate, session: SessionDep, access: ActionManager) -> NotePublic:
    note = service.add_note(session, access.principal.user, access.action, body.text, body.noted_on)
    return NotePublic(
        id=note.id,
        text=note.text,
        noted_on=note.noted_on,
        author=access.principal.user.name,
        created_at=note.created_at,
    )
