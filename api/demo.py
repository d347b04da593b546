"""A deterministic demo sector: every trust, three cycles of board ratings, five demo sign-ins."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from api.accounts.passwords import hash_password
from api.accounts.roles import (
    BOARD_MEMBER,
    BOARD_ROLE_CHAIR,
    BOARD_SECRETARY,
    CHAIR,
    PLATFORM_ADMIN,
    SECTOR_ANALYST,
)
from api.benchmarking.service import refresh_snapshots
from api.errors import InputError
from api.frameworks.lineage import carry_between
from api.frameworks.service import sync_frameworks
from api.models import (
    Assessment,
    AssessmentRater,
    ConsensusRating,
    Criterion,
    Cycle,
    Evidence,
    FrameworkRecord,
    FrameworkSection,
    MemberResponse,
    Membership,
    Organisation,
    Rating,
    User,
)
from api.organisations.service import (
    SHIPPED_CSV,
    import_organisations,
    parse_organisations_csv,
    read_csv_file,
)
from api.scoring.service import store_scores_bulk

# Long and not in the common-password list, so it passes password_problem like a real one.
DEMO_PASSWORD = "Board-race-equality-2026"

DEMO_CHAIR_EMAIL = "chair@demo.example.org"
DEMO_NED_EMAIL = "ned@demo.example.org"
DEMO_SECRETARY_EMAIL = "secretary@demo.example.org"
DEMO_ANALYST_EMAIL = "analyst@demo.example.org"
DEMO_ADMIN_EMAIL = "admin@demo.example.org"

# SQLite caps bound parameters per statement; chunks also keep memory flat on PostgreSQL.
_CHUNK = 10_000


@dataclass(frozen=True)
class DemoSignIn:
    email: str
    role: str
    can_see: str
    trust_name: str | None = None
    other_trust_name: str | None = None


@dataclass(frozen=True)
class DemoResult:
    password: str
    framework_key: str
    sign_ins: list[DemoSignIn]
    organisations: int
    users: int
    memberships: int
    cycles: int
    assessments: int
    submitted: int
    in_progress: int
    responses: int
    ratings: int
    consensus_ratings: int
    evidence: int
    actions: int = 0

    @property
    def summary(self) -> str:
        return (
            f"Loaded the demo sector: {self.organisations} trusts, {self.cycles} cycles, "
            f"{self.assessments} assessments ({self.submitted} submitted, {self.in_progress} in progress), "
            f"{self.users} people and {self.ratings:,} individual ratings; the demo chair's board has "
            f"{self.actions} actions over two years and a race equality risk in its assurance framework."
        )


@dataclass(frozen=True)
class _CyclePlan:
    name: str
    opens_on: date
    closes_on: date
    # Shares of trusts; the rest never opened an assessment that year.
    submitted: float
    in_progress: float


_CYCLES = (
    _CyclePlan("2024/25", date(2024, 4, 1), date(2025, 3, 31), 0.75, 0.0),
    _CyclePlan("2025/26", date(2025, 4, 1), date(2026, 3, 31), 0.85, 0.0),
    _CyclePlan("2026/27", date(2026, 4, 1), date(2027, 3, 31), 0.25, 0.60),
)

_FIRST_NAMES = (
    "Amara", "Olusegun", "Priya", "Rajesh", "Aisha", "Mohammed", "Fatima", "Hannah", "James",
    "Sarah", "David", "Emma", "Michael", "Claire", "Chidi", "Ngozi", "Kwame", "Abena", "Wei",
    "Mei", "Yusuf", "Imran", "Nadia", "Sanjay", "Anjali", "Gurpreet", "Harpreet", "Simran",
    "Kofi", "Tendai", "Farah", "Zainab", "Hamza", "Omar", "Leila", "Siobhan", "Niamh", "Ciaran",
    "Rhys", "Gareth", "Sian", "Fiona", "Alistair", "Eilidh", "Tomasz", "Agnieszka", "Elena",
    "Sofia", "Marcus", "Delroy", "Andrea", "Jennifer", "Paul", "Richard", "Helen", "Catherine",
    "Peter", "Ruth", "Joanne", "Mark", "Neil", "Lucy", "Oliver", "Charlotte", "Jamal", "Adaeze",
    "Thandiwe", "Jun", "Deepa", "Vikram", "Arjun", "Meera", "Bernadette", "Errol", "Yvonne",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Roberts", "Johnson", "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Patel", "Khan",
    "Ali", "Ahmed", "Hussain", "Begum", "Shah", "Singh", "Kaur", "Sharma", "Gill", "Okafor",
    "Adeyemi", "Mensah", "Owusu", "Boateng", "Okonkwo", "Nwosu", "Campbell", "Clarke", "Francis",
    "Grant", "Murray", "O'Brien", "Kelly", "Murphy", "Chen", "Wong", "Li", "Nowak", "Kowalski",
    "Da Silva", "Morgan", "Rahman", "Chowdhury", "Mahmood", "Osei", "Adebayo", "Bennett",
    "Fletcher", "Hall", "Green", "Edwards", "Lewis", "Mistry", "Desai", "Nair", "Iqbal",
)  # fmt: skip

# The 2022 survey found chairs kinder about their boards than other members.
_ROLE_LEVEL_BIAS = {BOARD_ROLE_CHAIR: 0.3, "chief_executive": 0.15, "executive": 0.1, "ned": 0.0}
_CHAIR_HEADLINE_BIAS = 0.6
# Chairs are about 1 in 11 raters: this puts the 2024/25 sector headline mean near the 5.6 of 2022.
_HEADLINE_BASE = 5.55
_BASE_MATURITY = 1.6

# Where Race 2.0 found boards further on (networks, education) or behind (data, patients, BAF).
_SECTION_TENDENCIES = (
    ("network", 0.45),
    ("educat", 0.3),
    ("safe", 0.1),
    ("divers", 0.05),
    ("data", -0.3),
    ("patient", -0.35),
    ("inequal", -0.35),
    ("whole-board", -0.15),
)
_BAF_TENDENCY = -0.55

_COMMENTS_LOW = (
    "Discussed at a board development session but nothing has come back to board since.",
    "I have not seen this in a board paper this year.",
    "Intent is there; no plan or owner yet.",
    "Relies on one or two people rather than a process.",
    "We talk about this in private but not in the public board meeting.",
    "Not sure the data exists at the level we would need.",
    "Delegated to the people committee and rarely reported back.",
)
_COMMENTS_MID = (
    "Started this year; too early to see impact.",
    "In place for staff but not yet for patients.",
    "Reported to the people committee, rarely discussed at full board.",
    "Plan agreed but actions keep slipping.",
    "Good intent, uneven follow-through across divisions.",
    "Network chairs say the route to board is still informal.",
    "Targets set, but we do not yet see the trend.",
)
_COMMENTS_HIGH = (
    "Reported quarterly with trends and targets; board challenge is minuted.",
    "The race equality network chair now attends board twice a year.",
    "Came up at every board meeting this year.",
    "Internal audit gave substantial assurance in the spring.",
    "Co-produced with the race equality network and shared with system partners.",
    "Embedded in appraisals for every board member.",
)
_COMMENTS_UNKNOWN = (
    "New to the board; I have not seen the evidence yet.",
    "I would need to see the latest WRES data before rating this.",
    "Not something that has come to my committees.",
)

_RATIONALES_LOW = (
    "We could find this in board papers only as a single item in {month}, so the level "
    "reflects intent rather than practice.",
    "Staff survey {survey_year} results by ethnicity were noted at board in {month} without "
    "actions; members agreed we are at an early stage.",
    "The {wres_year} WRES return went to board in {month} but no owner or targets were set. "
    "The executive lead will bring a plan next quarter.",
)
_RATIONALES_MID = (
    "The {wres_year} WRES return and action plan went to the people committee in {month}; the "
    "board agreed progress is real but not yet consistent.",
    "Staff survey {survey_year} results by ethnicity were discussed at board in {month}. "
    "Members differed on impact, so we settled on this level.",
    "Board minutes from {month} record the discussion; actions are agreed but several are behind schedule.",
    "The race equality network chair presented to board in {month}. The action log shows "
    "delivery but little measured impact yet.",
    "The ethnicity pay gap report came to board in {month}; targets are set but trend data "
    "covers only two years.",
)
_RATIONALES_HIGH = (
    "Quarterly race equality reports with targets and trends came to board, most recently in "
    "{month}; internal audit gave reasonable assurance.",
    "Evidence: the EDS 2022 review graded with the race equality network and the {wres_year} "
    "WRES return. Gaps remain in divisional ownership.",
    "Board minutes from {month} show sustained challenge, and staff survey {survey_year} "
    "results by ethnicity improved for the second year.",
    "The BAF race equality risk was reviewed at board in {month} with controls, assurances and "
    "gaps stated; we agreed the impact is now visible.",
)

# (title, path on the trust's intranet), formatted with the evidence date.
_EVIDENCE_LINKS = (
    ("Board meeting minutes, {month_name} {year}", "board/{year}-{mm}-minutes.pdf"),
    ("WRES {year} return and action plan", "edi/wres-{year}-action-plan.pdf"),
    ("NHS Staff Survey {prev_year}: results by ethnicity", "workforce/staff-survey-{prev_year}.pdf"),
    ("People committee paper, {month_name} {year}", "committees/people/{year}-{mm}-paper.pdf"),
    ("Board assurance framework, {month_name} {year}", "board/baf-{year}-{mm}.pdf"),
    ("Ethnicity pay gap report {year}", "edi/ethnicity-pay-gap-{year}.pdf"),
    ("EDS 2022 summary report {year}", "edi/eds-{year}-summary.pdf"),
    ("Race equality network report to board, {month_name} {year}", "networks/{year}-{mm}.pdf"),
    ("Freedom to Speak Up report, {month_name} {year}", "board/ftsu-{year}-{mm}.pdf"),
    ("Integrated performance report, {month_name} {year}", "board/ipr-{year}-{mm}.pdf"),
)


@dataclass
class _Member:
    user_index: int
    role: str
    board_role: str
    level_bias: float
    headline_bias: float
    is_demo: bool = False

    @property
    def rates(self) -> bool:
        return self.board_role != "secretary"


@dataclass
class _Trust:
    organisation_id: int
    ods_code: str
    name: str
    trust_type: str
    maturity: list[float]
    # By section key, the same in every framework version.
    section_offsets: dict[str, float]
    headline_offset: float
    statuses: list[str | None]
    neds: int
    executives: int
    members: list[_Member] = field(default_factory=list)

    @property
    def chair(self) -> _Member:
        return self.members[0]

    @property
    def secretary(self) -> _Member:
        return self.members[-1]


@dataclass
class _AssessmentPlan:
    trust: _Trust
    cycle_index: int
    status: str
    opened_at: datetime
    # Submission time, or the demo's "now" for an assessment still in progress.
    ends_at: datetime


def seed_demo(
    session: Session,
    *,
    seed: int = 2026,
    frameworks_dir: Path,
    k_anonymity: int,
    today: date = date(2026, 11, 23),
) -> DemoResult:
    """Fill an empty, migrated database with a demo sector; flushes, the caller commits."""
    _refuse_non_empty(session)
    open_cycle = _CYCLES[-1]
    if not open_cycle.opens_on + timedelta(days=60) <= today <= open_cycle.closes_on:
        raise InputError(f"today must fall in the {open_cycle.name} cycle, at least 60 days after it opens")
    rng = Random(seed)
    # Everything dated is placed before this, so the open cycle never shows future activity.
    now = datetime.combine(today, time(0), UTC) - timedelta(hours=2)

    frameworks = _cycle_frameworks(session, frameworks_dir)
    rows = {f.id: _framework_rows(session, f) for f in frameworks}
    all_sections = [s for sections, _ in rows.values() for s in sections]

    import_organisations(session, parse_organisations_csv(read_csv_file(SHIPPED_CSV)))
    session.exec(
        update(Organisation).values(
            created_at=datetime.combine(_CYCLES[0].opens_on - timedelta(days=60), time(9), UTC)
        )
    )
    organisations = session.exec(select(Organisation).order_by(Organisation.ods_code)).all()

    cycle_ids = _insert_cycles(session, frameworks)
    # Keyed by section and criterion key, so a board's profile carries across framework versions.
    section_tendency = {key: _section_tendency(s, rng) for key, s in _by_key(all_sections).items()}
    criterion_offset = _criterion_offsets(session, rng, frameworks, rows)
    trusts = [_plan_trust(rng, o, section_tendency) for o in organisations]
    chair_trust, ned_trust = _choose_demo_trusts(rng, trusts)

    users = _plan_people(rng, trusts, chair_trust, ned_trust)
    user_ids = _insert_users(session, users)
    memberships = _insert_memberships(session, trusts, users, user_ids)

    plans = _plan_assessments(rng, trusts, now)
    assessment_ids = _insert_assessments(session, plans, cycle_ids, frameworks, users, user_ids)
    writer = _Writer(session)
    consensus_evidence: list[tuple[int, int, list[dict[str, Any]]]] = []
    for plan in plans:
        _write_assessment(
            rng,
            writer,
            plan,
            assessment_ids[(plan.trust.organisation_id, plan.cycle_index)],
            *rows[frameworks[plan.cycle_index].id],
            criterion_offset,
            [user_ids[u["email"]] for u in users],
            consensus_evidence,
            demo=(plan.trust is chair_trust, plan.trust is ned_trust),
        )
    writer.flush()
    evidence = _insert_evidence(session, consensus_evidence)
    _store_scores_and_snapshots(session, assessment_ids, plans, cycle_ids, today, k_anonymity)
    session.flush()
    titles = {section.key: section.title for section in rows[frameworks[-1].id][0]}
    actions = _seed_action_plan(session, chair_trust, assessment_ids, titles, today)
    _seed_indicators(session, chair_trust, assessment_ids, today)

    sign_ins = _sign_ins(chair_trust.name, ned_trust.name if ned_trust is not None else None)
    return DemoResult(
        password=DEMO_PASSWORD,
        framework_key=frameworks[-1].key,
        sign_ins=sign_ins,
        organisations=len(organisations),
        users=len(users),
        memberships=memberships,
        cycles=len(cycle_ids),
        assessments=len(plans),
        submitted=sum(p.status == "submitted" for p in plans),
        in_progress=sum(p.status == "in_progress" for p in plans),
        responses=writer.counts[MemberResponse],
        ratings=writer.counts[Rating],
        consensus_ratings=writer.counts[ConsensusRating],
        evidence=evidence,
        actions=actions,
    )


def _store_scores_and_snapshots(
    session: Session,
    assessment_ids: dict[tuple[int, int], int],
    plans: list[_AssessmentPlan],
    cycle_ids: list[int],
    today: date,
    k: int,
) -> None:
    """As sign-off would have: stored scores for each submission, then the peer snapshots."""
    submitted = [
        assessment_ids[(plan.trust.organisation_id, plan.cycle_index)]
        for plan in plans
        if plan.status == "submitted"
    ]
    store_scores_bulk(session, submitted)
    for cycle_id in cycle_ids:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        refresh_snapshots(session, cycle, k, today=today)


def _seed_action_plan(
    session: Session,
    trust: _Trust,
    assessment_ids: dict[tuple[int, int], int],
    titles: dict[str, str],
    today: date,
) -> int:
    """The demo chair's board: last year's action plan (two actions done, two carried into this
    year's assessment, as opening it does), one new action this year, and a race equality risk in
    the board assurance framework whose gaps link to them. Written through the real services, so
    the audit log, carry-forward links and checks are what a board's own would be."""
    from api.actions.schemas import ActionCreate
    from api.actions.service import add_note, carry_forward_actions, create_action
    from api.baf.schemas import Assurance, BafRiskUpdate, Gap
    from api.baf.service import save_baf_risk
    from api.scoring.models import StoredScore

    chair = session.exec(select(User).where(User.email == DEMO_CHAIR_EMAIL)).one()
    organisation = session.get(Organisation, trust.organisation_id)
    previous = session.get(Assessment, assessment_ids[(trust.organisation_id, len(_CYCLES) - 2)])
    current = session.get(Assessment, assessment_ids[(trust.organisation_id, len(_CYCLES) - 1)])
    assert organisation is not None and previous is not None and current is not None
    # Last year's weakest priorities (lowest stored score first), where its actions went.
    weakest = [
        key
        for key in session.exec(
            select(StoredScore.section_key)
            .where(StoredScore.assessment_id == previous.id, StoredScore.kind == "priority")
            .order_by(StoredScore.score, StoredScore.section_key)  # type: ignore[arg-type]
        ).all()
        if key in titles
    ]
    first, second, third = (weakest + list(titles))[:3]
    last_year = _CYCLES[-2].closes_on - timedelta(days=120)

    def add(
        assessment: Assessment, on: date, months: int, status: str, section: str | None, *text: str
    ) -> Any:
        title, description, owner = text
        fields = ActionCreate(
            title=title,
            description=description,
            owner=owner,
            due_date=on + timedelta(days=30 * months),
            status=status,  # type: ignore[arg-type]
            section=section,
        )
        return create_action(session, chair, assessment, fields, today=on)

    add(
        previous,
        last_year,
        2,
        "done",
        first,
        "Set a board race equality objective with measures reviewed every quarter",
        f"Agreed at the board development session, starting with {titles[first].lower()}.",
        "Chair",
    )
    add(
        previous,
        last_year,
        3,
        "done",
        second,
        "Publish the WRES, WDES and ethnicity pay gap figures with the board's response",
        "The board's response says what it will do, by when, and who is accountable.",
        "Director of People",
    )
    mentoring = add(
        previous,
        last_year,
        6,
        "in_progress",
        third,
        "Reverse mentoring for every board member",
        "Each board member paired with a colleague from an ethnic minority background for a year.",
        "Chief Executive",
    )
    add_note(
        session,
        chair,
        mentoring,
        "Seven of eleven board members paired; the rest by the end of the year.",
        last_year + timedelta(days=45),
        today=last_year + timedelta(days=60),
    )
    add(
        previous,
        last_year,
        4,
        "not_started",
        "baf" if "baf" in titles else None,
        "Record race equality as a risk in the board assurance framework",
        "With its controls, assurances and the gaps in them, reviewed by the audit committee.",
        "Company Secretary",
    )
    carried = carry_forward_actions(session, previous, current)
    new = add(
        current,
        today,
        3,
        "not_started",
        first,
        "Hear from staff networks at every public board meeting",
        "A standing item: the chairs of the race equality and other staff networks speak to the board.",
        "Chair",
    )
    baf_action = next(a for a in carried if "assurance framework" in a.title)
    content = BafRiskUpdate(
        version=0,
        description=(
            "If the board does not lead sustained action on race equality, then staff from ethnic "
            "minority backgrounds will continue to face discrimination and worse experiences at work, "
            "resulting in poorer patient care, lost talent, and regulatory and reputational harm."
        ),
        strategic_objective="Our people: a workplace where everyone is treated fairly and can thrive",
        lead="Director of People",
        inherent_likelihood=4,
        inherent_consequence=4,
        residual_likelihood=3,
        residual_consequence=4,
        target_likelihood=2,
        target_consequence=3,
        appetite_level="cautious",
        appetite_low=4,
        appetite_high=6,
        appetite_rationale=(
            "Above appetite while the gap in progression to senior bands persists; the talent programme "
            "and the board's objectives should bring it to target within the year."
        ),
        target_date=today + timedelta(days=365),
        lead_committee="People Committee",
        assurance_level="limited",
        controls=[
            "Board race equality objective with quarterly measures",
            "Reverse mentoring for board members",
            "Race equality in every executive director's objectives",
        ],
        assurances=[
            Assurance(line=1, source="Quarterly WRES dashboard to the People Committee"),
            Assurance(line=2, source="Freedom to Speak Up Guardian's report on race-related concerns"),
            Assurance(line=3, source="Internal audit of recruitment and disciplinary processes"),
            Assurance(line=3, source="NHS Staff Survey results by ethnicity"),
        ],
        gaps=[
            Gap(
                kind="control",
                text="The risk is not yet reviewed by the audit committee",
                action_ids=[baf_action.id],
            ),
            Gap(
                kind="assurance",
                text="Little direct assurance from staff with lived experience",
                action_ids=[new.id],
            ),
        ],
    )
    save_baf_risk(session, chair, organisation, content, today=today)
    session.flush()
    _date_demo_history(session, previous, last_year, today)
    return 5 + len(carried)


def _seed_indicators(
    session: Session, trust: _Trust, assessment_ids: dict[tuple[int, int], int], today: date
) -> None:
    """The demo chair's board's WRES figures and high impact action progress for this year, some
    left unrecorded (as boards often have them), through the real service (docs/indicators.md)."""
    from api.indicators.models import BoardIndicators
    from api.indicators.schemas import IndicatorsUpdate
    from api.indicators.service import save_indicators

    chair = session.exec(select(User).where(User.email == DEMO_CHAIR_EMAIL)).one()
    current = session.get(Assessment, assessment_ids[(trust.organisation_id, len(_CYCLES) - 1)])
    assert current is not None
    figures = IndicatorsUpdate.model_validate(
        {
            "version": 0,
            "wres_1_bme_workforce": 23.8,
            "wres_1_bme_senior": 11.2,
            "wres_2": 1.58,
            "wres_3": 1.31,
            "wres_4": 1.04,
            "wres_5_white": 27.6,
            "wres_5_bme": 31.9,
            "wres_6_white": 21.4,
            "wres_6_bme": 28.7,
            "wres_7_white": 58.3,
            "wres_7_bme": 44.1,
            "wres_9": -9.6,
            "hia_1_status": "achieved",
            "hia_1_note": "Every board member has an EDI objective, reviewed at appraisal",
            "hia_2_status": "in_progress",
            "hia_3_status": "in_progress",
            "hia_6_status": "not_started",
        }
    )
    save_indicators(session, chair, current, figures)
    # Dated by the demo, not the clock, so two loads with one seed are the same (_date_demo_history).
    when = datetime.combine(today, time(0), UTC) - timedelta(hours=3)
    session.exec(update(BoardIndicators).values(created_at=when, updated_at=when))


def _date_demo_history(session: Session, previous: Assessment, last_year: date, today: date) -> None:
    """The services stamp what they write with the clock; the demo dates it instead, so last year's
    actions read as last year's and two loads with one seed are the same. (Not the audit log: it
    is append-only, and truly records when the demo was loaded.)"""
    from api.actions.models import Action, ActionNote
    from api.baf.models import BafRisk

    then = datetime.combine(last_year, time(10), UTC)
    now = datetime.combine(today, time(0), UTC) - timedelta(hours=3)
    old = list(session.exec(select(Action.id).where(Action.assessment_id == previous.id)).all())
    session.exec(update(Action).where(Action.id.in_(old)).values(created_at=then, updated_at=then))  # type: ignore[union-attr]
    session.exec(update(Action).where(Action.id.not_in(old)).values(created_at=now, updated_at=now))  # type: ignore[union-attr]
    session.exec(update(ActionNote).values(created_at=then + timedelta(days=60)))
    session.exec(update(BafRisk).values(created_at=now, updated_at=now))


def _sign_ins(chair_trust: str, ned_other_trust: str | None) -> list[DemoSignIn]:
    return [
        DemoSignIn(
            DEMO_CHAIR_EMAIL,
            CHAIR,
            "Chair of the board: 2024/25 and 2025/26 submitted, 2026/27 in progress; "
            "rates, agrees consensus, submits",
            chair_trust,
        ),
        DemoSignIn(
            DEMO_NED_EMAIL,
            BOARD_MEMBER,
            "Non-executive director on two boards (trust switcher); rates, and sees the board's spread once rating closes",
            chair_trust,
            ned_other_trust,
        ),
        DemoSignIn(
            DEMO_SECRETARY_EMAIL,
            BOARD_SECRETARY,
            "Board secretary: runs the assessment and adds evidence, does not rate",
            chair_trust,
        ),
        DemoSignIn(
            DEMO_ANALYST_EMAIL,
            SECTOR_ANALYST,
            "Sector analyst: anonymised sector and peer-group figures, no trust's own answers",
        ),
        DemoSignIn(
            DEMO_ADMIN_EMAIL,
            PLATFORM_ADMIN,
            "Platform admin: users, trusts, frameworks and the audit log",
        ),
    ]


def demo_sign_ins(session: Session) -> list[DemoSignIn]:
    """The demo sign-ins of a database the demo was loaded into; empty for any other database."""

    def boards_of(email: str) -> list[str]:
        return list(
            session.exec(
                select(Organisation.name)
                .join(Membership, Membership.organisation_id == Organisation.id)
                .join(User, User.id == Membership.user_id)
                .where(User.email == email)
            ).all()
        )

    chair_trust = next(iter(boards_of(DEMO_CHAIR_EMAIL)), None)
    if chair_trust is None:
        return []
    ned_trusts = boards_of(DEMO_NED_EMAIL)
    other = next((name for name in ned_trusts if name != chair_trust), None)
    return _sign_ins(chair_trust, other)


def _bulk_insert(session: Session, table: type, rows: list[dict[str, Any]]) -> None:
    # render_nulls keeps rows with and without a None in one batch; otherwise the ORM splits
    # the executemany wherever a nullable column changes between None and a value.
    statement = insert(table).execution_options(render_nulls=True)
    for start in range(0, len(rows), _CHUNK):
        session.exec(statement, params=rows[start : start + _CHUNK])


def _refuse_non_empty(session: Session) -> None:
    organisations = session.exec(select(func.count()).select_from(Organisation)).one()
    users = session.exec(select(func.count()).select_from(User)).one()
    if organisations or users:
        raise InputError("the database already has organisations: seed-demo only fills an empty database")


# The framework each demo cycle used: the two closed years on version 1, the open year on version 2,
# as a real sector moves (a framework version is fixed for a cycle once it opens).
DEMO_FRAMEWORK_KEYS = ("race-equality-board-v1", "race-equality-board-v1", "race-equality-board-v2")


def _cycle_frameworks(session: Session, frameworks_dir: Path) -> list[FrameworkRecord]:
    """One framework per demo cycle; a key that is not loaded falls back to the latest version."""
    frameworks = sync_frameworks(session, frameworks_dir)
    if not frameworks:
        raise InputError(f"{frameworks_dir}: no framework files (*.yaml) to seed the demo with")
    by_key = {f.key: f for f in frameworks}
    latest = max(frameworks, key=lambda f: (f.version, f.id or 0))
    return [by_key.get(key, latest) for key in DEMO_FRAMEWORK_KEYS]


def _by_key(sections: Sequence[FrameworkSection]) -> dict[str, FrameworkSection]:
    """The first section with each key (a later version keeps its keys)."""
    found: dict[str, FrameworkSection] = {}
    for section in sections:
        found.setdefault(section.key, section)
    return found


def _criterion_offsets(
    session: Session, rng: Random, frameworks: Sequence[FrameworkRecord], rows: dict[int | None, Any]
) -> dict[int | None, float]:
    """How much easier or harder each statement is than its priority. A later version's statement
    that continues earlier ones (`replaces`) keeps their offset, so a board's trend carries across."""
    first = frameworks[0]
    base = {c.key: rng.gauss(0, 0.15) for c in rows[first.id][1]}
    offsets: dict[int | None, float] = {}
    for framework in {f.id: f for f in frameworks}.values():
        carried = base if framework.id == first.id else carry_between(session, framework, first, base)
        for criterion in rows[framework.id][1]:
            offsets[criterion.id] = carried[criterion.key] if criterion.key in carried else rng.gauss(0, 0.15)
    return offsets


def _framework_rows(
    session: Session, framework: FrameworkRecord
) -> tuple[list[FrameworkSection], list[Criterion]]:
    sections = list(
        session.exec(
            select(FrameworkSection)
            .where(FrameworkSection.framework_id == framework.id)
            .order_by(FrameworkSection.number, FrameworkSection.id)
        ).all()
    )
    order = {s.id: i for i, s in enumerate(sections)}
    criteria = sorted(
        session.exec(select(Criterion).where(Criterion.framework_id == framework.id)).all(),
        key=lambda c: (order[c.section_id], c.position),
    )
    return sections, criteria


def _insert_cycles(session: Session, frameworks: Sequence[FrameworkRecord]) -> list[int]:
    cycles = [
        Cycle(
            name=plan.name,
            opens_on=plan.opens_on,
            closes_on=plan.closes_on,
            framework_id=framework.id,
            created_at=datetime.combine(plan.opens_on - timedelta(days=21), time(10), UTC),
        )
        for plan, framework in zip(_CYCLES, frameworks, strict=True)
    ]
    session.add_all(cycles)
    session.flush()
    return [c.id for c in cycles if c.id is not None]


def _section_tendency(section: FrameworkSection, rng: Random) -> float:
    if section.kind == "baf":
        return _BAF_TENDENCY
    for fragment, tendency in _SECTION_TENDENCIES:
        if fragment in section.key:
            return tendency
    # A framework with sections we do not know still gets uneven, believable profiles.
    return rng.gauss(0, 0.2)


def _plan_trust(rng: Random, organisation: Organisation, section_tendency: dict[str, float]) -> _Trust:
    maturity = [min(3.2, max(0.3, rng.gauss(_BASE_MATURITY, 0.5)))]
    for _ in _CYCLES[1:]:
        # Most boards improve a little each year; some stall or slip back.
        step = rng.uniform(0.1, 0.4) if rng.random() < 0.8 else rng.uniform(-0.15, 0.05)
        maturity.append(maturity[-1] + step)
    section_offsets = {key: tendency + rng.gauss(0, 0.25) for key, tendency in section_tendency.items()}
    statuses: list[str | None] = []
    for plan in _CYCLES:
        draw = rng.random()
        if draw < plan.submitted:
            statuses.append("submitted")
        elif draw < plan.submitted + plan.in_progress:
            statuses.append("in_progress")
        else:
            statuses.append(None)
    assert organisation.id is not None
    return _Trust(
        organisation_id=organisation.id,
        ods_code=organisation.ods_code,
        name=organisation.name,
        trust_type=organisation.trust_type,
        maturity=maturity,
        section_offsets=section_offsets,
        headline_offset=rng.gauss(0, 0.5),
        statuses=statuses,
        neds=rng.randint(4, 7),
        executives=rng.randint(2, 5),
    )


def _choose_demo_trusts(rng: Random, trusts: list[_Trust]) -> tuple[_Trust, _Trust | None]:
    """An acute trust with two submitted years and one in progress; a second board for the NED."""
    wanted = ["submitted", "submitted", "in_progress"]
    candidates = [t for t in trusts if t.trust_type == "acute" and t.statuses == wanted]
    if candidates:
        chair_trust = rng.choice(candidates)
    else:
        # A smaller trust list than the shipped one: make the story true for the first acute trust.
        chair_trust = next((t for t in trusts if t.trust_type == "acute"), trusts[0])
        chair_trust.statuses = list(wanted)
    others = [t for t in trusts if t is not chair_trust and t.statuses[-1] == "in_progress"]
    # A mental health board shows the NED a different questionnaire (PCREF) on the switch.
    mental_health = [t for t in others if t.trust_type.startswith("mental_health")]
    pool = mental_health or others or [t for t in trusts if t is not chair_trust]
    return chair_trust, (rng.choice(pool) if pool else None)


def _email_part(text: str) -> str:
    return re.sub(r"[^a-z-]", "", text.lower())


def _plan_people(
    rng: Random, trusts: list[_Trust], chair_trust: _Trust, ned_trust: _Trust | None
) -> list[dict[str, Any]]:
    """Users in insertion order (demo sign-ins first), and each trust's members."""
    # One hash for all five: argon2 is deliberately slow.
    demo_hash = hash_password(DEMO_PASSWORD)
    joined = datetime.combine(_CYCLES[0].opens_on - timedelta(days=45), time(9), UTC)
    users: list[dict[str, Any]] = []

    def add_user(email: str, name: str, platform_role: str | None, password_hash: str | None) -> int:
        users.append(
            {
                "email": email,
                "name": name,
                "password_hash": password_hash,
                "platform_role": platform_role,
                "is_active": True,
                "created_at": joined + timedelta(minutes=len(users)),
            }
        )
        return len(users) - 1

    demo_chair = add_user(DEMO_CHAIR_EMAIL, "Grace Adeyemi", None, demo_hash)
    demo_ned = add_user(DEMO_NED_EMAIL, "Tom Harrison", None, demo_hash)
    demo_secretary = add_user(DEMO_SECRETARY_EMAIL, "Priya Raman", None, demo_hash)
    add_user(DEMO_ANALYST_EMAIL, "Sam Okafor", SECTOR_ANALYST, demo_hash)
    add_user(DEMO_ADMIN_EMAIL, "Alex Morgan", PLATFORM_ADMIN, demo_hash)

    for trust in trusts:
        taken: set[str] = set()
        slots = (
            [(CHAIR, BOARD_ROLE_CHAIR), (BOARD_MEMBER, "chief_executive")]
            + [(BOARD_MEMBER, "ned")] * trust.neds
            + [(BOARD_MEMBER, "executive")] * trust.executives
            + [(BOARD_SECRETARY, "secretary")]
        )
        ned_seen = 0
        for role, board_role in slots:
            user_index: int | None = None
            if trust is chair_trust and board_role == BOARD_ROLE_CHAIR:
                user_index = demo_chair
            elif trust is chair_trust and board_role == "secretary":
                user_index = demo_secretary
            elif board_role == "ned" and ned_seen == 0 and trust in (chair_trust, ned_trust):
                user_index = demo_ned
            if board_role == "ned":
                ned_seen += 1
            if user_index is None:
                first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
                local = f"{_email_part(first)}.{_email_part(last)}"
                candidate, n = local, 1
                while candidate in taken:
                    n += 1
                    candidate = f"{local}{n}"
                taken.add(candidate)
                email = f"{candidate}@{trust.ods_code.lower()}.example.org"
                user_index = add_user(email, f"{first} {last}", None, None)
            trust.members.append(
                _Member(
                    user_index=user_index,
                    role=role,
                    board_role=board_role,
                    level_bias=rng.gauss(0, 0.25) + _ROLE_LEVEL_BIAS.get(board_role, 0.0),
                    headline_bias=rng.gauss(0, 1.0)
                    + (_CHAIR_HEADLINE_BIAS if board_role == BOARD_ROLE_CHAIR else 0.0),
                    is_demo=user_index in (demo_chair, demo_ned, demo_secretary),
                )
            )
    return users


def _insert_users(session: Session, users: list[dict[str, Any]]) -> dict[str, int]:
    _bulk_insert(session, User, users)
    return {email: user_id for email, user_id in session.exec(select(User.email, User.id)).all()}


def _insert_memberships(
    session: Session, trusts: list[_Trust], users: list[dict[str, Any]], user_ids: dict[str, int]
) -> int:
    rows = [
        {
            "user_id": user_ids[users[m.user_index]["email"]],
            "organisation_id": trust.organisation_id,
            "role": m.role,
            "board_role": m.board_role,
            "created_at": users[m.user_index]["created_at"],
        }
        for trust in trusts
        for m in trust.members
    ]
    _bulk_insert(session, Membership, rows)
    return len(rows)


def _between(rng: Random, start: datetime, end: datetime) -> datetime:
    """A whole-second time in [start, end], so both databases store exactly the same value.

    Board work happens between 07:30 and 21:30; only the ends of a short window fall outside.
    """
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    if end <= start:
        return start
    day = start.date() + timedelta(days=rng.randint(0, (end.date() - start.date()).days))
    moment = datetime.combine(day, time(7, 30), UTC) + timedelta(seconds=rng.randint(0, 50_400))
    return min(max(moment, start), end)


def _plan_assessments(rng: Random, trusts: list[_Trust], now: datetime) -> list[_AssessmentPlan]:
    plans: list[_AssessmentPlan] = []
    for cycle_index, cycle in enumerate(_CYCLES):
        opens = datetime.combine(cycle.opens_on, time(9), UTC)
        ends = min(now, datetime.combine(cycle.closes_on, time(17), UTC))
        for trust in trusts:
            status = trust.statuses[cycle_index]
            if status is None:
                continue
            if status == "in_progress":
                opened = _between(rng, opens + timedelta(days=5), ends - timedelta(days=21))
                plans.append(_AssessmentPlan(trust, cycle_index, status, opened, ends))
                continue
            opened = _between(rng, opens + timedelta(days=5), opens + (ends - opens) * 0.35)
            submitted = _between(rng, opened + (ends - opened) * 0.4, ends - timedelta(days=1))
            plans.append(_AssessmentPlan(trust, cycle_index, status, opened, submitted))
    return plans


def _insert_assessments(
    session: Session,
    plans: list[_AssessmentPlan],
    cycle_ids: list[int],
    frameworks: Sequence[FrameworkRecord],
    users: list[dict[str, Any]],
    user_ids: dict[str, int],
) -> dict[tuple[int, int], int]:
    rows = []
    for plan in plans:
        chair_id = user_ids[users[plan.trust.chair.user_index]["email"]]
        submitted = plan.status == "submitted"
        # Signed-off boards closed rating when members had rated (see _write_assessment), then
        # agreed their ratings; boards still in progress are rating.
        rating_closed_at = _rating_ends(plan).replace(microsecond=0) if submitted else None
        rows.append(
            {
                "organisation_id": plan.trust.organisation_id,
                "cycle_id": cycle_ids[plan.cycle_index],
                "framework_id": frameworks[plan.cycle_index].id,
                "status": plan.status,
                "opened_by_id": chair_id,
                "opened_at": plan.opened_at,
                "submitted_by_id": chair_id if submitted else None,
                "submitted_at": plan.ends_at if submitted else None,
                "rating_deadline": None,
                "rating_closed_at": rating_closed_at,
                "rating_closed_by_id": chair_id if submitted else None,
                "version": 1,
            }
        )
    _bulk_insert(session, Assessment, rows)
    cycle_index_of = {cycle_id: i for i, cycle_id in enumerate(cycle_ids)}
    ids = {
        (organisation_id, cycle_index_of[cycle_id]): assessment_id
        for assessment_id, organisation_id, cycle_id in session.exec(
            select(Assessment.id, Assessment.organisation_id, Assessment.cycle_id)
        ).all()
        if assessment_id is not None
    }
    # The board when each assessment opened: everyone who rates (the demo's boards do not change).
    _bulk_insert(
        session,
        AssessmentRater,
        [
            {
                "assessment_id": ids[(plan.trust.organisation_id, plan.cycle_index)],
                "user_id": user_ids[users[member.user_index]["email"]],
            }
            for plan in plans
            for member in plan.trust.members
            if member.rates
        ],
    )
    return ids


def _rating_ends(plan: _AssessmentPlan) -> datetime:
    """Members rate first; the board agrees its consensus afterwards."""
    return plan.opened_at + (plan.ends_at - plan.opened_at) * 0.7


class _Writer:
    """Buffers rows per table and writes them in chunks with executemany."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.buffers: dict[type, list[dict[str, Any]]] = {
            MemberResponse: [],
            Rating: [],
            ConsensusRating: [],
        }
        self.counts: dict[type, int] = dict.fromkeys(self.buffers, 0)

    def add(self, table: type, row: dict[str, Any]) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= _CHUNK:
            self._write(table)

    def flush(self) -> None:
        for table in self.buffers:
            self._write(table)

    def _write(self, table: type) -> None:
        buffer = self.buffers[table]
        if buffer:
            _bulk_insert(self.session, table, buffer)
            self.counts[table] += len(buffer)
            self.buffers[table] = []


def _level(value: float) -> int:
    return min(4, max(0, math.floor(value + 0.5)))


def _comment(rng: Random, level: int | None) -> str:
    if level is None:
        return rng.choice(_COMMENTS_UNKNOWN)
    if level <= 1:
        return rng.choice(_COMMENTS_LOW)
    if level == 2:
        return rng.choice(_COMMENTS_MID)
    return rng.choice(_COMMENTS_HIGH)


def _write_assessment(
    rng: Random,
    writer: _Writer,
    plan: _AssessmentPlan,
    assessment_id: int,
    sections: Sequence[FrameworkSection],
    criteria: Sequence[Criterion],
    criterion_offset: dict[int | None, float],
    user_id_of: list[int],
    consensus_evidence: list[tuple[int, int, list[dict[str, Any]]]],
    *,
    demo: tuple[bool, bool],
) -> None:
    trust = plan.trust
    is_chair_trust, is_ned_trust = demo
    applicable = [c for c in criteria if not c.applies_to or trust.trust_type in c.applies_to]
    section_key = {s.id: s.key for s in sections}
    section_order = [s.id for s in sections if any(c.section_id == s.id for c in applicable)]
    maturity = trust.maturity[plan.cycle_index]
    submitted = plan.status == "submitted"
    rating_ends = _rating_ends(plan)
    # Members rate what they can judge; fact items (framework version 2) are answered once for the
    # board from its records by the chair or secretary, below.
    rated = [c for c in applicable if c.kind != "fact"]
    facts = [c for c in applicable if c.kind == "fact"]
    levels: dict[int | None, list[int]] = {c.id: [] for c in rated}

    for member in trust.members:
        if not member.rates:
            continue
        respondent_id = user_id_of[member.user_index]
        if submitted:
            done = len(rated)
        else:
            draw = rng.random()
            if draw < 0.35:
                done = len(rated)
            elif draw < 0.75:
                done = rng.randint(1, len(rated) - 1)
            else:
                done = 0
            if is_chair_trust and member.is_demo:
                # The demo chair has finished and can lead consensus; the demo NED can carry on.
                done = len(rated) if member.board_role == BOARD_ROLE_CHAIR else len(rated) // 2
            elif is_ned_trust and member.is_demo:
                done = 0
        started = _between(rng, plan.opened_at + timedelta(hours=2), rating_ends)
        # One sitting per section, in order, the last one finishing the questionnaire.
        sittings = sorted(_between(rng, started, rating_ends) for _ in section_order)
        sitting_of = dict(zip(section_order, sittings, strict=True))
        finished = sittings[-1]
        headline = rng.gauss(
            _HEADLINE_BASE + 1.4 * (maturity - _BASE_MATURITY) + trust.headline_offset + member.headline_bias,
            1.4,
        )
        answers_headline = done == len(rated) or (done > 0 and rng.random() < 0.5)
        writer.add(
            MemberResponse,
            {
                "assessment_id": assessment_id,
                "respondent_id": respondent_id,
                "board_role": member.board_role,
                "headline_score": min(10, max(0, round(headline))) if answers_headline else None,
                "completed_at": finished if done == len(rated) else None,
                "version": 1,
            },
        )
        for criterion in rated[:done]:
            value = (
                maturity
                + trust.section_offsets[section_key[criterion.section_id]]
                + criterion_offset[criterion.id]
                + member.level_bias
                + rng.gauss(0, 0.6)
            )
            level: int | None = None if rng.random() < 0.04 else _level(value)
            comment = _comment(rng, level) if rng.random() < 0.15 else ""
            if level is not None:
                levels[criterion.id].append(level)
            writer.add(
                Rating,
                {
                    "assessment_id": assessment_id,
                    "respondent_id": respondent_id,
                    "criterion_id": criterion.id,
                    "level": level,
                    "comment": comment,
                    "version": 1,
                    "updated_at": sitting_of[criterion.section_id],
                },
            )

    chair_id = user_id_of[trust.chair.user_index]
    secretary_id = user_id_of[trust.secretary.user_index]
    if submitted:
        agreed, answered = rated, facts
    else:
        first_sections = 2 if is_chair_trust else rng.choice((0, 0, 1, 2, 3))
        agreed = [c for c in rated if c.section_id in section_order[:first_sections]]
        # The secretary files the board's records while members rate.
        fact_sections = 6 if is_chair_trust else rng.choice((0, 2, 4, 8, 11))
        answered = [c for c in facts if c.section_id in section_order[:fact_sections]]
    decisions: list[tuple[Criterion, int, datetime, int]] = []
    for criterion in agreed:
        known = levels[criterion.id]
        if not known:
            continue
        level = _level(statistics.median(known))
        if rng.random() < 0.08:
            # The board debated and moved off the median.
            level = min(4, max(0, level + rng.choice((-1, 1))))
        decisions.append(
            (criterion, level, _between(rng, rating_ends, plan.ends_at - timedelta(hours=1)), chair_id)
        )
    for criterion in answered:
        value = (
            maturity
            + trust.section_offsets[section_key[criterion.section_id]]
            + criterion_offset[criterion.id]
        )
        answered_at = _between(rng, plan.opened_at + timedelta(days=3), plan.ends_at - timedelta(hours=1))
        by = secretary_id if rng.random() < 0.7 else chair_id
        decisions.append((criterion, _level(value + rng.gauss(0, 0.4)), answered_at, by))
    for criterion, level, agreed_at, by in decisions:
        _write_decision(
            rng,
            writer,
            plan,
            assessment_id,
            criterion,
            level,
            agreed_at,
            by,
            (secretary_id, chair_id),
            consensus_evidence,
        )


def _write_decision(
    rng: Random,
    writer: _Writer,
    plan: _AssessmentPlan,
    assessment_id: int,
    criterion: Criterion,
    level: int,
    agreed_at: datetime,
    by: int,
    people: tuple[int, int],
    consensus_evidence: list[tuple[int, int, list[dict[str, Any]]]],
) -> None:
    """The board's level for one statement, with its rationale and, often, evidence links."""
    trust = plan.trust
    cycle = _CYCLES[plan.cycle_index]
    talked_of = max(
        datetime.combine(cycle.opens_on, time(9), UTC),
        agreed_at - timedelta(days=rng.randint(7, 120)),
    )
    pool = _RATIONALES_LOW if level <= 1 else _RATIONALES_MID if level == 2 else _RATIONALES_HIGH
    rationale = rng.choice(pool).format(
        month=talked_of.strftime("%B %Y"),
        wres_year=cycle.opens_on.year,
        survey_year=cycle.opens_on.year - 1,
    )
    writer.add(
        ConsensusRating,
        {
            "assessment_id": assessment_id,
            "criterion_id": criterion.id,
            "level": level,
            "rationale": rationale,
            "version": 1,
            "updated_by_id": by,
            "updated_at": agreed_at,
        },
    )
    if rng.random() < 0.6 and criterion.id is not None:
        secretary_id, chair_id = people
        links = []
        for title, path in rng.sample(_EVIDENCE_LINKS, rng.randint(1, 2)):
            names = {
                "month_name": talked_of.strftime("%B"),
                "year": talked_of.year,
                "prev_year": talked_of.year - 1,
                "mm": f"{talked_of.month:02d}",
            }
            links.append(
                {
                    "kind": "link",
                    "title": title.format(**names),
                    "url": f"https://intranet.{trust.ods_code.lower()}.example.org/" + path.format(**names),
                    # The board secretary does most of the filing.
                    "added_by_id": secretary_id if rng.random() < 0.7 else chair_id,
                    "created_at": agreed_at - timedelta(minutes=rng.randint(5, 240)),
                }
            )
        consensus_evidence.append((assessment_id, criterion.id, links))


def _insert_evidence(
    session: Session, consensus_evidence: list[tuple[int, int, list[dict[str, Any]]]]
) -> int:
    consensus_id = {
        (assessment_id, criterion_id): consensus_rating_id
        for consensus_rating_id, assessment_id, criterion_id in session.exec(
            select(ConsensusRating.id, ConsensusRating.assessment_id, ConsensusRating.criterion_id)
        ).all()
    }
    rows = [
        {"consensus_rating_id": consensus_id[(assessment_id, criterion_id)], **link}
        for assessment_id, criterion_id, links in consensus_evidence
        for link in links
    ]
    _bulk_insert(session, Evidence, rows)
    return len(rows)
