"""JSON API for the action plan (bearer token; scoped to the caller's trusts).

Everyone on the board reads the plan; the chair and the board secretary change it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
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
from api.db import SessionDep
from api.errors import error_responses
from api.integers import MAX_INTEGER
from api.permissions import (
    ActionManagerApi,
    ActionReaderApi,
    ManagerApi,
    MemberApi,
)
from api.public import filled

router = APIRouter(prefix="/api/v1", tags=["actions"], responses=error_responses(401, 403, 404, 422))


# --- Answers ----------------------------------------------------------------------------------------------


def action_public(view: service.ActionView) -> ActionPublic:
    notes = [filled(NotePublic, n) for n in view.notes]
    return filled(ActionPublic, view, criteria=view.criterion_keys, section=view.section_key, notes=notes)


def _public(session: SessionDep, action: Action) -> ActionPublic:
    return action_public(service.action_view(session, action))


StatusFilter = Literal["not_started", "in_progress", "done", "overdue"]


@router.get("/assessments/{assessment_id}/actions", response_model=list[ActionPublic])
def list_actions(
    session: SessionDep,
    access: MemberApi,
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
def create_action(body: ActionCreate, session: SessionDep, access: ManagerApi) -> ActionPublic:
    action = service.create_action(session, access.principal.user, access.assessment, body)
    return _public(session, action)


@router.get("/assessments/{assessment_id}/actions/suggestions", response_model=list[Suggestion])
def list_suggestions(session: SessionDep, access: MemberApi) -> list[Suggestion]:
    """Suggested actions and resources beside sections scoring below 2.0 or where members disagree."""
    return suggestions_public(service.suggestions_for(session, access.assessment, access.principal.user.id))


def suggestions_public(groups: list[service.SectionSuggestions]) -> list[Suggestion]:
    out: list[Suggestion] = []
    for group in groups:
        section = {"section": group.key, "section_title": group.title, "reasons": group.reasons}
        for criterion in group.criteria:
            out.extend(
                Suggestion(
                    **section,
                    criterion=criterion.key,
                    index=item.index,
                    kind="suggested_action",
                    text=item.text,
                )
                for item in criterion.actions
            )
        out.extend(
            Suggestion(**section, criterion=None, index=r.index, kind="resource", text=r.title, url=r.url)
            for r in group.resources
        )
    return out


@router.post("/assessments/{assessment_id}/actions/suggested", status_code=201, response_model=ActionPublic)
def create_suggested_action(
    body: SuggestedActionCreate, session: SessionDep, access: ManagerApi
) -> ActionPublic:
    """Add a framework suggestion as an action, due in 3 months: then change it with PATCH."""
    action = service.create_suggested_action(session, access.principal.user, access.assessment, body)
    return _public(session, action)


@router.get("/actions/{action_id}", response_model=ActionPublic)
def get_action(session: SessionDep, access: ActionReaderApi) -> ActionPublic:
    return _public(session, access.action)


@router.patch(
    "/actions/{action_id}",
    response_model=ActionPublic,
    responses=error_responses(described={409: "Stale version: the answer holds the current version"}),
)
def patch_action(body: ActionUpdate, session: SessionDep, access: ActionManagerApi) -> ActionPublic:
    action = service.update_action(session, access.principal.user, access.action, body)
    return _public(session, action)


@router.delete(
    "/actions/{action_id}",
    status_code=204,
    responses=error_responses(described={409: "Stale version (when `version` is given)"}),
)
def delete_action(
    session: SessionDep,
    access: ActionManagerApi,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_INTEGER, description="The version you last saw (optional)")
    ] = None,
) -> Response:
    service.delete_action(session, access.principal.user, access.action, version=version)
    return Response(status_code=204)


@router.post("/actions/{action_id}/notes", status_code=201, response_model=NotePublic)
def add_note(body: NoteCreate, session: SessionDep, access: ActionManagerApi) -> NotePublic:
    note = service.add_note(session, access.principal.user, access.action, body.text, body.noted_on)
    return NotePublic(
        id=note.id,
        text=note.text,
        noted_on=note.noted_on,
        author=access.principal.user.name,
        created_at=note.created_at,
    )
