"""The headline question: each member's own answer from 0 (early in our journey) to 10 (fully embedded), autosaved."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.assessments import service
from api.assessments.schemas import (
    HeadlineUpdate,
)
from api.assessments.views import assessment_context
from api.csrf import verify_csrf
from api.db import utcnow
from api.errors import Conflict
from api.forms import PageForm
from api.pages import Page, PageDep
from api.permissions import RaterPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# --- The headline question ----------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/headline", name="headline_question")
def headline_page(page: PageDep, access: RaterPage) -> Response:
    score, version = service.my_headline(page.session, access.assessment.id, access.principal.user.id)
    context = assessment_context(page.session, access)
    context.update(page_title="How embedded is race equality?", score=score, version=version)
    return page.render("assessments/headline.html", context)


@router.post("/assessments/{assessment_id}/headline")
def save_headline_page(page: PageDep, access: RaterPage, form: PageForm[HeadlineUpdate]) -> Response:
    context = assessment_context(page.session, access)
    typed_version = form.values.get("version", "0")
    version = int(typed_version) if typed_version.isdigit() else 0
    context.update(page_title="How embedded is race equality?", score=None, version=version)
    command = form.command
    autosave = page.request.headers.get("HX-Request") == "true"
    if command is None:
        if autosave:
            return _headline_status(
                page,
                version,
                error=f"Not saved: {next(iter(form.errors.values())).lower()}",
                status_code=422,
            )
        context["errors"] = {"score": next(iter(form.errors.values()))}
        return page.render("assessments/headline.html", context, status_code=422)
    try:
        saved = service.save_headline(
            page.session,
            access.principal,
            access.assessment.id,
            command,
            k_anonymity=page.settings.k_anonymity,
        )
    except Conflict as exc:
        if autosave:
            closed = exc.extra.get("rating_closed") or exc.extra.get("status")
            return _headline_status(
                page,
                version,
                error="Not saved: rating has closed for this assessment, so your answer cannot change"
                if closed
                else "Not saved: you changed this answer on another device or tab. Reload the page to see your latest answer",
                status_code=409,
            )
        current = exc.extra.get("current") or {}
        context.update(score=command.score, version=current.get("version", command.version))
        context["errors"] = {
            "score": "Rating has closed for this assessment, so your answer cannot change"
            if exc.extra.get("rating_closed") or exc.extra.get("status")
            else "You changed this answer on another device. Check the number below and save again"
        }
        return page.render("assessments/headline.html", context, status_code=409)
    if autosave:
        return _headline_status(page, saved.version, saved_at=utcnow())
    return page.redirect("assessment_overview", assessment_id=access.assessment.id)


def _headline_status(
    page: Page, version: int, *, saved_at: Any = None, error: str | None = None, status_code: int = 200
) -> Response:
    """htmx autosave of the headline answer: the new version and what happened, as for a rating."""
    return page.render(
        "assessments/_headline_autosave.html",
        {"version": version, "saved_at": saved_at, "error": error},
        status_code=status_code,
    )
