"""A board's score report: section and overall scores, the perception gap, evidence coverage."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

from api.assessments.models import Assessment
from api.assessments.repository import consensus_of, criteria_of, evidence_of
from api.assessments.spread import BoardRatings, board_ratings, enough_others
from api.frameworks.models import Criterion, FrameworkSection
from api.scoring.maths import (
    band,
    disagreement,
    discussion_weight,
    mean_or_none,
    one_decimal,
    percent,
    quartiles,
)
from api.scoring.models import OVERALL_KEY, StoredScore

# Agreed levels this high should rest on evidence (the Race Equality Code's "apply and explain").
EVIDENCE_EXPECTED_FROM = 3


@dataclass(frozen=True)
class Score:
    value: float | None

    @property
    def shown(self) -> float | None:
        return one_decimal(self.value)

    @property
    def percent(self) -> int | None:
        return percent(self.shown)

    @property
    def band(self) -> str | None:
        return band(self.value)


@dataclass
class CriterionResult:
    key: str
    statement: str
    consensus: int | None
    rated: int
    not_yet_known: int
    members_median: float | None
    members_iqr: float | None
    gap: float | None
    disagreement: bool
    has_evidence: bool
    # A fact item (framework version 2): answered for the board from its records, so no members'
    # figures; it scores like any agreed level.
    from_records: bool = False
    # Framework version 2's optional flag: the trust has shared this practice with other trusts.
    shared: bool = False
    # Orders the statements the board should discuss first; (0, 0.0) where the reader may not see
    # members' figures.
    discussion_weight: tuple[int, float] = (0, 0.0)

    @property
    def unevidenced(self) -> bool:
        return (
            self.consensus is not None and self.consensus >= EVIDENCE_EXPECTED_FROM and not self.has_evidence
        )


@dataclass
class SectionResult:
    key: str
    title: str
    kind: str
    number: int
    score: Score
    members_median: float | None
    members_iqr: float | None
    gap: float | None
    criteria: list[CriterionResult] = field(default_factory=list)

    @property
    def disagreement(self) -> bool:
        return any(c.disagreement for c in self.criteria)

    @property
    def all_from_records(self) -> bool:
        """Every statement is a fact item: there are no members' figures for this section at all."""
        return bool(self.criteria) and all(c.from_records for c in self.criteria)


@dataclass
class ScoreReport:
    provisional: bool
    overall: Score
    priorities_scored: int
    sections: list[SectionResult]
    baf: SectionResult | None
    evidence_coverage: float | None

    @property
    def priorities(self) -> list[SectionResult]:
        return [s for s in self.sections if s.kind == "priority"]

    @property
    def priorities_agreed(self) -> int:
        """Priorities with an agreed level for every statement."""
        return sum(
            1 for s in self.priorities if s.criteria and all(c.consensus is not None for c in s.criteria)
        )

    @property
    def overall_ready(self) -> bool:
        """The overall maturity may be the headline: signed off, or every priority fully agreed.
        Before that a mean of a few priorities would read as the board's score."""
        return not self.provisional or self.priorities_agreed == len(self.priorities)

    @property
    def to_discuss(self) -> list[tuple[SectionResult, CriterionResult]]:
        """The three flagged statements the board should discuss first (fewer if fewer are flagged)."""
        flagged = [(s, c) for s in self.sections for c in s.criteria if c.disagreement]
        flagged.sort(key=lambda pair: pair[1].discussion_weight, reverse=True)
        return flagged[:3]


def _member_stats(
    ratings: BoardRatings, values: dict[int, float], viewer_id: int | None
) -> tuple[float | None, float | None]:
    """Median and interquartile range of members' views (respondent -> value), only once rating has
    closed and from enough members other than the viewer to stay anonymous (spread.py), and only to
    the one decimal every output shows (a finer figure could give a member's mean back)."""
    if not ratings.closed or not enough_others(values, viewer_id):
        return None, None
    q1, median, q3 = quartiles(list(values.values()))
    return one_decimal(median), one_decimal(q3 - q1)


def _gap(agreed: float | None, members_median: float | None) -> float | None:
    """Agreed minus members' median, from the figures as shown, to one decimal."""
    shown = one_decimal(agreed)
    if shown is None or members_median is None:
        return None
    return one_decimal(shown - members_median)


def score_report(session: Session, assessment: Assessment, viewer_id: int | None = None) -> ScoreReport:
    """The board's scores; members' medians, ranges and flags as `viewer_id` may see them (None: as
    someone outside the board would, needing MIN_OTHER_RATERS members in all)."""
    assert assessment.id is not None
    pairs = criteria_of(session, assessment)
    agreed = consensus_of(session, assessment.id)
    evidence = evidence_of(session, assessment.id)
    ratings = board_ratings(session, assessment)
    by_member_section: dict[tuple[int, int], list[int]] = defaultdict(list)
    section_of = {criterion.id: section.id for section, criterion in pairs}
    for criterion_id, answers in ratings.by_criterion.items():
        if criterion_id not in section_of:
            continue
        for respondent_id, level, _comment in answers:
            if level is not None:
                by_member_section[(section_of[criterion_id], respondent_id)].append(level)

    stored: dict[str, float | None] = {}
    submitted = assessment.status == "submitted"
    if submitted:
        stored = {
            row.section_key: row.score
            for row in session.exec(
                select(StoredScore).where(StoredScore.assessment_id == assessment.id)
            ).all()
        }

    sections: dict[int, SectionResult] = {}
    for section, criterion in pairs:
        result = sections.get(section.id)
        if result is None:
            result = sections[section.id] = _section(section, by_member_section, ratings, viewer_id)
        result.criteria.append(_criterion(criterion, agreed, evidence, ratings, viewer_id))

    for result in sections.values():
        levels = [c.consensus for c in result.criteria]
        value = stored.get(result.key) if submitted else mean_or_none(levels)
        result.score = Score(value)
        # The gap compares like with like: the agreed levels of the statements members rated (all of
        # them in version 1; fact items, answered from records, have no members' view to compare).
        rated = value
        if any(c.from_records for c in result.criteria):
            rated = mean_or_none(c.consensus for c in result.criteria if not c.from_records)
        result.gap = _gap(rated, result.members_median)

    ordered = sorted(sections.values(), key=lambda s: s.number)
    priority_scores = [s.score.value for s in ordered if s.kind == "priority" and s.score.value is not None]
    overall = stored.get(OVERALL_KEY) if submitted else mean_or_none(priority_scores)
    all_criteria = [c for s in ordered for c in s.criteria]
    coverage = sum(c.has_evidence for c in all_criteria) / len(all_criteria) if all_criteria else None
    return ScoreReport(
        provisional=not submitted,
        overall=Score(overall),
        priorities_scored=len(priority_scores),
        sections=ordered,
        baf=next((s for s in ordered if s.kind == "baf"), None),
        evidence_coverage=coverage,
    )


def _section(
    section: FrameworkSection,
    by_member_section: dict[tuple[int, int], list[int]],
    ratings: BoardRatings,
    viewer_id: int | None,
) -> SectionResult:
    member_means = {
        member: statistics.fmean(levels)
        for (sid, member), levels in by_member_section.items()
        if sid == section.id
    }
    median, iqr = _member_stats(ratings, member_means, viewer_id)
    return SectionResult(
        key=section.key,
        title=section.title,
        kind=section.kind,
        number=section.number,
        score=Score(None),
        members_median=median,
        members_iqr=iqr,
        gap=None,
    )


def _criterion(
    criterion: Criterion,
    agreed: dict,
    evidence: dict[int, list],
    ratings: BoardRatings,
    viewer_id: int | None,
) -> CriterionResult:
    rows = ratings.by_criterion.get(criterion.id or 0, [])
    answers = [level for _r, level, _c in rows]
    known = {respondent: float(level) for respondent, level, _c in rows if level is not None}
    shown = ratings.closed and enough_others((r for r, _l, _c in rows), viewer_id)
    median, iqr = _member_stats(ratings, known, viewer_id) if shown else (None, None)
    consensus = agreed.get(criterion.id)
    level = consensus.level if consensus else None
    return CriterionResult(
        key=criterion.key,
        statement=criterion.statement,
        consensus=level,
        rated=len(answers),
        not_yet_known=sum(1 for a in answers if a is None),
        members_median=median,
        members_iqr=iqr,
        gap=_gap(level, median),
        disagreement=shown and disagreement(answers, level),
        has_evidence=bool(evidence.get(criterion.id)),
        from_records=not criterion.member_rated,
        shared=bool(consensus and consensus.shared),
        discussion_weight=discussion_weight(answers, level) if shown else (0, 0.0),
    )
