"""What now? A board's year as one person sees it: status, days left, progress, their next step.

Progress is counts only (members finished, statements agreed). Names of members who have not
finished are for the chair and the board secretary; nobody sees what any member said. A position
against peers is read from the benchmark, under its suppression rules, and said in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, func, select

from api.accounts.principal import TrustMembership
from api.accounts.roles import CHAIR, MANAGER_ROLES, RATER_ROLES
from api.actions.models import Action
from api.assessments.cycles import is_open
from api.assessments.models import Assessment, ConsensusRating, Cycle
from api.assessments.repository import criteria_of
from api.assessments.service import board_progress, members_not_finished, my_progress
from api.assessments.spread import rating_closed, uk_today
from api.benchmarking.service import benchmark
from api.reminders.service import closing_day
from api.scoring.maths import band, one_decimal
from api.scoring.models import OVERALL_KEY, StoredScore

MANAGERS = MANAGER_ROLES
RATERS = RATER_ROLES
# The peer group a position is given against: NHS England's own broad types (acute, non-acute,
# ambulance), the comparison boards recognise.
POSITION_GROUP = "trust_type"
QUARTER_WORDS = {
    4: "in the highest quarter",
    3: "above the middle, though not in the highest quarter,",
    2: "below the middle, though not in the lowest quarter,",
    1: "in the lowest quarter",
}


@dataclass(frozen=True)
class NextStep:
    """The one primary button: a link to a page of the assessment, by its route's name (the view
    fills in `href`, the page's path), or (opening the year) a form posting the cycle's name."""

    text: str
    route: str = ""
    assessment_id: int | None = None
    opens_cycle: str | None = None
    href: str = ""


@dataclass(frozen=True)
class PastScore:
    cycle: str
    score: float
    band: str | None


@dataclass
class BoardYear:
    membership: TrustMembership
    cycle: Cycle | None
    assessment: Assessment | None
    status: str
    # Until the year's close date (UK days); None once it has passed.
    days_left: int | None = None
    rating_open: bool = False
    rating_closes: date | None = None
    members_finished: int = 0
    members_total: int = 0
    agreed: int = 0
    statements: int = 0
    # What this member rates: every statement, less the fact items (framework version 2).
    my_statements: int = 0
    my_answered: int = 0
    my_headline_answered: bool = False
    my_finished: bool = False
    # The chair and secretary only: who has not finished (never what anyone said).
    not_finished: list[str] = field(default_factory=list)
    next_step: NextStep | None = None
    # One line for the board chooser and beside the button: what is waiting, in plain words.
    summary: str = ""
    this_year: PastScore | None = None
    last_year: PastScore | None = None
    change: float | None = None
    position: str | None = None
    overdue: list[Action] = field(default_factory=list)
    overdue_count: int = 0

    @property
    def is_manager(self) -> bool:
        return self.membership.role in MANAGERS

    @property
    def is_rater(self) -> bool:
        return self.membership.role in RATERS


def _current_cycle(session: Session, today: date) -> Cycle | None:
    """The year open today, else the latest that has started."""
    cycles = session.exec(
        select(Cycle).where(col(Cycle.opens_on) <= today).order_by(col(Cycle.opens_on).desc())
    ).all()
    return next((c for c in cycles if is_open(c, today)), cycles[0] if cycles else None)


def _assessment_in(session: Session, organisation_id: int, cycle: Cycle) -> Assessment | None:
    return session.exec(
        select(Assessment).where(
            Assessment.organisation_id == organisation_id, Assessment.cycle_id == cycle.id
        )
    ).first()


def _overall(session: Session, assessment: Assessment | None, cycle_name: str) -> PastScore | None:
    """The stored overall score of a signed-off assessment (never a provisional one)."""
    if assessment is None or assessment.status != "submitted":
        return None
    score = session.exec(
        select(StoredScore.score).where(
            StoredScore.assessment_id == assessment.id, StoredScore.section_key == OVERALL_KEY
        )
    ).first()
    shown = one_decimal(score)
    return PastScore(cycle_name, shown, band(shown)) if shown is not None else None


def _previous(session: Session, organisation_id: int, cycle: Cycle) -> tuple[Cycle, Assessment] | None:
    row = session.exec(
        select(Cycle, Assessment)
        .join(Assessment, col(Assessment.cycle_id) == Cycle.id)
        .where(Assessment.organisation_id == organisation_id, col(Cycle.opens_on) < cycle.opens_on)
        .order_by(col(Cycle.opens_on).desc())
    ).first()
    return (row[0], row[1]) if row else None


def position_words(session: Session, assessment: Assessment, cycle_name: str, k: int) -> str | None:
    """Where the board's overall score sits among similar trusts, in words; None when the peer group
    is too small to show (the benchmark's own suppression) or the board has no score."""
    result = benchmark(session, assessment, POSITION_GROUP, k)
    if result.suppressed:
        return None
    overall = next((s for s in result.sections if s.key == OVERALL_KEY), None)
    if overall is None or overall.quartile is None:
        return None
    return (
        f"In {cycle_name}, your board's overall score was {QUARTER_WORDS[overall.quartile]} "
        f"of the {result.peer_count_band} {result.group_label[0].lower()}{result.group_label[1:]} "
        "that signed off."
    )


def _agreed(session: Session, assessment: Assessment, applicable: set[int]) -> int:
    return session.exec(
        select(func.count())
        .select_from(ConsensusRating)
        .where(
            ConsensusRating.assessment_id == assessment.id,
            col(ConsensusRating.level).is_not(None),
            col(ConsensusRating.criterion_id).in_(applicable or {-1}),
        )
    ).one()


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def board_year(
    session: Session, membership: TrustMembership, user_id: int, *, k: int, full: bool = True
) -> BoardYear:
    """The board's year for this person. `full=False` (the board chooser) leaves out the scores,
    the peer position and the action plan."""
    today = uk_today()
    cycle = _current_cycle(session, today)
    if cycle is None:
        return BoardYear(membership, None, None, status="No assessment year has opened yet")
    assessment = _assessment_in(session, membership.organisation_id, cycle)
    year_open = is_open(cycle, today)
    year = BoardYear(membership, cycle, assessment, status="")
    if year_open:
        year.days_left = (cycle.closes_on - today).days
    if assessment is None:
        _not_opened(year, year_open)
    else:
        _in_the_year(session, year, assessment, user_id, today, year_open)
    if full:
        _scores(session, year, k)
        _overdue(session, year, today)
    return year


def _not_opened(year: BoardYear, year_open: bool) -> None:
    assert year.cycle is not None
    name = year.cycle.name
    if not year_open:
        year.status = f"The {name} year has closed without an assessment"
        year.summary = f"Your board did not take part in {name}"
        return
    year.status = "Not opened yet"
    if year.is_manager:
        year.next_step = NextStep(f"Open the {name} assessment", opens_cycle=name)
        year.summary = f"The {name} assessment is ready for you to open"
    else:
        year.summary = f"Your chair has not opened the {name} assessment yet"


def _in_the_year(
    session: Session, year: BoardYear, assessment: Assessment, user_id: int, today: date, year_open: bool
) -> None:
    assert year.cycle is not None

    def step(text: str, route: str = "assessment_overview") -> NextStep:
        return NextStep(text, route, assessment.id)

    applicable = {criterion.id for _s, criterion in criteria_of(session, assessment)}
    year.statements = len(applicable)
    year.members_finished, year.members_total = board_progress(session, assessment)
    year.agreed = _agreed(session, assessment, applicable)  # type: ignore[arg-type]
    closed = rating_closed(assessment, today)
    year.rating_open = assessment.status == "in_progress" and not closed and year_open
    year.rating_closes = closing_day(assessment, year.cycle)
    if year.is_rater:
        mine = my_progress(session, assessment, user_id)
        year.my_statements, year.my_answered, year.my_headline_answered, year.my_finished = (
            mine.total,
            mine.answered,
            mine.headline_answered,
            mine.finished,
        )
    if year.is_manager and year.rating_open:
        year.not_finished = members_not_finished(session, assessment)

    if assessment.status == "submitted":
        year.status = (
            f"Signed off on {assessment.submitted_at:%-d %B %Y}" if assessment.submitted_at else "Signed off"
        )
        year.next_step = step("Read the results", "results")
        year.summary = "Signed off: the results are ready"
        return
    if not year_open:
        year.status = f"Not signed off before the {year.cycle.name} year closed"
        year.summary = year.status
        year.next_step = step("See the assessment")
        return
    if year.rating_open:
        year.status = "Members are rating"
        left = year.my_statements - year.my_answered
        if year.is_rater and not year.my_finished:
            if year.my_answered == 0 and not year.my_headline_answered:
                year.next_step = step("Rate the board")
                year.summary = f"{_plural(year.my_statements, 'statement', 'statements')} waiting for you"
            else:
                year.next_step = step("Continue rating")
                year.summary = (
                    f"{_plural(left, 'statement', 'statements')} left for you"
                    if left
                    else "The opening question is left for you"
                )
            return
        everyone = year.members_finished >= year.members_total
        if year.membership.role == CHAIR:
            if everyone:
                year.next_step = step("Close rating and agree the board's ratings", "close_rating_page")
                year.summary = "Everyone has finished rating: the board can agree its ratings"
            else:
                year.next_step = step("Remind members who have not finished", "reminders")
                year.summary = f"{year.members_finished} of {year.members_total} members have finished rating"
        elif year.is_manager:
            if not everyone:
                year.next_step = step("Remind members who have not finished", "reminders")
            year.summary = f"{year.members_finished} of {year.members_total} members have finished rating"
        else:
            year.summary = "You have finished rating. The board agrees its ratings once rating closes"
        return
    year.status = "The board is agreeing its ratings"
    year.summary = f"{year.agreed} of {year.statements} ratings agreed"
    if year.is_manager and year.agreed < year.statements:
        year.next_step = step("Agree the board's ratings", "consensus_overview")
    elif year.membership.role == CHAIR:
        year.next_step = step("Sign off the assessment", "submit_assessment_page")
        year.summary = "Every rating is agreed: ready to sign off"
    elif year.is_manager:
        year.summary = "Every rating is agreed: ready for the chair to sign off"


def _scores(session: Session, year: BoardYear, k: int) -> None:
    assert year.cycle is not None
    organisation_id = year.membership.organisation_id
    year.this_year = _overall(session, year.assessment, year.cycle.name)
    previous = _previous(session, organisation_id, year.cycle)
    if previous is not None:
        year.last_year = _overall(session, previous[1], previous[0].name)
    if year.this_year and year.last_year:
        year.change = one_decimal(year.this_year.score - year.last_year.score)
    latest = (
        (year.assessment, year.cycle.name)
        if year.this_year
        else ((previous[1], previous[0].name) if previous and year.last_year else None)
    )
    if latest is not None:
        year.position = position_words(session, latest[0], latest[1], k)  # type: ignore[arg-type]


def _overdue(session: Session, year: BoardYear, today: date) -> None:
    """Overdue actions of the board's current action plan (its latest assessment's)."""
    from api.actions.service import latest_assessment

    plan = latest_assessment(session, year.membership.organisation_id)
    if plan is None:
        return
    overdue = select(Action).where(
        Action.assessment_id == plan.id, Action.status != "done", col(Action.due_date) < today
    )
    year.overdue_count = session.exec(select(func.count()).select_from(overdue.subquery())).one()
    year.overdue = list(session.exec(overdue.order_by(col(Action.due_date), col(Action.id)).limit(3)).all())
