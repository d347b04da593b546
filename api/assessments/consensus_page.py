"""How the consensus pages answer: a section (its data from consensus_sections.py) or one
statement's block for htmx, the names they show, and the redirects after a change. Shared by the
consensus, evidence, sign-off and meeting-mode views; no routes here."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from api.accounts.models import User
from api.accounts.roles import CHAIR
from api.assessments.carry_forward import (
    framework_doc,
)
from api.assessments.consensus_form import FormState
from api.assessments.consensus_sections import section_data
from api.assessments.models import Assessment, Cycle
from api.assessments.repository import (
    criteria_of,
)
from api.assessments.spread import (
    FROM_RECORDS_TEXT,
    MIN_OTHER_RATERS,
    rating_closed,
)
from api.errors import NotFound
from api.frameworks.models import Criterion
from api.frameworks.schema import FrameworkDefinition
from api.organisations.models import Organisation
from api.pages import Page
from api.permissions import AssessmentAccess

# What the success banner says after a form without JavaScript redirects back (?done=...).
DONE_MESSAGES = {
    "saved": "The agreed level has been saved.",
    "answered": "The board's answer has been saved.",
    "link": "The link has been added.",
    "file": "The file has been uploaded.",
    "removed": "The evidence has been removed.",
    "carried": (
        "Last year's rationale and evidence have been copied. "
        "Check they are still true this year and change them if not."
    ),
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def level_names_of(doc: FrameworkDefinition) -> dict[int, str]:
    return {level.level: level.name for level in doc.levels}


def assessment_names(session: Session, assessment: Assessment) -> tuple[Organisation, Cycle]:
    organisation = session.get(Organisation, assessment.organisation_id)
    cycle = session.get(Cycle, assessment.cycle_id)
    assert organisation is not None and cycle is not None
    return organisation, cycle


def signer_of(session: Session, assessment: Assessment) -> User | None:
    return session.get(User, assessment.submitted_by_id) if assessment.submitted_by_id else None


def render_section(
    page: Page,
    access: AssessmentAccess,
    section_key: str,
    *,
    states: dict[str, FormState] | None = None,
    status_code: int = 200,
    block: str | None = None,
    only: str | None = None,
) -> Response:
    """The section page, or (for htmx) one criterion's block or its evidence block."""
    assessment = access.assessment
    data = section_data(page, assessment, section_key, access.principal.user.id, states)
    organisation, cycle = assessment_names(page.session, assessment)
    doc = framework_doc(page.session, assessment)
    items = data.items
    fragment = is_htmx(page.request) and block is not None
    if fragment:
        items = [item for item in items if item.key == only]
    page_errors: dict[str, str] = {}
    for item in data.items:
        page_errors.update(item.state.errors)
        page_errors.update(item.state.evidence_errors)
    context: dict[str, Any] = {
        "page_title": f"{data.section.number}. {data.section.title} – agree the board's ratings",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "section": data.section,
        "section_summary": data.summary,
        "items": items,
        "agreed": data.agreed,
        "total": len(data.items),
        "previous_section": data.previous_section,
        "next_section": data.next_section,
        "editable": assessment.status == "in_progress",
        "rating_closed": rating_closed(assessment),
        "is_chair": access.membership.role == CHAIR,
        "min_others": MIN_OTHER_RATERS,
        "level_names": level_names_of(doc),
        "rating_rule": doc.rule_for_rating,
        "sharing_flag": doc.sharing_flag,
        "from_records_text": FROM_RECORDS_TEXT,
        "from_records": data.from_records,
        "page_errors": page_errors,
        "error_summary": bool(page_errors),
        "fragment": fragment,
        "done_messages": DONE_MESSAGES,
    }
    if fragment:
        context["item"] = items[0]
    # htmx swaps only 2xx answers: a problem comes back as 200 with the error summary in the fragment.
    return page.render(
        "assessments/consensus_section.html",
        context,
        status_code=200 if fragment else status_code,
        block=block,
    )


def render_statement(
    page: Page,
    access: AssessmentAccess,
    section_key: str,
    key: str,
    state: FormState,
    *,
    status_code: int,
    block: str = "criterion",
) -> Response:
    """One statement's block (or its evidence block) again, with what was typed and why it was not
    saved: the whole page without htmx."""
    return render_section(
        page, access, section_key, states={key: state}, status_code=status_code, block=block, only=key
    )


def criterion_in_section(session: Session, assessment: Assessment, section_key: str, key: str) -> Criterion:
    for section, criterion in criteria_of(session, assessment):
        if section.key == section_key and criterion.key == key:
            return criterion
    raise NotFound("No statement with that name in this section")


def answer_after_change(
    page: Page, access: AssessmentAccess, section_key: str, key: str, done: str, block: str
) -> Response:
    """After a change: htmx gets the block back; a plain form goes back to the statement on the
    page (303), whose banner says what was done (?done=...)."""
    if is_htmx(page.request):
        states = {key: FormState(done=done)}
        return render_section(page, access, section_key, states=states, block=block, only=key)
    return page.redirect(
        "consensus_section",
        assessment_id=access.assessment.id,
        section_key=section_key,
        query={"done": done, "criterion": key},
        fragment=key,
    )


def signed_off_redirect(page: Page, access: AssessmentAccess, section_key: str) -> Response:
    """A change after sign-off: show the (now read-only) page rather than an error htmx would hide."""
    url = page.path("consensus_section", assessment_id=access.assessment.id, section_key=section_key)
    if is_htmx(page.request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
