"""What a consensus section page shows: each statement with the board's spread, its agreed answer,
its evidence and last year's, built once for the section page, one statement's htmx block and
meeting mode.

The spread of members' ratings is shown as counts, median, range and comments only: nothing on
these pages names a member, dates a rating or orders comments by person or time.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.assessments.carry_forward import (
    LastYear,
    cycle_names,
    evidence_key,
    framework_doc,
    is_new_statement,
    last_years,
    level_four_notes,
)
from api.assessments.consensus_form import FormState
from api.assessments.models import Assessment, ConsensusRating, Evidence
from api.assessments.repository import (
    by_section,
    consensus_of,
    criteria_of,
    evidence_of,
    previous_assessment,
)
from api.assessments.spread import (
    CriterionSpreadData,
    board_spread,
    rating_closed,
    spread_of,
)
from api.errors import NotFound
from api.frameworks.models import FrameworkSection
from api.pages import Page

READABLE_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
}


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
