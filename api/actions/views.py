"""Pages of the action plan: the list with filters and suggestions, and adding an action (one action's
pages are in action_views.py).

Everyone on the board reads; the chair and the board secretary add, change and delete. A form that
comes back with a problem keeps everything the person typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.roles import MANAGER_ROLES
from api.actions import service
from api.actions.models import ACTION_STATUSES, STATUS_NAMES
from api.actions.schemas import (
    ACTION_FORM_MESSAGES,
    ActionCreate,
    SuggestedActionCreate,
)
from api.assessments.models import Assessment, Cycle
from api.csrf import verify_csrf
from api.forms import PageForm, date_parts, save_page
from api.pages import PageDep
from api.permissions import (
    AssessmentAccess,
    ManagerPage,
    MemberPage,
    TrustMemberPage,
)
from api.templating import templates

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


def manages_actions(role: str) -> bool:
    return role in MANAGER_ROLES


def cycle_of(session: Session, assessment: Assessment) -> Cycle:
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    return cycle


def form_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# --- The trust's current action plan (the header link) -------------------------------------------------


@router.get("/trusts/{ods_code}/actions", name="trust_action_plan")
def trust_action_plan(page: PageDep, access: TrustMemberPage) -> Response:
    assessment = service.latest_assessment(page.session, access.organisation.id)
    if assessment is not None:
        return page.redirect("action_plan", assessment_id=assessment.id)
    return page.render(
        "actions/none.html",
        {"page_title": "Action plan", "organisation": access.organisation, "membership": access.membership},
    )


# --- The list ----------------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/actions", name="action_plan")
def action_plan(
    page: PageDep,
    access: MemberPage,
    status: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=200)] = "",
    priority: Annotated[str, Query(max_length=64)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    session = page.session
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
    is_manager = manages_actions(access.membership.role)
    context = {
        "page_title": "Action plan",
        "assessment": assessment,
        "cycle": cycle_of(session, assessment),
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
    return page.render("actions/list.html", context, block="action_list")


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
        version = form_field(form, "version")
        return cls(
            title=form_field(form, "title"),
            description=form_field(form, "description"),
            owner=form_field(form, "owner"),
            due_day=form_field(form, "due_date_day"),
            due_month=form_field(form, "due_date_month"),
            due_year=form_field(form, "due_date_year"),
            status=form_field(form, "status"),
            section=form_field(form, "section"),
            criteria=[v for v in form.getlist("criteria") if isinstance(v, str) and v],
            version=int(version) if version.isdigit() else 0,
        )


# The form field an error summary link points at, for each field a service error names.
FORM_FIELD = {"due_date": "due_date_day", "criteria": "criteria", "section": "section", "title": "title"}


def action_values(form: FormData) -> dict[str, Any]:
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


def edit_values(form: FormData) -> dict[str, Any]:
    """As action_values, for ActionUpdate: every field is sent, so an empty date is refused and an
    empty priority unlinks it."""
    values = action_values(form)
    values.setdefault("due_date", None)
    values.setdefault("section", None)
    values["version"] = form_field(form, "version")
    return values


def page_field(name: str) -> str:
    """The form field a service's FieldError names ("due_date" -> the date's day box)."""
    return FORM_FIELD.get(name, name)


def page_errors_of(errors: dict[str, str]) -> dict[str, str]:
    """The command's errors by the form field the error summary links to."""
    mapped = {page_field(name): message for name, message in errors.items()}
    if "form" in mapped:  # ActionUpdate refuses a null due date as a whole-model rule
        mapped.setdefault("due_date_day", ACTION_FORM_MESSAGES["due_date:missing"])
        del mapped["form"]
    return mapped


def form_context(
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
        "cycle": cycle_of(session, assessment),
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
    page: PageDep,
    access: ManagerPage,
    section: Annotated[str, Query(max_length=64)] = "",
    criterion: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    session = page.session
    frame = service.framing(session, access.assessment)
    typed = ActionForm()
    if criterion in frame.criteria:
        typed.criteria = [criterion]
        typed.section = frame.criteria[criterion][0].key
    if section in frame.sections:
        typed.section = section
    context = form_context(session, access, typed)
    context.update(
        page_title="Add an action",
        suggestions=service.suggestions_for(
            session, access.assessment, access.principal.user.id, section_key=typed.section
        )
        if typed.section
        else [],
    )
    return page.render("actions/new.html", context)


@router.post("/assessments/{assessment_id}/actions", name="create_action_page")
def create_action_page(
    page: PageDep, access: ManagerPage, command: PageForm[ActionCreate, action_values]
) -> Response:
    typed = ActionForm.from_form(command.form)

    def again(errors: dict[str, str], _: Any) -> Response:
        context = form_context(page.session, access, typed, errors)
        context.update(page_title="Add an action", suggestions=[])
        return page.render("actions/new.html", context, status_code=422)

    return save_page(
        command,
        lambda create: service.create_action(page.session, access.principal.user, access.assessment, create),
        done=lambda action: page.redirect("action_page", action_id=action.id, query={"done": "created"}),
        again=again,
        errors=page_errors_of(command.errors),
        field_for=page_field,
    )


@router.post("/assessments/{assessment_id}/actions/suggested", name="add_suggested_action")
def add_suggested_action(
    page: PageDep, access: ManagerPage, form: PageForm[SuggestedActionCreate]
) -> Response:
    """One click: the framework's suggestion becomes an action due in 3 months, then opens for editing.
    The buttons' hidden fields are the whole form: a changed one is refused with the error page."""
    suggestion = form.command_or_raise()
    action = service.create_suggested_action(
        page.session, access.principal.user, access.assessment, suggestion
    )
    return page.redirect("edit_action", action_id=action.id, query={"done": "suggested"})
