"""The board's spread of ratings for the consensus discussion: counts, median, range, comments.

Nothing here may let the chair tell which member gave which rating: no names, no times, no
versions, and comments in a fixed order that has nothing to do with who wrote them or when.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, select

from api.assessments.models import Assessment, Rating
from api.scoring.maths import disagreement, spread

# Below this many members' ratings, only the number who have rated is shown.
MIN_RATERS_SHOWN = 3


@dataclass(frozen=True)
class CriterionSpreadData:
    rated: int
    shown: bool
    counts: dict[int, int] | None
    not_yet_known: int | None
    median: float | None
    low: int | None
    high: int | None
    disagreement: bool | None
    comments: list[str] | None


def board_spread(session: Session, assessment: Assessment) -> dict[int, CriterionSpreadData]:
    """Per criterion id: the anonymous spread of members' ratings (one query for the assessment)."""
    rows = session.exec(
        select(Rating.criterion_id, Rating.level, Rating.comment).where(Rating.assessment_id == assessment.id)
    ).all()
    levels: dict[int, list[int | None]] = defaultdict(list)
    comments: dict[int, list[str]] = defaultdict(list)
    for criterion_id, level, comment in rows:
        levels[criterion_id].append(level)
        if comment and comment.strip():
            comments[criterion_id].append(comment.strip())
    result: dict[int, CriterionSpreadData] = {}
    for criterion_id, answers in levels.items():
        rated = len(answers)
        if rated < MIN_RATERS_SHOWN:
            result[criterion_id] = CriterionSpreadData(rated, False, None, None, None, None, None, None, None)
            continue
        stats = spread(answers)
        counts = {level: sum(1 for a in answers if a == level) for level in range(5)}
        result[criterion_id] = CriterionSpreadData(
            rated=rated,
            shown=True,
            counts=counts,
            not_yet_known=sum(1 for a in answers if a is None),
            median=stats.median,
            low=stats.low,
            high=stats.high,
            disagreement=disagreement(answers),
            # Alphabetical: the order says nothing about who wrote what, or when.
            comments=sorted(comments[criterion_id], key=str.casefold),
        )
    return result


def empty_spread() -> CriterionSpreadData:
    return CriterionSpreadData(0, False, None, None, None, None, None, None, None)
