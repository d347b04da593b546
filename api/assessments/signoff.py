"""The chair's check before signing the year off: what the board should have in view first.

Two kinds of point. A *blocking* point stops sign-off: an agreed level 1.5 or more from the members'
median with no rationale (the board must say why it differs from its own members). The others are
*warnings* the chair confirms with the board in view: members who have not finished rating, agreed
levels with no rationale, and priorities with no evidence at all.

A fact item (framework version 2, answered for the board from its records) has no members' median, so
it is never blocking: it can be a warning (no rationale, or no evidence attached to the answer).

Like the consensus pages, nothing here says what any member rated: the median is used only where the
viewer may see the spread (`spread.board_spread`), and members are named only as not finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from api.assessments.carry_forward import framework_doc, last_years_for, level_four_notes
from api.assessments.models import Assessment
from api.assessments.repository import by_section, consensus_of, criteria_of, evidence_of
from api.assessments.service import members_not_finished
from api.assessments.spread import board_spread, far_from_median, rating_closed, spread_of


@dataclass(frozen=True)
class StatementPoint:
    """One agreed statement the chair should look at again."""

    key: str
    number: str
    statement: str
    section_key: str
    level: int | None
    median: float | None


@dataclass(frozen=True)
class SectionPoint:
    key: str
    number: int
    title: str
    kind: str


@dataclass(frozen=True)
class SignOffChecks:
    not_finished: list[str]
    without_rationale: list[StatementPoint]
    far_without_rationale: list[StatementPoint]
    sections_without_evidence: list[SectionPoint]
    # Fact items (framework version 2) answered for the board from records with no evidence attached:
    # the answer rests on records, so the board should be able to point to them.
    records_without_evidence: list[StatementPoint] = field(default_factory=list)
    # Level 4 agreed where the framework's level-4 rule (level 3 held for two yearly cycles) is not
    # supported by last year's agreed level: a warning, as the board may hold evidence from before.
    level_four_unsupported: list[StatementPoint] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.far_without_rationale)

    @property
    def warnings(self) -> int:
        return (
            len(self.not_finished)
            + len(self.without_rationale)
            + len(self.sections_without_evidence)
            + len(self.records_without_evidence)
            + len(self.level_four_unsupported)
        )


def sign_off_checks(session: Session, assessment: Assessment, viewer_id: int) -> SignOffChecks:
    """Everything the chair should have in view before signing off, as `viewer_id` may see it."""
    agreed = consensus_of(session, assessment.id)  # type: ignore[arg-type]
    evidence = evidence_of(session, assessment.id)  # type: ignore[arg-type]
    spreads = board_spread(session, assessment, viewer_id)
    closed = rating_closed(assessment)
    without_rationale: list[StatementPoint] = []
    far: list[StatementPoint] = []
    bare_sections: list[SectionPoint] = []
    records_bare: list[StatementPoint] = []
    level_four: list[StatementPoint] = []
    criteria_by_section = by_section(criteria_of(session, assessment))
    at_four = [c.key for _, criteria in criteria_by_section for c in criteria if _level(agreed, c.id) == 4]
    unsupported = (
        level_four_notes(
            framework_doc(session, assessment), last_years_for(session, assessment, at_four), at_four
        )
        if at_four
        else {}
    )
    for section, criteria in criteria_by_section:
        if not any(evidence.get(criterion.id or 0) for criterion in criteria):
            bare_sections.append(SectionPoint(section.key, section.number, section.title, section.kind))
        for position, criterion in enumerate(criteria, start=1):
            consensus = agreed.get(criterion.id or 0)
            if consensus is None or consensus.level is None:
                continue
            if criterion.key in unsupported:
                level_four.append(
                    StatementPoint(
                        criterion.key,
                        f"{section.number}.{position}",
                        criterion.statement,
                        section.key,
                        4,
                        None,
                    )
                )
            if not criterion.member_rated and not evidence.get(criterion.id or 0):
                records_bare.append(
                    StatementPoint(
                        criterion.key,
                        f"{section.number}.{position}",
                        criterion.statement,
                        section.key,
                        consensus.level,
                        None,
                    )
                )
            if consensus.rationale.strip():
                continue
            # A fact item has no members' median (spread_of): it is never "far" from one.
            seen = spread_of(spreads, criterion, closed)
            point = StatementPoint(
                criterion.key,
                f"{section.number}.{position}",
                criterion.statement,
                section.key,
                consensus.level,
                seen.median if seen.shown else None,
            )
            (far if far_from_median(consensus.level, seen) else without_rationale).append(point)
    return SignOffChecks(
        not_finished=members_not_finished(session, assessment),
        without_rationale=without_rationale,
        far_without_rationale=far,
        sections_without_evidence=bare_sections,
        records_without_evidence=records_bare,
        level_four_unsupported=level_four,
    )


def _level(agreed: dict, criterion_id: int | None) -> int | None:
    consensus = agreed.get(criterion_id or 0)
    return consensus.level if consensus is not None else None


def unexplained_far_levels(session: Session, assessment: Assessment, viewer_id: int) -> list[str]:
    """Criterion keys whose agreed level is 1.5 or more from the members' median with no rationale."""
    return [point.key for point in sign_off_checks(session, assessment, viewer_id).far_without_rationale]
