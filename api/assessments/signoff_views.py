"""Signing off: the chair's check page, the sign-off itself and its confirmation; and a platform
admin reopening a submitted assessment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlmodel import Session
from starlette.responses import Response

from api.assessments import service
from api.assessments.carry_forward import framework_doc
from api.assessments.consensus_page import assessment_names, level_names_of, signer_of
from api.assessments.cycles import is_closed, late_submission_refusal
from api.assessments.models import Assessment
from api.assessments.repository import (
    assessment_for_admin,
    by_section,
    consensus_of,
    criteria_of,
)
from api.assessments.schemas import (
    ReopenRequest,
    SignOffConfirmation,
)
from api.assessments.signoff import sign_off_checks
from api.assessments.spread import (
    rating_closed,
)
from api.csrf import verify_csrf
from api.db import utcnow
from api.errors import Conflict, Unprocessable
from api.forms import PageForm
from api.pages import Page, PageDep
from api.permissions import ChairPage, ManagerPage, PlatformAdminPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# --- Sign-off -------------------------------------------------------------------------------------------


def _submit_context(page: Page, assessment: Assessment, viewer_id: int) -> dict[str, Any]:
    session = page.session
    organisation, cycle = assessment_names(session, assessment)
    missing_ids = {c.id for c in service.missing_consensus(session, assessment)}
    agreed = consensus_of(session, assessment.id)
    level_names = level_names_of(framework_doc(session, assessment))
    sections = []
    missing = []
    for section, criteria in by_section(criteria_of(session, assessment)):
        rows = []
        for position, criterion in enumerate(criteria, start=1):
            number = f"{section.number}.{position}"
            href = page.path(
                "consensus_section",
                assessment_id=assessment.id,
                section_key=section.key,
                fragment=criterion.key,
            )
            if criterion.id in missing_ids:
                missing.append({"number": number, "statement": criterion.statement, "href": href})
            else:
                level = agreed[criterion.id or 0].level
                rows.append(
                    {
                        "number": number,
                        "statement": criterion.statement,
                        "level": level,
                        "level_name": level_names.get(level or 0, ""),
                        "from_records": not criterion.member_rated,
                        "href": href,
                    }
                )
        sections.append({"section": section, "rows": rows})
    return {
        "page_title": "Check the agreed ratings before you submit",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "sections": sections,
        "missing": missing,
        "rating_closed": rating_closed(assessment),
        "checks": sign_off_checks(session, assessment, viewer_id),
        "level_names": level_names,
        "errors": {},
    }


@router.get("/assessments/{assessment_id}/submit", name="submit_assessment_page")
def submit_page(page: PageDep, access: ChairPage) -> Response:
    assessment = access.assessment
    if assessment.status == "submitted":
        return page.redirect("assessment_submitted", assessment_id=assessment.id)
    context = _submit_context(page, assessment, access.principal.user.id)
    context["closed"] = late_submission_refusal(
        page.session, context["cycle"], assessment.id, page.settings.k_anonymity, utcnow().date()
    )
    return page.render("assessments/submit.html", context)


@router.post("/assessments/{assessment_id}/submit", name="sign_off_and_submit")
def submit(page: PageDep, access: ChairPage, form: PageForm[SignOffConfirmation]) -> Response:
    viewer_id = access.principal.user.id
    if access.assessment.status != "submitted":
        context = _submit_context(page, access.assessment, viewer_id)
        confirmed = form.command is not None and form.command.confirmed
        ready = not context["missing"] and not context["checks"].blocked
        if (
            ready
            and context["checks"].warnings
            and not confirmed
            and not is_closed(context["cycle"], utcnow().date())
        ):
            # The chair signs off with the board's gaps in view, not past them.
            context["errors"] = {"confirmed": SignOffConfirmation.form_messages["confirmed"]}
            context["error_summary"] = True
            return page.render("assessments/submit.html", context, status_code=422)
    try:
        service.submit(
            page.session, access.principal, access.assessment.id, k_anonymity=page.settings.k_anonymity
        )
    except Unprocessable:
        # Someone cleared or never agreed a level, or a far level has no reason: show the list again.
        context = _submit_context(page, access.assessment, viewer_id)
        return page.render("assessments/submit.html", context, status_code=422)
    except Conflict as refused:
        context = _submit_context(page, access.assessment, viewer_id)
        if not is_closed(context["cycle"], utcnow().date()):
            raise
        context["closed"] = refused.message
        return page.render("assessments/submit.html", context, status_code=409)
    return page.redirect("assessment_submitted", assessment_id=access.assessment.id)


@router.get("/assessments/{assessment_id}/submitted", name="assessment_submitted")
def submitted_page(page: PageDep, access: ManagerPage) -> Response:
    assessment = access.assessment
    if assessment.status != "submitted":
        return page.redirect("consensus_overview", assessment_id=assessment.id)
    organisation, cycle = assessment_names(page.session, assessment)
    return page.render(
        "assessments/submitted.html",
        {
            "page_title": "Assessment submitted",
            "assessment": assessment,
            "organisation": organisation,
            "cycle": cycle,
            "signed_off_by": signer_of(page.session, assessment),
        },
    )


# --- Reopening (platform admin) -----------------------------------------------------------------------


def _reopen_context(session: Session, assessment: Assessment) -> dict[str, Any]:
    organisation, cycle = assessment_names(session, assessment)
    return {
        "page_title": f"Reopen the {cycle.name} assessment of {organisation.name}",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "signed_off_by": signer_of(session, assessment),
    }


@router.get("/admin/assessments/{assessment_id}/reopen", name="reopen_assessment_page")
def reopen_page(page: PageDep, admin: PlatformAdminPage, assessment_id: int) -> Response:
    assessment = assessment_for_admin(page.session, assessment_id)
    return page.render("admin/reopen.html", {**_reopen_context(page.session, assessment), "reason": ""})


@router.post("/admin/assessments/{assessment_id}/reopen", name="admin_reopen_assessment")
def reopen(
    page: PageDep, admin: PlatformAdminPage, assessment_id: int, form: PageForm[ReopenRequest]
) -> Response:
    assessment = assessment_for_admin(page.session, assessment_id)
    context = {**_reopen_context(page.session, assessment), "reason": form.values.get("reason", "")}
    if form.command is None:
        return page.render(
            "admin/reopen.html",
            {**context, "errors": form.errors, "error_summary": True},
            status_code=422,
        )
    try:
        service.reopen(
            page.session, admin.user, assessment, form.command.reason, k_anonymity=page.settings.k_anonymity
        )
    except Conflict:
        # Already reopened (by someone else, or a second press): the page says so.
        return page.render("admin/reopen.html", context, status_code=409)
    return page.render(
        "admin/reopened.html",
        {**context, "page_title": "Assessment reopened", "reason": form.command.reason},
    )
