"""What the consensus pages show and how they answer: the section data, the rendering of a section
or one statement's block for htmx, and the redirects after a change. Shared by the consensus,
evidence, sign-off and meeting-mode views; no routes here.

The spread of members' ratings is shown as counts, median, range and comments only: nothing on
these pages names a member, dates a rating or orders comments by person or time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from api.accounts.models import User
from api.accounts.roles import CHAIR
from api.assessments import service
from api.assessments.carry_forward import (
    LastYear,
    cycle_names,
    evidence_key,
    framework_doc,
    is_new_statement,
    last_years,
    level_four_notes,
)
from api.assessments.models import Assessment, ConsensusRating, Cycle, Evidence
from api.assessments.repository import (
    by_section,
    consensus_of,
    criteria_of,
    evidence_of,
    previous_assessment,
)
from api.assessments.schemas import ConsensusUpdate
from api.assessments.spread import (
    FROM_RECORDS_TEXT,
    MIN_OTHER_RATERS,
    CriterionSpreadData,
    board_spread,
    rating_closed,
    spread_of,
)
from api.errors import Conflict, FieldError, NotFound
from api.forms import CommandForm
from api.frameworks.models import Criterion, FrameworkSection
from api.frameworks.schema import FrameworkDefinition
from api.organisations.models import Organisation
from api.pages import Page
from api.permissions import AssessmentAccess

MAX_RATIONALE = 5000
STALE_MESSAGE = (
    "Someone else changed this agreed rating while you were editing. Their version is shown below; "
    "your text is kept in the box so you can copy it"
)
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
READABLE_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
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


# --- What the section page shows for one criterion ------------------------------------------------


@dataclass(frozen=True)
class EvidenceItem:
    evidence: Evidence
    title: str
    carried_from: str | None

    @property
    def size_text(self) -> str:
        kind = READABLE_TYPES.get(self.evidence.content_type or "", "File")
        size = self.evidence.size_bytes or 0
        shown = f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"
        return f"{kind}, {shown}"


def evidence_items_of(rows: list[Evidence], carried_from: dict[int, str]) -> list[EvidenceItem]:
    return [
        EvidenceItem(evidence, evidence.title, carried_from.get(evidence.carried_from_cycle_id or 0))
        for evidence in rows
    ]


@dataclass
class FormState:
    """What the person sent, kept when the page comes back with a problem."""

    level: str | None = None
    rationale: str | None = None
    shared: bool | None = None
    version: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    evidence_errors: dict[str, str] = field(default_factory=dict)
    stale: bool = False
    link_title: str = ""
    link_url: str = ""
    done: str | None = None


def typed_state(values: dict[str, str]) -> FormState:
    """A consensus form as typed (level, rationale, the sharing box), to show again with a problem."""
    shared = values.get("shared")
    return FormState(
        level=values.get("level") or None,
        rationale=values.get("rationale", ""),
        shared=None if shared is None else shared == "true",
    )


def statement_form_state(form: CommandForm[Any], key: str) -> FormState:
    """A statement's consensus form as typed (see typed_state), with the version it was read at and
    its errors on the statement's level and rationale boxes."""
    state = typed_state(form.values)
    typed_version = form.values.get("version", "0")
    state.version = int(typed_version) if typed_version.isdigit() else 0
    for name, message in form.errors.items():
        state.errors[f"{key}-{'rationale' if name == 'rationale' else 'level'}"] = message
    return state


def save_statement(
    page: Page,
    access: AssessmentAccess,
    key: str,
    command: ConsensusUpdate,
    state: FormState,
    again: Callable[[int], Response],
    signed_off: Callable[[], Response],
) -> Response | None:
    """Save a statement's consensus, from the section page or meeting mode, through the service the
    API uses too; None once saved. Refused: the board's reason is needed where the level is far from
    the members' median (`again(422)` with it beside the rationale); out of date: what they typed is
    kept (`state`) and the next save is against the version now shown (`again(409)`); signed off
    meanwhile: `signed_off()`, the read-only statement."""
    try:
        service.agree_consensus(
            page.session,
            access.principal,
            access.assessment.id,
            key,
            command,
            k_anonymity=page.settings.k_anonymity,
        )
    except FieldError as refused:
        state.errors[f"{key}-rationale"] = refused.message
        return again(422)
    except Conflict as exc:
        if "current" not in exc.extra:
            return signed_off()
        current = exc.extra["current"] or {}
        state.version = int(current.get("version") or 0)
        state.stale = True
        state.errors[f"{key}-rationale"] = STALE_MESSAGE
        return again(409)
    return None


@dataclass
class CriterionView:
    key: str
    number: str
    statement: str
    guidance: str
    descriptors: dict[int, str]
    evidence_prompts: list[str]
    spread: CriterionSpreadData
    consensus: ConsensusRating | None
    evidence: list[EvidenceItem]
    last_year: LastYear | None
    next_href: str
    next_text: str
    state: FormState
    # A fact item (framework version 2): answered once for the board from its records, by the chair
    # or the board secretary; members do not rate it, so there is no spread to show.
    from_records: bool = False
    # Under version 2's generic level-4 rule, why level 4 is not yet supported (shown by level 4).
    level_four_note: str | None = None
    # New in this framework version, where last year's assessment used an earlier one.
    new_statement: bool = False

    @property
    def agreed(self) -> bool:
        return self.consensus is not None and self.consensus.level is not None

    @property
    def form_level(self) -> str | None:
        if self.state.level is not None:
            return self.state.level
        if self.consensus is not None and self.consensus.level is not None:
            return str(self.consensus.level)
        return None

    @property
    def form_rationale(self) -> str:
        if self.state.rationale is not None:
            return self.state.rationale
        return self.consensus.rationale if self.consensus else ""

    @property
    def form_shared(self) -> bool:
        if self.state.shared is not None:
            return self.state.shared
        return bool(self.consensus and self.consensus.shared)

    @property
    def form_version(self) -> int:
        if self.state.version is not None:
            return self.state.version
        return self.consensus.version if self.consensus else 0

    @property
    def rationale_is_last_years(self) -> bool:
        return bool(
            self.last_year
            and self.consensus
            and self.last_year.rationale.strip()
            and self.consensus.rationale.strip() == self.last_year.rationale.strip()
        )

    @property
    def can_carry_forward(self) -> bool:
        last = self.last_year
        if last is None:
            return False
        rationale_empty = not (self.consensus and self.consensus.rationale.strip())
        have = {evidence_key(item.evidence) for item in self.evidence}
        return (rationale_empty and bool(last.rationale.strip())) or any(
            evidence_key(e) not in have for e in last.evidence
        )

    @property
    def median_text(self) -> str | None:
        median = self.spread.median
        if median is None:
            return None
        return str(int(median)) if float(median).is_integer() else f"{median:.1f}"

    @property
    def range_text(self) -> str | None:
        low, high = self.spread.low, self.spread.high
        if low is None or high is None:
            return None
        return f"all chose {low}" if low == high else f"from {low} to {high}"


@dataclass
class SectionData:
    section: FrameworkSection
    summary: str
    items: list[CriterionView]
    previous_section: FrameworkSection | None
    next_section: FrameworkSection | None
    agreed: int

    @property
    def from_records(self) -> int:
        return sum(1 for item in self.items if item.from_records)


def section_data(
    page: Page,
    assessment: Assessment,
    section_key: str,
    viewer_id: int,
    states: dict[str, FormState] | None = None,
) -> SectionData:
    """One section's statements as the consensus pages show them, each with its "next" link: the
    next statement, else the next section, else back to all sections."""
    session = page.session
    sections = by_section(criteria_of(session, assessment))
    index = next((i for i, (s, _c) in enumerate(sections) if s.key == section_key), None)
    if index is None:
        raise NotFound("No section with that name in this assessment")
    section, criteria = sections[index]
    next_section = sections[index + 1][0] if index + 1 < len(sections) else None
    doc = framework_doc(session, assessment)
    doc_section = next(s for s in doc.sections if s.key == section.key)
    spreads = board_spread(session, assessment, viewer_id)
    closed = rating_closed(assessment)
    agreed = consensus_of(session, assessment.id)
    evidence = evidence_of(session, assessment.id)
    wanted = {}
    for criterion in criteria:
        doc_criterion = doc.criterion(criterion.key)
        wanted[criterion.key] = [criterion.key, *(doc_criterion.replaces if doc_criterion else [])]
    found_last_years = last_years(session, assessment, wanted)
    level_four = level_four_notes(doc, found_last_years, [c.key for c in criteria])
    previous = previous_assessment(session, assessment)
    carried_from = cycle_names(session, [e for rows in evidence.values() for e in rows])
    states = states or {}
    items = []
    for position, criterion in enumerate(criteria):
        doc_criterion = doc.criterion(criterion.key)
        assert doc_criterion is not None
        if position + 1 < len(criteria):
            next_href, next_text = f"#{criteria[position + 1].key}", "Go to the next statement"
        elif next_section is not None:
            next_href = page.path(
                "consensus_section", assessment_id=assessment.id, section_key=next_section.key
            )
            next_text = f"Go to the next section: {next_section.title}"
        else:
            next_href = page.path("consensus_overview", assessment_id=assessment.id)
            next_text = "Back to all sections"
        items.append(
            CriterionView(
                key=criterion.key,
                number=f"{section.number}.{position + 1}",
                statement=criterion.statement,
                guidance=doc_criterion.guidance,
                descriptors=doc_criterion.descriptors,
                evidence_prompts=list(doc_criterion.evidence_prompts),
                spread=spread_of(spreads, criterion, closed),
                consensus=agreed.get(criterion.id or 0),
                evidence=evidence_items_of(evidence.get(criterion.id or 0, []), carried_from),
                last_year=found_last_years.get(criterion.key),
                level_four_note=level_four.get(criterion.key),
                new_statement=is_new_statement(doc, criterion.key, previous, assessment.framework_id),
                next_href=next_href,
                next_text=next_text,
                state=states.get(criterion.key) or FormState(),
                from_records=not criterion.member_rated,
            )
        )
    return SectionData(
        section=section,
        summary=doc_section.summary,
        items=items,
        previous_section=sections[index - 1][0] if index > 0 else None,
        next_section=next_section,
        agreed=sum(1 for item in items if item.agreed),
    )


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
