"""Pages where the chair and board secretary agree the board's ratings: the overview and one section.
What a section shows (members' spread without names) is built in consensus_sections.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.accounts.roles import CHAIR
from api.assessments import service
from api.assessments.consensus_form import FormState, save_statement, statement_form_state
from api.assessments.consensus_page import (
    DONE_MESSAGES,
    answer_after_change,
    assessment_names,
    criterion_in_section,
    render_section,
    render_statement,
    signed_off_redirect,
    signer_of,
)
from api.assessments.repository import (
    by_section,
    consensus_of,
    criteria_of,
)
from api.assessments.schemas import (
    ConsensusUpdate,
)
from api.assessments.spread import (
    MIN_OTHER_RATERS,
    board_headline,
    rating_closed,
)
from api.csrf import verify_csrf
from api.forms import PageForm
from api.pages import PageDep
from api.permissions import ManagerPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# --- Overview ---------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/consensus", name="consensus_overview")
def consensus_overview(page: PageDep, access: ManagerPage, done: str | None = None) -> Response:
    session = page.session
    assessment = access.assessment
    organisation, cycle = assessment_names(session, assessment)
    agreed = consensus_of(session, assessment.id)
    sections = []
    total = left = records_total = records_answered = 0
    for section, criteria in by_section(criteria_of(session, assessment)):
        answered = {
            c.id for c in criteria if (row := agreed.get(c.id or 0)) is not None and row.level is not None
        }
        done = len(answered)
        facts = [c for c in criteria if not c.member_rated]
        records_total += len(facts)
        records_answered += sum(1 for c in facts if c.id in answered)
        sections.append({"section": section, "agreed": done, "total": len(criteria)})
        total += len(criteria)
        left += len(criteria) - done
    finished, members = service.board_progress(session, assessment)
    return page.render(
        "assessments/consensus_overview.html",
        {
            "page_title": f"Agree the board's ratings – {cycle.name}",
            "assessment": assessment,
            "organisation": organisation,
            "cycle": cycle,
            "sections": sections,
            "total": total,
            "left": left,
            "records_total": records_total,
            "records_answered": records_answered,
            "members_finished": finished,
            "members": members,
            "not_finished": service.members_not_finished(session, assessment),
            "rating_closed": rating_closed(assessment),
            "min_others": MIN_OTHER_RATERS,
            "is_chair": access.membership.role == CHAIR,
            "signed_off_by": signer_of(session, assessment),
            "headline": board_headline(session, assessment, access.principal.user.id),
            "meeting_href": page.path("meeting_start", assessment_id=assessment.id),
            "finished_meeting": done == "meeting",
        },
    )


# --- One section --------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/consensus/{section_key}", name="consensus_section")
def consensus_section(
    page: PageDep,
    access: ManagerPage,
    section_key: str,
    done: str | None = None,
    criterion: str | None = None,
) -> Response:
    states = {criterion: FormState(done=done)} if criterion and done in DONE_MESSAGES else None
    return render_section(page, access, section_key, states=states)


@router.post("/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}", name="save_consensus")
def save_consensus(
    page: PageDep, access: ManagerPage, section_key: str, criterion_key: str, form: PageForm[ConsensusUpdate]
) -> Response:
    criterion = criterion_in_section(page.session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = statement_form_state(form, key)

    def again(status_code: int) -> Response:
        return render_statement(page, access, section_key, key, state, status_code=status_code)

    if form.command is None:
        return again(422)
    refused = save_statement(
        page, access, key, form.command, state, again, lambda: signed_off_redirect(page, access, section_key)
    )
    if refused is not None:
        return refused
    done = "saved" if criterion.member_rated else "answered"
    return answer_after_change(page, access, section_key, key, done, "criterion")
