"""The page where the chair or board secretary sees who has not finished rating and reminds them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.assessments.cycles import is_open
from api.assessments.models import Cycle
from api.assessments.service import board_progress
from api.assessments.spread import rating_closed, uk_today
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.errors import Conflict, FieldError
from api.forms import PageForm
from api.pages import Page, PageDep
from api.permissions import AssessmentAccess, ManagerPage
from api.reminders import service
from api.reminders.schemas import ReminderCreate

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def _page(
    page: Page,
    access: AssessmentAccess,
    *,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    session = page.session
    assessment = access.assessment
    cycle = session.get(Cycle, assessment.cycle_id)
    assert cycle is not None
    today = uk_today()
    finished, members = board_progress(session, assessment)
    context: dict[str, Any] = {
        "page_title": "Remind members to finish rating",
        "assessment": assessment,
        "cycle": cycle,
        "membership": access.membership,
        "members_finished": finished,
        "members": members,
        "open": assessment.status == "in_progress"
        and not rating_closed(assessment, today)
        and is_open(cycle, today),
        "closes": service.closing_day(assessment, cycle),
        "unfinished": service.unfinished_members(session, assessment),
        "reminded": service.reminded_on(session, assessment.id, today),  # type: ignore[arg-type]
        "errors": errors or {},
        "done": done,
    }
    return page.render("reminders/reminders.html", context, status_code=status_code)


@router.get("/assessments/{assessment_id}/reminders", name="reminders")
def reminders_page(page: PageDep, access: ManagerPage, reminded: int | None = None) -> Response:
    done = None
    if reminded is not None:
        session = page.session
        person = next(
            (u for u in service.unfinished_members(session, access.assessment) if u.id == reminded), None
        )
        if person is not None and reminded in service.reminded_on(session, access.assessment.id, uk_today()):  # type: ignore[arg-type]
            done = f"We have emailed a reminder to {person.name}"
    return _page(page, access, done=done)


@router.post("/assessments/{assessment_id}/reminders")
def send_reminder_page(page: PageDep, access: ManagerPage, form: PageForm[ReminderCreate]) -> Response:
    if form.command is None:
        return _page(page, access, errors=form.errors, status_code=422)
    try:
        reminder = service.send_reminder(
            page.session,
            page.settings,
            access.principal,
            access.assessment,
            user_id=form.command.user_id,
            client_ip=client_ip(page.request),
        )
    except FieldError as exc:
        return _page(page, access, errors={exc.field: exc.message}, status_code=422)
    except Conflict as exc:
        return _page(page, access, errors={"user_id": exc.message}, status_code=409)
    return page.redirect(
        "reminders", assessment_id=access.assessment.id, query={"reminded": reminder.user_id}
    )
