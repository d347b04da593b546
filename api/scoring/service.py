"""Computing a board's scores from its agreed levels, and storing them when it signs off."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, insert
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkSection
from api.scoring.maths import mean_or_none
from api.scoring.models import OVERALL_KEY, StoredScore


@dataclass(frozen=True)
class SectionMean:
    section_key: str
    kind: str
    score: float | None
    count: int


def _section_means(session: Session, assessment_ids: Iterable[int]) -> dict[int, list[SectionMean]]:
    """Per assessment, each section's mean agreed level, aggregated in SQL (one query for many)."""
    ids = list(assessment_ids)
    if not ids:
        return {}
    # Criteria that do not apply to a trust's type have no consensus row, so they drop out here.
    rows = session.exec(
        select(
            ConsensusRating.assessment_id,
            FrameworkSection.key,
            FrameworkSection.kind,
            FrameworkSection.number,
            func.avg(ConsensusRating.level),
            func.count(ConsensusRating.level),
        )
        .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
        .join(FrameworkSection, FrameworkSection.id == Criterion.section_id)
        .where(ConsensusRating.assessment_id.in_(ids), ConsensusRating.level.is_not(None))  # type: ignore[attr-defined,union-attr]
        .group_by(
            ConsensusRating.assessment_id,
            FrameworkSection.key,
            FrameworkSection.kind,
            FrameworkSection.number,
        )
        .order_by(ConsensusRating.assessment_id, FrameworkSection.number)
    ).all()
    means: dict[int, list[SectionMean]] = defaultdict(list)
    for assessment_id, key, kind, _number, mean, count in rows:
        means[assessment_id].append(SectionMean(key, kind, float(mean), int(count)))
    return means


def _rows_for(assessment_id: int, sections: list[SectionMean]) -> list[dict[str, object]]:
    now = utcnow()
    priority_scores = [s.score for s in sections if s.kind == "priority" and s.score is not None]
    rows: list[dict[str, object]] = [
        {
            "assessment_id": assessment_id,
            "section_key": s.section_key,
            "kind": s.kind,
            "score": s.score,
            "count": s.count,
            "computed_at": now,
        }
        for s in sections
    ]
    rows.append(
        {
            "assessment_id": assessment_id,
            "section_key": OVERALL_KEY,
            "kind": "overall",
            "score": mean_or_none(priority_scores),
            "count": len(priority_scores),
            "computed_at": now,
        }
    )
    return rows


def store_scores(session: Session, assessment: Assessment) -> None:
    """Called once, in the sign-off transaction."""
    assert assessment.id is not None
    store_scores_bulk(session, [assessment.id])


def store_scores_bulk(session: Session, assessment_ids: list[int]) -> int:
    clear = delete(StoredScore).where(StoredScore.assessment_id.in_(assessment_ids))  # type: ignore[attr-defined]
    session.execute(clear)
    means = _section_means(session, assessment_ids)
    rows = [
        row
        for assessment_id in assessment_ids
        for row in _rows_for(assessment_id, means.get(assessment_id, []))
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(StoredScore), rows[start : start + 5000])
    session.flush()
    return len(rows)


def clear_scores(session: Session, assessment: Assessment) -> None:
    session.execute(delete(StoredScore).where(StoredScore.assessment_id == assessment.id))  # type: ignore[arg-type]
    session.flush()


def live_section_means(session: Session, assessment: Assessment) -> list[SectionMean]:
    """A draft's scores, worked out now (provisional)."""
    assert assessment.id is not None
    return _section_means(session, [assessment.id]).get(assessment.id, [])


__all__ = ["SectionMean", "clear_scores", "live_section_means", "store_scores", "store_scores_bulk"]
