"""The board's spread of ratings for the consensus discussion: counts, median, range, comments.

Nothing here may let anyone, the chair included, tell which member gave which rating
(docs/anonymity.md, "Inside the board"):

- Only the members who were on the board, in a rating role, when the assessment opened make up the
  spread (`AssessmentRater`). Someone added later may rate, but is counted apart: how many, never
  what. A member who leaves later still counts, so removing someone never changes what is shown.
- Nothing is shown while members are rating: the spread appears once rating has closed (the chair
  closed it, the rating deadline passed, or the board signed off). Until then the chair and the
  secretary see progress only.
- A criterion's spread is shown to a viewer only when at least MIN_OTHER_RATERS members of the board
  at opening, other than the viewer, have rated it. Comments come with the spread, undated, in
  alphabetical order (which follows neither author nor time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from api.assessments.models import Assessment, AssessmentRater, MemberResponse, Rating
from api.db import utcnow
from api.frameworks.models import Criterion
from api.scoring.maths import disagreement, spread

# A spread is shown only when at least this many members, other than the person looking, rated.
MIN_OTHER_RATERS = 5
UK = ZoneInfo("Europe/London")


def uk_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(UK).date()


def rating_closed(assessment: Assessment, today: date | None = None) -> bool:
    """Members can no longer rate, and the spread may be shown: closed by the chair, signed off,
    or past the rating deadline (the deadline day itself is still open, in UK time)."""
    if assessment.rating_closed_at is not None or assessment.status == "submitted":
        return True
    deadline = assessment.rating_deadline
    return deadline is not None and (today or uk_today()) > deadline


def enough_others(raters: Iterable[int], viewer_id: int | None) -> bool:
    """At least MIN_OTHER_RATERS of these respondents are not the viewer."""
    return sum(1 for respondent in raters if respondent != viewer_id) >= MIN_OTHER_RATERS


@dataclass(frozen=True)
class CriterionSpreadData:
    # Members of the board at opening who have rated (progress: always shown).
    rated: int
    shown: bool
    counts: dict[int, int] | None
    not_yet_known: int | None
    median: float | None
    low: int | None
    high: int | None
    disagreement: bool | None
    comments: list[str] | None
    # Ratings by people who joined after the assessment opened: counted, never shown.
    late_rated: int = 0
    # Why the spread is not shown: "open" (rating has not closed), "too_few" (fewer than
    # MIN_OTHER_RATERS others rated) or "records" (a fact item: members do not rate it, the board
    # answers it once from its records); None when shown.
    hidden_because: str | None = None


@dataclass(frozen=True)
class BoardRatings:
    """Members' ratings of one assessment, split into the board at opening and later joiners."""

    closed: bool
    # criterion id -> [(respondent id, level, comment)], board at opening only
    by_criterion: dict[int, list[tuple[int, int | None, str]]]
    late_by_criterion: dict[int, int]


def board_at_opening(session: Session, assessment_id: int) -> set[int]:
    return set(
        session.exec(
            select(AssessmentRater.user_id).where(AssessmentRater.assessment_id == assessment_id)
        ).all()
    )


def board_ratings(
    session: Session, assessment: Assessment, today: date | None = None, *, criterion_id: int | None = None
) -> BoardRatings:
    """Every member's rating of the assessment (or of one criterion) in one query, split by whether
    the member was on the board when it opened."""
    roster = board_at_opening(session, assessment.id)  # type: ignore[arg-type]
    query = select(Rating.respondent_id, Rating.criterion_id, Rating.level, Rating.comment).where(
        Rating.assessment_id == assessment.id
    )
    if criterion_id is not None:
        query = query.where(Rating.criterion_id == criterion_id)
    rows = session.exec(query).all()
    by_criterion: dict[int, list[tuple[int, int | None, str]]] = defaultdict(list)
    late: dict[int, int] = defaultdict(int)
    for respondent_id, criterion_id, level, comment in rows:
        if respondent_id in roster:
            by_criterion[criterion_id].append((respondent_id, level, comment))
        else:
            late[criterion_id] += 1
    return BoardRatings(rating_closed(assessment, today), dict(by_criterion), dict(late))


def criterion_spread(ratings: BoardRatings, criterion_id: int, viewer_id: int | None) -> CriterionSpreadData:
    answers = ratings.by_criterion.get(criterion_id, [])
    late = ratings.late_by_criterion.get(criterion_id, 0)
    if not ratings.closed or not enough_others((r for r, _l, _c in answers), viewer_id):
        reason = "open" if not ratings.closed else "too_few"
        return CriterionSpreadData(
            len(answers), False, None, None, None, None, None, None, None, late, reason
        )
    levels = [level for _r, level, _c in answers]
    stats = spread(levels)
    return CriterionSpreadData(
        rated=len(answers),
        shown=True,
        counts={level: sum(1 for a in levels if a == level) for level in range(5)},
        not_yet_known=sum(1 for a in levels if a is None),
        median=stats.median,
        low=stats.low,
        high=stats.high,
        disagreement=disagreement(levels),
        # Alphabetical: the order says nothing about who wrote what, or when.
        comments=sorted((c.strip() for _r, _l, c in answers if c and c.strip()), key=str.casefold),
        late_rated=late,
    )


def board_spread(
    session: Session, assessment: Assessment, viewer_id: int | None
) -> dict[int, CriterionSpreadData]:
    """Per criterion id rated by anyone: the spread as `viewer_id` may see it."""
    ratings = board_ratings(session, assessment)
    criterion_ids = set(ratings.by_criterion) | set(ratings.late_by_criterion)
    return {
        criterion_id: criterion_spread(ratings, criterion_id, viewer_id) for criterion_id in criterion_ids
    }


# An agreed level this far or further from the members' median needs the board's reason written
# down (docs/scoring.md, "Agreeing the board's ratings").
FAR_FROM_MEDIAN = 1.5


def far_from_median(level: int | None, spread: CriterionSpreadData) -> bool:
    """The agreed level is 1.5 or more from the members' median, as the viewer may see it: where
    the spread is hidden from them, so is the median, and the rule cannot apply."""
    if level is None or not spread.shown or spread.median is None:
        return False
    return abs(level - spread.median) >= FAR_FROM_MEDIAN


def needs_rationale_text(median: float) -> str:
    return (
        "Write down why the board agreed this level: it is 1.5 or more levels from the members' "
        f"median ({median:g})"
    )


def empty_spread(closed: bool = False) -> CriterionSpreadData:
    return CriterionSpreadData(
        0, False, None, None, None, None, None, None, None, 0, "too_few" if closed else "open"
    )


# A fact item (framework version 2) has no members' spread: the board answers it from its records.
FROM_RECORDS = "records"
FROM_RECORDS_TEXT = "Answered for the board from records"


def records_spread() -> CriterionSpreadData:
    """A fact item's spread: nobody rates it, so there is nothing to show (never an empty chart)."""
    return CriterionSpreadData(0, False, None, None, None, None, None, None, None, 0, FROM_RECORDS)


def spread_of(
    spreads: dict[int, CriterionSpreadData], criterion: Criterion, closed: bool
) -> CriterionSpreadData:
    """One criterion's spread from board_spread's: a fact item's is records_spread()."""
    if not criterion.member_rated:
        return records_spread()
    return spreads.get(criterion.id or 0) or empty_spread(closed)


def spread_hidden_text(data: CriterionSpreadData) -> str:
    """Why a criterion's spread is not shown, in words for a page or an export."""
    late = (
        f" ({data.late_rated} rating{'s' if data.late_rated != 1 else ''} from people who joined after "
        "the assessment opened are counted apart)"
        if data.late_rated
        else ""
    )
    if data.hidden_because == FROM_RECORDS:
        return f"{FROM_RECORDS_TEXT}: members do not rate this statement"
    if data.hidden_because == "open":
        return f"Shown when rating closes. {data.rated} member{'s' if data.rated != 1 else ''} rated so far{late}"
    if data.rated == 0:
        return f"Nobody on the board when the assessment opened rated this{late}"
    return (
        f"Only the number who rated is shown: fewer than {MIN_OTHER_RATERS} members other than you rated "
        f"this ({data.rated} in all){late}"
    )


# The 2022 NHS Providers survey ("Race 2.0"), on the same 0–10 question: all respondents, chairs.
SURVEY_2022_MEAN = 5.6
SURVEY_2022_CHAIRS_MEAN = 6.2


@dataclass(frozen=True)
class BoardHeadline:
    """The board's own answer to the 0–10 headline question, under the spread's rules: nothing while
    members are answering, and only when MIN_OTHER_RATERS members other than the viewer answered."""

    # Members of the board at opening who answered (progress: always shown).
    answered: int
    shown: bool
    mean: float | None = None
    low: int | None = None
    high: int | None = None
    # How many answered each value 0–10, for the chart and its table.
    counts: dict[int, int] | None = None
    hidden_because: str | None = None

    @property
    def against_survey(self) -> float | None:
        """The board's mean less the 2022 survey's mean, to one decimal."""
        if self.mean is None:
            return None
        return round(self.mean - SURVEY_2022_MEAN, 1)


def board_headline(session: Session, assessment: Assessment, viewer_id: int | None) -> BoardHeadline:
    """The board's mean answer to the headline question, as `viewer_id` may see it."""
    roster = board_at_opening(session, assessment.id)  # type: ignore[arg-type]
    rows = session.exec(
        select(MemberResponse.respondent_id, MemberResponse.headline_score).where(
            MemberResponse.assessment_id == assessment.id,
            MemberResponse.headline_score.is_not(None),  # type: ignore[union-attr]
        )
    ).all()
    answers = [(respondent, score) for respondent, score in rows if respondent in roster]
    if not rating_closed(assessment):
        return BoardHeadline(len(answers), False, hidden_because="open")
    if not enough_others((r for r, _s in answers), viewer_id):
        return BoardHeadline(len(answers), False, hidden_because="too_few")
    scores = [int(s) for _r, s in answers]
    return BoardHeadline(
        answered=len(scores),
        shown=True,
        mean=round(sum(scores) / len(scores), 1),
        low=min(scores),
        high=max(scores),
        counts={value: scores.count(value) for value in range(11)},
    )
