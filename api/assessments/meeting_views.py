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

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup
from starlette.responses import Response

from api.accounts.roles import CHAIR
from api.assessments import service
from api.assessments.consensus_page import FormState, save_statement, section_data, statement_form_state
from api.assessments.models import Assessment, Cycle
from api.assessments.repository import consensus_of, criteria_of
from api.assessments.schemas import ConsensusUpdate
from api.assessments.spread import MIN_OTHER_RATERS, rating_closed, spread_hidden_text
from api.charts import spread_chart
from api.csrf import verify_csrf
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import NotFound
from api.forms import PageForm
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.service import framework_document
from api.organisations.models import Organisation
from api.permissions import AssessmentAccess, ManagerPage
from api.templating import render
from api.urls import redirect_to

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def meeting_url(assessment_id: int, criterion_key: str) -> str:
    # This module's own route: its router names the path without a request.
    return router.url_path_for("meeting_statement", assessment_id=assessment_id, criterion_key=criterion_key)


def _in_order(session: SessionDep, assessment: Assessment) -> list[tuple[FrameworkSection, Criterion]]:
    return criteria_of(session, assessment)


def _link(assessment: Assessment, key: str | None, numbers: dict[str, str]) -> dict[str, str] | None:
    if key is None:
        return None
    return {"href": meeting_url(assessment.id, key), "labelText": f"Statement {numbers[key]}"}  # type: ignore[arg-type]


def _numbers(pairs: list[tuple[FrameworkSection, Criterion]]) -> dict[str, str]:
    """Each statement's number as the pages show it: "3.2" is the second statement of section 3."""
    numbers: dict[str, str] = {}
    positions: dict[int, int] = {}
    for section, criterion in pairs:
        positions[section.id or 0] = positions.get(section.id or 0, 0) + 1
        numbers[criterion.key] = f"{section.number}.{positions[section.id or 0]}"
    return numbers


@router.get("/assessments/{assessment_id}/meeting", name="meeting_start")
def meeting_start(session: SessionDep, access: ManagerPage) -> Response:
    """Start at the first statement without an agreed level (or the first of all)."""
    assessment = access.assessment
    pairs = _in_order(session, assessment)
    if not pairs:
        raise NotFound("This assessment has no statements")
    agreed = consensus_of(session, assessment.id)  # type: ignore[arg-type]
    first_open = next(
        (
            criterion
            for _section, criterion in pairs
            if (row := agreed.get(criterion.id or 0)) is None or row.level is None
        ),
        pairs[0][1],
    )
    return RedirectResponse(meeting_url(assessment.id, first_open.key), status_code=303)  # type: ignore[arg-type]


def _render(
    request: Request,
    session: SessionDep,
    access: AssessmentAccess,
    criterion_key: str,
    *,
    state: FormState | None = None,
    status_code: int = 200,
    saved: str | None = None,
) -> Response:
    assessment = access.assessment
    pairs = _in_order(session, assessment)
    index = next((i for i, (_s, c) in enumerate(pairs) if c.key == criterion_key), None)
    if index is None:
        raise NotFound("No statement with that name in this assessment")
    section = pairs[index][0]
    in_section = [c for s, c in pairs if s.id == section.id]
    data = section_data(
        session,
        assessment,
        section.key,
        access.principal.user.id,
        {criterion_key: state} if state else None,
    )
    item = next(i for i in data.items if i.key == criterion_key)
    framework = session.get(FrameworkRecord, assessment.framework_id)
    organisation = session.get(Organisation, assessment.organisation_id)
    cycle = session.get(Cycle, assessment.cycle_id)
    assert framework is not None and organisation is not None and cycle is not None
    definition = framework_document(framework)
    level_names = {level.level: level.name for level in definition.levels}
    agreed = consensus_of(session, assessment.id)  # type: ignore[arg-type]
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
        "previous": _link(assessment, previous_key, numbers),
        "next": _link(assessment, next_key, numbers),
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
    return render(request, "assessments/meeting.html", context, status_code=status_code)


@router.get("/assessments/{assessment_id}/meeting/{criterion_key}", name="meeting_statement")
def meeting_statement(
    request: Request, criterion_key: str, session: SessionDep, access: ManagerPage, saved: str | None = None
) -> Response:
    return _render(request, session, access, criterion_key, saved=saved)


@router.post("/assessments/{assessment_id}/meeting/{criterion_key}", name="meeting_save")
def meeting_save(
    request: Request,
    criterion_key: str,
    session: SessionDep,
    settings: SettingsDep,
    access: ManagerPage,
    form: PageForm[ConsensusUpdate],
) -> Response:
    assessment = access.assessment
    key = criterion_key
    pairs = _in_order(session, assessment)
    index = next((i for i, (_s, c) in enumerate(pairs) if c.key == key), None)
    if index is None:
        raise NotFound("No statement with that name in this assessment")
    state = statement_form_state(form, key)
    if form.command is None:
        return _render(request, session, access, key, state=state, status_code=422)
    if not rating_closed(assessment):
        # The page offers no form until rating closes; a stale tab gets the page, not a save.
        return RedirectResponse(meeting_url(assessment.id, key), status_code=303)  # type: ignore[arg-type]
    command = form.command
    refused = save_statement(
        state,
        key,
        lambda: service.save_consensus(
            session,
            access.principal,
            assessment.id,  # type: ignore[arg-type]
            key,
            level=command.level,
            rationale=command.rationale,
            version=command.version,
            k_anonymity=settings.k_anonymity,
            shared=command.shared,
        ),
        lambda status_code: _render(request, session, access, key, state=state, status_code=status_code),
        # Signed off meanwhile: show the read-only statement.
        lambda: RedirectResponse(meeting_url(assessment.id, key), status_code=303),  # type: ignore[arg-type]
    )
    if refused is not None:
        return refused
    if index + 1 < len(pairs):
        target = meeting_url(assessment.id, pairs[index + 1][1].key)  # type: ignore[arg-type]
        return RedirectResponse(f"{target}?saved={key}", status_code=303)
    return redirect_to(request, "consensus_overview", assessment_id=assessment.id, query={"done": "meeting"})
