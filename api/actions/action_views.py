"""One action's pages: reading it with its notes, adding a note, editing and deleting it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.actions import service
from api.actions.models import Action
from api.actions.schemas import (
    ActionUpdate,
    NoteCreate,
)
from api.actions.views import (
    DONE_MESSAGES,
    STALE_MESSAGE,
    ActionForm,
    cycle_of,
    edit_values,
    form_context,
    form_field,
    manages_actions,
    page_errors_of,
    page_field,
)
from api.assessments.models import Assessment
from api.csrf import verify_csrf
from api.forms import PageForm, date_parts, save_edit_page, save_page
from api.pages import PageDep
from api.permissions import (
    ActionAccess,
    ActionManagerPage,
    ActionReaderPage,
    AssessmentAccess,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# --- One action ----------------------------------------------------------------------------------------------


def _action_context(session: Session, access: ActionAccess) -> dict[str, Any]:
    view = service.action_view(session, access.action)
    assessment = session.get(Assessment, access.action.assessment_id)
    assert assessment is not None
    return {
        "action": view,
        "assessment": assessment,
        "cycle": cycle_of(session, assessment),
        "membership": access.membership,
        "is_manager": manages_actions(access.membership.role),
    }


@router.get("/actions/{action_id}", name="action_page")
def action_page(
    page: PageDep, access: ActionReaderPage, done: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    context = _action_context(page.session, access)
    context.update(page_title=context["action"].title, done=DONE_MESSAGES.get(done), note_form={}, errors={})
    return page.render("actions/action.html", context)


def _note_values(form: FormData) -> dict[str, Any]:
    """The note form as NoteCreate's fields: the date's three boxes as one date (none: today)."""
    values: dict[str, Any] = {"text": form_field(form, "text")}
    noted_on = date_parts(form, "noted_on")
    if noted_on is not None:
        values["noted_on"] = noted_on
    return values


def _note_field(name: str) -> str:
    return "noted_on_day" if name == "noted_on" else name


@router.post("/actions/{action_id}/notes", name="add_action_note")
def add_note_page(
    page: PageDep, access: ActionManagerPage, command: PageForm[NoteCreate, _note_values]
) -> Response:
    note = {
        "text": form_field(command.form, "text"),
        "day": form_field(command.form, "noted_on_day"),
        "month": form_field(command.form, "noted_on_month"),
        "year": form_field(command.form, "noted_on_year"),
    }

    def again(errors: dict[str, str], _: Any) -> Response:
        context = _action_context(page.session, access)
        context.update(page_title=context["action"].title, done=None, note_form=note, errors=errors)
        return page.render("actions/action.html", context, status_code=422)

    return save_page(
        command,
        lambda new: service.add_note(
            page.session, access.principal.user, access.action, new.text, new.noted_on
        ),
        done=lambda _: page.redirect(
            "action_page", action_id=access.action.id, query={"done": "note"}, fragment="notes"
        ),
        again=again,
        errors={_note_field(name): message for name, message in command.errors.items()},
        field_for=_note_field,
    )


# --- Editing ---------------------------------------------------------------------------------------------------


def _edit_context(
    session: Session, access: ActionAccess, typed: ActionForm, errors: dict[str, str]
) -> dict[str, Any]:
    assessment = session.get(Assessment, access.action.assessment_id)
    assert assessment is not None
    context = form_context(
        session, AssessmentAccess(access.principal, assessment, access.membership), typed, errors
    )
    context.update(action=service.action_view(session, access.action), page_title="Change the action")
    return context


@router.get("/actions/{action_id}/edit", name="edit_action")
def edit_action(
    page: PageDep, access: ActionManagerPage, done: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    typed = ActionForm.of(service.action_view(page.session, access.action))
    context = _edit_context(page.session, access, typed, {})
    context.update(done=DONE_MESSAGES.get(done), stale=None)
    return page.render("actions/edit.html", context)


@router.post("/actions/{action_id}/edit", name="save_action")
def save_action(
    page: PageDep, access: ActionManagerPage, command: PageForm[ActionUpdate, edit_values]
) -> Response:
    typed = ActionForm.from_form(command.form)

    def again(errors: dict[str, str], current: Any, status_code: int) -> Response:
        context = _edit_context(page.session, access, typed, errors)
        context.update(done=None, stale=current)
        return page.render("actions/edit.html", context, status_code=status_code)

    return save_edit_page(
        command,
        lambda update: service.update_action(page.session, access.principal.user, access.action, update),
        done=lambda _: page.redirect("action_page", action_id=access.action.id, query={"done": "saved"}),
        again=again,
        typed=typed,
        current=lambda: service.action_view(page.session, access.action),
        stale=("title", STALE_MESSAGE),
        errors=page_errors_of(command.errors),
        field_for=page_field,
    )


# --- Deleting --------------------------------------------------------------------------------------------------


@router.get("/actions/{action_id}/delete", name="delete_action_confirm")
def delete_action_confirm(page: PageDep, access: ActionManagerPage) -> Response:
    context = _action_context(page.session, access)
    context.update(page_title=f"Delete {access.action.title}")
    return page.render("actions/delete.html", context)


@router.post("/actions/{action_id}/delete", name="delete_action_page")
def delete_action_page(page: PageDep, access: ActionManagerPage) -> Response:
    assessment_id = access.action.assessment_id
    service.delete_action(page.session, access.principal.user, access.action)
    return page.redirect("action_plan", assessment_id=assessment_id, query={"done": "deleted"})


__all__ = ["Action", "router"]
