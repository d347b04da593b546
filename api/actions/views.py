"""Pages of the action plan: the list with filters and suggestions, adding, one action, editing.

Everyone on the board reads; the chair and the board secretary add, change and delete. A form that
comes back with a problem keeps everything the person typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.roles import MANAGER_ROLES
from api.actions import service
from api.actions.models import ACTION_STATUSES, STATUS_NAMES, Action
from api.actions.schemas import (
    ACTION_FORM_MESSAGES,
    ActionCreate,
    ActionUpdate,
    NoteCreate,
    SuggestedActionCreate,
)
from api.assessments.models import Assessment, Cycle
from api.csrf import verify_csrf
from api.db import SessionDep
from api.errors import Conflict, FieldError
from api.forms import CommandForm, FormDep, command_form, date_parts
from api.permissions import (
    ActionAccess,
    ActionManagerPage,
    ActionReaderPage,
    AssessmentAccess,
    ManagerPage,
    MemberPage,
    TrustMemberPage,
)
from api.templating import render, templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# Offered as owners beside the board members' names (a board writes either).
COMMON_OWNERS = (
    "Chair",
    "Chief executive",
    "Director of People",
    "Chief nurse",
    "Medical director",
    "Board secretary",
    "Non-executive race equality champion",
)
DONE_MESSAGES = {
    "created": "The action has been added.",
    "saved": "Your changes have been saved.",
    "note": "The progress note has been added.",
    "deleted": "The action has been deleted.",
    "suggested": "The suggested action has been added, due in 3 months. Check it, name an owner and save.",
}
STALE_MESSAGE = (
    "Someone else changed this action while you were editing. What they saved is shown below; "
    "what you typed is kept in the form. Check it and save again"
)

# The results page shows "Plan actions" beside the same sections the action plan suggests for.
templates.env.globals["needs_action"] = service.needs_action


def _is_manager(role: str) -> bool:
    return role in MANAGER_ROLES


def _cycle(session: Session, assessment: Assessment) -> Cycle:
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    return cycle


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# --- The trust's current action plan (the header link) -------------------------------------------------


@router.get("/trusts/{ods_code}/actions", name="trust_action_plan")
def trust_action_plan(request: Request, session: SessionDep, access: TrustMemberPage) -> Response:
    assessment = service.latest_assessment(session, access.organisation.id)
    if assessment is not None:
        return RedirectResponse(f"/assessments/{assessment.id}/actions", status_code=303)
    return render(
        request,
        "actions/none.html",
        {"page_title": "Action plan", "organisation": access.organisation, "membership": access.membership},
    )


# --- The list ----------------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/actions", name="action_plan")
def action_plan(
    request: Request,
    session: SessionDep,
    access: MemberPage,
    status: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    priority: Annotated[str, Query(max_length=64)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    assessment = access.assessment
    frame = service.framing(session, assessment)
    # Unknown filter values are ignored rather than refused: they come from links and bookmarks.
    status = status if status in (*ACTION_STATUSES, "overdue") else ""
    priority = priority if priority in frame.sections else ""
    actions = service.actions_for_assessment(
        session, assessment, status=status or None, owner=owner or None, priority=priority or None
    )
    all_actions = (
        actions if not (status or owner or priority) else service.actions_for_assessment(session, assessment)
    )
    is_manager = _is_manager(access.membership.role)
    context = {
        "page_title": "Action plan",
        "assessment": assessment,
        "cycle": _cycle(session, assessment),
        "membership": access.membership,
        "is_manager": is_manager,
        "actions": actions,
        "total": len(all_actions),
        "overdue_count": sum(a.overdue for a in all_actions),
        "done_count": sum(a.status == "done" for a in all_actions),
        "filters": {"status": status, "owner": owner, "priority": priority},
        "filtered": bool(status or owner or priority),
        "status_items": [{"value": "", "text": "Any status"}]
        + [{"value": key, "text": name} for key, name in STATUS_NAMES.items()]
        + [{"value": "overdue", "text": "Overdue"}],
        "owner_items": [{"value": "", "text": "Anyone"}]
        + [{"value": name, "text": name} for name in service.owners_of(session, assessment)],
        "priority_items": [{"value": "", "text": "Any priority"}]
        + [{"value": key, "text": frame.section_title(key)} for key in frame.sections],
        "suggestions": service.suggestions_for(session, assessment, access.principal.user.id)
        if is_manager
        else [],
        "done": DONE_MESSAGES.get(done),
    }
    return render(request, "actions/list.html", context, block="action_list")


# --- Adding ------------------------------------------------------------------------------------------------


@dataclass
class ActionForm:
    """What the form shows: the stored action, or what the person typed."""

    title: str = ""
    description: str = ""
    owner: str = ""
    due_day: str = ""
    due_month: str = ""
    due_year: str = ""
    status: str = "not_started"
    section: str = ""
    criteria: list[str] = field(default_factory=list)
    version: int = 0

    @classmethod
    def of(cls, view: service.ActionView) -> ActionForm:
        return cls(
            title=view.title,
            description=view.description,
            owner=view.owner,
            due_day=str(view.due_date.day),
            due_month=str(view.due_date.month),
            due_year=str(view.due_date.year),
            status=view.status,
            section=view.section_key or "",
            criteria=view.criterion_keys,
            version=view.version,
        )

    @classmethod
    def from_form(cls, form: FormData) -> ActionForm:
        version = _field(form, "version")
        return cls(
            title=_field(form, "title"),
            description=_field(form, "description"),
            owner=_field(form, "owner"),
            due_day=_field(form, "due_date_day"),
            due_month=_field(form, "due_date_month"),
            due_year=_field(form, "due_date_year"),
            status=_field(form, "status"),
            section=_field(form, "section"),
            criteria=[v for v in form.getlist("criteria") if isinstance(v, str) and v],
            version=int(version) if version.isdigit() else 0,
        )


# The form field an error summary link points at, for each field a service error names.
FORM_FIELD = {"due_date": "due_date_day", "criteria": "criteria", "section": "section", "title": "title"}


def _action_values(form: FormData) -> dict[str, Any]:
    """The action form as ActionCreate's fields: the due date's three boxes as one date."""
    typed = ActionForm.from_form(form)
    values: dict[str, Any] = {
        "title": typed.title,
        "description": typed.description,
        "owner": typed.owner,
        "status": typed.status,
        "criteria": typed.criteria,
    }
    if typed.section:
        values["section"] = typed.section
    due = date_parts(form, "due_date")
    if due is not None:
        values["due_date"] = due
    return values


def _edit_values(form: FormData) -> dict[str, Any]:
    """As _action_values, for ActionUpdate: every field is sent, so an empty date is refused and an
    empty priority unlinks it."""
    values = _action_values(form)
    values.setdefault("due_date", None)
    values.setdefault("section", None)
    values["version"] = _field(form, "version")
    return values


def _page_errors(errors: dict[str, str]) -> dict[str, str]:
    """The command's errors by the form field the error summary links to."""
    mapped = {FORM_FIELD.get(name, name): message for name, message in errors.items()}
    if "form" in mapped:  # ActionUpdate refuses a null due date as a whole-model rule
        mapped.setdefault("due_date_day", ACTION_FORM_MESSAGES["due_date:missing"])
        del mapped["form"]
    return mapped


def _form_context(
    session: Session, access: AssessmentAccess, typed: ActionForm, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    assessment = access.assessment
    frame = service.framing(session, assessment)
    groups = []
    for key in frame.sections:
        keys = frame.section_criteria(key)
        groups.append(
            {
                "key": key,
                "title": frame.section_title(key),
                "open": key == typed.section or any(k in typed.criteria for k in keys),
                "items": [
                    {"value": k, "text": frame.criteria[k][1].statement, "checked": k in typed.criteria}
                    for k in keys
                ],
            }
        )
    return {
        "assessment": assessment,
        "cycle": _cycle(session, assessment),
        "membership": access.membership,
        "form": typed,
        "errors": errors or {},
        "status_names": STATUS_NAMES,
        "section_items": [{"value": "", "text": "Not linked to one priority"}]
        + [{"value": key, "text": frame.section_title(key)} for key in frame.sections],
        "criterion_groups": groups,
        "owner_suggestions": [
            *service.board_member_names(session, assessment.organisation_id),
            *COMMON_OWNERS,
        ],
    }


@router.get("/assessments/{assessment_id}/actions/new", name="new_action")
def new_action(
    request: Request,
    session: SessionDep,
    access: ManagerPage,
    section: Annotated[str, Query(max_length=64)] = "",
    criterion: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    frame = service.framing(session, access.assessment)
    typed = ActionForm()
    if criterion in frame.criteria:
        typed.criteria = [criterion]
        typed.section = frame.criteria[criterion][0].key
    if section in frame.sections:
        typed.section = section
    context = _form_context(session, access, typed)
    context.update(
        page_title="Add an action",
        suggestions=service.suggestions_for(
            session, access.assessment, access.principal.user.id, section_key=typed.section
        )
        if typed.section
        else [],
    )
    return render(request, "actions/new.html", context)


@router.post("/assessments/{assessment_id}/actions", name="create_action_page")
def create_action_page(
    request: Request,
    session: SessionDep,
    access: ManagerPage,
    form: FormDep,
    command: Annotated[CommandForm[ActionCreate], Depends(command_form(ActionCreate, read=_action_values))],
) -> Response:
    typed = ActionForm.from_form(form)
    errors = _page_errors(command.errors)
    if command.command is not None:
        try:
            action = service.create_action(session, access.principal.user, access.assessment, command.command)
        except FieldError as exc:
            errors[FORM_FIELD.get(exc.field, exc.field)] = exc.message
        else:
            return RedirectResponse(f"/actions/{action.id}?done=created", status_code=303)
    context = _form_context(session, access, typed, errors)
    context.update(page_title="Add an action", suggestions=[])
    return render(request, "actions/new.html", context, status_code=422)


@router.post("/assessments/{assessment_id}/actions/suggested", name="add_suggested_action")
def add_suggested_action(
    session: SessionDep,
    access: ManagerPage,
    form: Annotated[CommandForm[SuggestedActionCreate], Depends(command_form(SuggestedActionCreate))],
) -> Response:
    """One click: the framework's suggestion becomes an action due in 3 months, then opens for editing."""
    if form.command is None:
        # The buttons' hidden fields were changed: there is no form of the person's own to show again.
        field_name, message = next(iter(form.errors.items()))
        raise FieldError(field_name, message)
    action = service.create_suggested_action(session, access.principal.user, access.assessment, form.command)
    return RedirectResponse(f"/actions/{action.id}/edit?done=suggested", status_code=303)


# --- One action ----------------------------------------------------------------------------------------------


def _action_context(session: Session, access: ActionAccess) -> dict[str, Any]:
    view = service.action_view(session, access.action)
    assessment = session.get(Assessment, access.action.assessment_id)
    assert assessment is not None
    return {
        "action": view,
        "assessment": assessment,
        "cycle": _cycle(session, assessment),
        "membership": access.membership,
        "is_manager": _is_manager(access.membership.role),
    }


@router.get("/actions/{action_id}", name="action_page")
def action_page(
    request: Request,
    session: SessionDep,
    access: ActionReaderPage,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    context = _action_context(session, access)
    context.update(page_title=context["action"].title, done=DONE_MESSAGES.get(done), note_form={}, errors={})
    return render(request, "actions/action.html", context)


def _note_values(form: FormData) -> dict[str, Any]:
    """The note form as NoteCreate's fields: the date's three boxes as one date (none: today)."""
    values: dict[str, Any] = {"text": _field(form, "text")}
    noted_on = date_parts(form, "noted_on")
    if noted_on is not None:
        values["noted_on"] = noted_on
    return values


@router.post("/actions/{action_id}/notes", name="add_action_note")
def add_note_page(
    request: Request,
    session: SessionDep,
    access: ActionManagerPage,
    form: FormDep,
    command: Annotated[CommandForm[NoteCreate], Depends(command_form(NoteCreate, read=_note_values))],
) -> Response:
    note = {
        "text": _field(form, "text"),
        "day": _field(form, "noted_on_day"),
        "month": _field(form, "noted_on_month"),
        "year": _field(form, "noted_on_year"),
    }
    errors = {
        ("noted_on_day" if name == "noted_on" else name): message for name, message in command.errors.items()
    }
    if command.command is not None:
        try:
            service.add_note(
                session, access.principal.user, access.action, command.command.text, command.command.noted_on
            )
        except FieldError as exc:
            errors["noted_on_day" if exc.field == "noted_on" else exc.field] = exc.message
        else:
            return RedirectResponse(f"/actions/{access.action.id}?done=note#notes", status_code=303)
    context = _action_context(session, access)
    context.update(page_title=context["action"].title, done=None, note_form=note, errors=errors)
    return render(request, "actions/action.html", context, status_code=422)


# --- Editing ---------------------------------------------------------------------------------------------------


def _edit_context(
    session: Session, access: ActionAccess, typed: ActionForm, errors: dict[str, str]
) -> dict[str, Any]:
    assessment = session.get(Assessment, access.action.assessment_id)
    assert assessment is not None
    context = _form_context(
        session, AssessmentAccess(access.principal, assessment, access.membership), typed, errors
    )
    context.update(action=service.action_view(session, access.action), page_title="Change the action")
    return context


@router.get("/actions/{action_id}/edit", name="edit_action")
def edit_action(
    request: Request,
    session: SessionDep,
    access: ActionManagerPage,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    typed = ActionForm.of(service.action_view(session, access.action))
    context = _edit_context(session, access, typed, {})
    context.update(done=DONE_MESSAGES.get(done), stale=None)
    return render(request, "actions/edit.html", context)


@router.post("/actions/{action_id}/edit", name="save_action")
def save_action(
    request: Request,
    session: SessionDep,
    access: ActionManagerPage,
    form: FormDep,
    command: Annotated[CommandForm[ActionUpdate], Depends(command_form(ActionUpdate, read=_edit_values))],
) -> Response:
    typed = ActionForm.from_form(form)
    errors = _page_errors(command.errors)
    stale = None
    if command.command is not None:
        try:
            service.update_action(session, access.principal.user, access.action, command.command)
        except FieldError as exc:
            errors[FORM_FIELD.get(exc.field, exc.field)] = exc.message
        except Conflict:
            errors["title"] = STALE_MESSAGE
            stale = service.action_view(session, access.action)
            typed.version = stale.version
        else:
            return RedirectResponse(f"/actions/{access.action.id}?done=saved", status_code=303)
    context = _edit_context(session, access, typed, errors)
    context.update(done=None, stale=stale)
    return render(request, "actions/edit.html", context, status_code=409 if stale else 422)


# --- Deleting --------------------------------------------------------------------------------------------------


@router.get("/actions/{action_id}/delete", name="delete_action_confirm")
def delete_action_confirm(request: Request, session: SessionDep, access: ActionManagerPage) -> Response:
    context = _action_context(session, access)
    context.update(page_title=f"Delete {access.action.title}")
    return render(request, "actions/delete.html", context)


@router.post("/actions/{action_id}/delete", name="delete_action_page")
def delete_action_page(session: SessionDep, access: ActionManagerPage) -> Response:
    assessment_id = access.action.assessment_id
    service.delete_action(session, access.principal.user, access.action)
    return RedirectResponse(f"/assessments/{assessment_id}/actions?done=deleted", status_code=303)


__all__ = ["Action", "router"]
