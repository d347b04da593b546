"""Pages where the chair sets the rating deadline and closes rating (docs/anonymity.md).

While members are rating, the chair and secretary see progress only. Closing rating is deliberate,
audited and final for the year: the page says so before the chair confirms.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.assessments import service
from api.assessments.models import Cycle
from api.assessments.schemas import CloseRating, RatingDeadlineUpdate
from api.assessments.spread import MIN_OTHER_RATERS, rating_closed
from api.csrf import verify_csrf
from api.errors import Conflict, FieldError
from api.forms import PageForm, date_from_parts, date_parts
from api.organisations.models import Organisation
from api.pages import Page, PageDep
from api.permissions import AssessmentAccess, ChairPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def _context(session: Session, access: AssessmentAccess, **extra: Any) -> dict[str, Any]:
    assessment = access.assessment
    finished, members = service.board_progress(session, assessment)
    return {
        "assessment": assessment,
        "organisation": session.get(Organisation, assessment.organisation_id),
        "cycle": session.get(Cycle, assessment.cycle_id),
        "members_finished": finished,
        "members": members,
        "not_finished": service.members_not_finished(session, assessment),
        "min_others": MIN_OTHER_RATERS,
        "errors": {},
        **extra,
    }


def _back_to_consensus(page: Page, access: AssessmentAccess) -> Response:
    return page.redirect("consensus_overview", assessment_id=access.assessment.id)


@router.get("/assessments/{assessment_id}/close-rating", name="close_rating_page")
def close_rating_page(page: PageDep, access: ChairPage) -> Response:
    if rating_closed(access.assessment):
        return _back_to_consensus(page, access)
    context = _context(page.session, access, page_title="Close rating")
    return page.render("assessments/close_rating.html", context)


@router.post("/assessments/{assessment_id}/close-rating", name="close_rating_save")
def close_rating(page: PageDep, access: ChairPage, form: PageForm[CloseRating]) -> Response:
    try:
        if form.command is None:
            raise Conflict(next(iter(form.errors.values())))
        service.close_rating(
            page.session, access.principal, access.assessment.id, version=form.command.version
        )
    except Conflict:
        # A member's save or a deadline change came in since the page was shown: show it again.
        context = _context(
            page.session,
            access,
            page_title="Close rating",
            errors={
                "confirm": "The assessment changed while you were reading this page. Check it and try again"
            },
        )
        return page.render("assessments/close_rating.html", context, status_code=409)
    return _back_to_consensus(page, access)


@router.get("/assessments/{assessment_id}/rating-deadline", name="rating_deadline")
def rating_deadline_page(page: PageDep, access: ChairPage) -> Response:
    if rating_closed(access.assessment):
        return _back_to_consensus(page, access)
    deadline = access.assessment.rating_deadline
    values = (
        {"day": str(deadline.day), "month": str(deadline.month), "year": str(deadline.year)}
        if deadline
        else {}
    )
    context = _context(page.session, access, page_title="Rating deadline", values=values)
    return page.render("assessments/rating_deadline.html", context)


def _deadline_form(form: FormData) -> dict[str, Any]:
    """The three date boxes as the command's one date. A missing date is an error on this page: the
    API's null ("no deadline") is not offered here."""
    values: dict[str, Any] = {"version": form.get("version") or ""}
    typed = date_parts(form, "deadline")
    if typed is not None:
        values["rating_deadline"] = typed
    return values


@router.post("/assessments/{assessment_id}/rating-deadline")
def set_rating_deadline(
    page: PageDep, access: ChairPage, form: PageForm[RatingDeadlineUpdate, _deadline_form]
) -> Response:
    values = {part: form.values.get(f"deadline_{part}", "") for part in ("day", "month", "year")}
    try:
        if form.command is None or form.command.rating_deadline is None:
            # The command refused the date: say exactly what is wrong with the three boxes.
            date_from_parts(values["day"], values["month"], values["year"], "The rating deadline")
            raise FieldError("rating_deadline", next(iter(form.errors.values()), "Enter the rating deadline"))
        service.set_rating_deadline(
            page.session,
            access.principal,
            access.assessment.id,
            form.command,
            k_anonymity=page.settings.k_anonymity,
        )
    except (ValueError, FieldError, Conflict) as exc:
        message = exc.message if isinstance(exc, FieldError | Conflict) else str(exc)
        context = _context(
            page.session,
            access,
            page_title="Rating deadline",
            values=values,
            errors={"deadline_day": message},
        )
        status = 409 if isinstance(exc, Conflict) else 422
        return page.render("assessments/rating_deadline.html", context, status_code=status)
    return _back_to_consensus(page, access)
