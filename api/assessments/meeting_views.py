"""Meeting mode: agreeing the board's ratings in the board meeting, one statement per screen.

Made for a projector: the statement, how members rated it as a large chart with its table, last
year's agreed level and rationale, then the level and the board's reason. Previous and next go through
the whole framework in order; the arrow keys do the same when nobody is typing (meeting.js). Opens
once rating has closed, for the chair and the board secretary. It shows exactly what the section pages
show (the spread as the viewer may see it; for a fact item, the board's answer from its records and its
evidence, never an empty spread) and saves through the same consensus command and service.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from markupsafe import Markup
from starlette.responses import Response

from api.accounts.roles import CHAIR
from api.assessments.carry_forward import framework_doc
from api.assessments.consensus_form import FormState, save_statement, statement_form_state
from api.assessments.consensus_page import assessment_names, level_names_of
from api.assessments.consensus_sections import section_data
from api.assessments.models import Assessment
from api.assessments.repository import consensus_of, criteria_of
from api.assessments.schemas import ConsensusUpdate
from api.assessments.spread import MIN_OTHER_RATERS, rating_closed, spread_hidden_text
from api.charts import spread_chart
from api.csrf import verify_csrf
from api.errors import NotFound
from api.forms import PageForm
from api.frameworks.models import Criterion, FrameworkSection
from api.pages import Page, PageDep
from api.permissions import AssessmentAccess, ManagerPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

Statements = list[tuple[FrameworkSection, Criterion]]


def _position(pairs: Statements, criterion_key: str) -> int:
    """Where the statement stands in the whole framework's order."""
    index = next((i for i, (_s, c) in enumerate(pairs) if c.key == criterion_key), None)
    if index is None:
        raise NotFound("No statement with that name in this assessment")
    return index


def _link(
    page: Page, assessment: Assessment, key: str | None, numbers: dict[str, str]
) -> dict[str, str] | None:
    if key is None:
        return None
    href = page.path("meeting_statement", assessment_id=assessment.id, criterion_key=key)
    return {"href": href, "labelText": f"Statement {numbers[key]}"}


def _numbers(pairs: Statements) -> dict[str, str]:
    """Each statement's number as the pages show it: "3.2" is the second statement of section 3."""
    numbers: dict[str, str] = {}
    positions: dict[int, int] = {}
    for section, criterion in pairs:
        positions[section.id or 0] = positions.get(section.id or 0, 0) + 1
        numbers[criterion.key] = f"{section.number}.{positions[section.id or 0]}"
    return numbers


@router.get("/assessments/{assessment_id}/meeting", name="meeting_start")
def meeting_start(page: PageDep, access: ManagerPage) -> Response:
    """Start at the first statement without an agreed level (or the first of all)."""
    assessment = access.assessment
    pairs = criteria_of(page.session, assessment)
    if not pairs:
        raise NotFound("This assessment has no statements")
    agreed = consensus_of(page.session, assessment.id)
    first_open = next(
        (
            criterion
            for _section, criterion in pairs
            if (row := agreed.get(criterion.id or 0)) is None or row.level is None
        ),
        pairs[0][1],
    )
    return page.redirect("meeting_statement", assessment_id=assessment.id, criterion_key=first_open.key)


def _render(
    page: Page,
    access: AssessmentAccess,
    criterion_key: str,
    *,
    state: FormState | None = None,
    status_code: int = 200,
    saved: str | None = None,
) -> Response:
    assessment = access.assessment
    pairs = criteria_of(page.session, assessment)
    index = _position(pairs, criterion_key)
    section = pairs[index][0]
    in_section = [c for s, c in pairs if s.id == section.id]
    data = section_data(
        page, assessment, section.key, access.principal.user.id, {criterion_key: state} if state else None
    )
    item = next(i for i in data.items if i.key == criterion_key)
    organisation, cycle = assessment_names(page.session, assessment)
    definition = framework_doc(page.session, assessment)
    level_names = level_names_of(definition)
    agreed = consensus_of(page.session, assessment.id)
    agreed_count = sum(
        1 for _s, c in pairs if (row := agreed.get(c.id or 0)) is not None and row.level is not None
    )
    chart = None
    if item.spread.shown and item.spread.counts is not None:
        bars = [(f"{level} – {level_names[level]}", item.spread.counts[level]) for level in range(5)]
        bars.append(("Not yet known", item.spread.not_yet_known or 0))
        chart = Markup(spread_chart(bars, f"How members rated statement {item.number}"))
    previous_key = pairs[index - 1][1].key if index > 0 else None
    next_key = pairs[index + 1][1].key if index + 1 < len(pairs) else None
    errors = dict(item.state.errors)
    numbers = _numbers(pairs)
    context: dict[str, Any] = {
        "page_title": f"Statement {item.number} – meeting mode",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "section": section,
        "item": item,
        "chart": chart,
        "hidden_text": None if item.spread.shown else spread_hidden_text(item.spread),
        "position": in_section.index(pairs[index][1]) + 1,
        "in_section": len(in_section),
        "section_agreed": data.agreed,
        "agreed_count": agreed_count,
        "total": len(pairs),
        "previous": _link(page, assessment, previous_key, numbers),
        "next": _link(page, assessment, next_key, numbers),
        "level_names": level_names,
        "rating_rule": definition.rule_for_rating,
        "sharing_flag": definition.sharing_flag,
        "rating_closed": rating_closed(assessment),
        "editable": assessment.status == "in_progress" and rating_closed(assessment),
        "is_chair": access.membership.role == CHAIR,
        "min_others": MIN_OTHER_RATERS,
        "saved_number": numbers.get(saved) if saved else None,
        "errors": errors,
        "error_summary": bool(errors),
    }
    return page.render("assessments/meeting.html", context, status_code=status_code)


@router.get("/assessments/{assessment_id}/meeting/{criterion_key}", name="meeting_statement")
def meeting_statement(
    page: PageDep, access: ManagerPage, criterion_key: str, saved: str | None = None
) -> Response:
    return _render(page, access, criterion_key, saved=saved)


@router.post("/assessments/{assessment_id}/meeting/{criterion_key}", name="meeting_save")
def meeting_save(
    page: PageDep, access: ManagerPage, criterion_key: str, form: PageForm[ConsensusUpdate]
) -> Response:
    assessment = access.assessment
    key = criterion_key
    pairs = criteria_of(page.session, assessment)
    index = _position(pairs, key)
    state = statement_form_state(form, key)
    if form.command is None:
        return _render(page, access, key, state=state, status_code=422)
    if not rating_closed(assessment):
        # The page offers no form until rating closes; a stale tab gets the page, not a save.
        return page.redirect("meeting_statement", assessment_id=assessment.id, criterion_key=key)
    refused = save_statement(
        page,
        access,
        key,
        form.command,
        state,
        lambda status_code: _render(page, access, key, state=state, status_code=status_code),
        # Signed off meanwhile: show the read-only statement.
        lambda: page.redirect("meeting_statement", assessment_id=assessment.id, criterion_key=key),
    )
    if refused is not None:
        return refused
    if index + 1 < len(pairs):
        following = pairs[index + 1][1].key
        return page.redirect(
            "meeting_statement", assessment_id=assessment.id, criterion_key=following, query={"saved": key}
        )
    return page.redirect("consensus_overview", assessment_id=assessment.id, query={"done": "meeting"})
