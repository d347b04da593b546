"""A synthetic sector in a fresh PostgreSQL database, at the reference or the stretch scale.

reference: every trust in the shipped reference list, five yearly cycles, boards of 12 with their
           individual ratings, the board's consensus ratings, stored scores and peer snapshots.
stretch:   10,000 organisations (the reference trusts plus synthetic ones drawn from the reference
           list's joint distribution of type, region and size band), five cycles, consensus ratings
           and stored scores for all; boards and individual ratings for the reference trusts only.

Rows are written with COPY in chunks of 10,000 (the demo seeder uses INSERT executemany; COPY is
several times faster at the stretch scale); scores by store_scores_bulk; snapshots by
refresh_snapshots, as the app computes them.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from random import Random
from typing import Any

import psycopg
import pyotp
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.accounts.models import Membership, User
from api.accounts.passwords import hash_password
from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse, Rating
from api.benchmarking.service import refresh_snapshots
from api.db import make_engine, utcnow
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.service import sync_frameworks
from api.migrate import upgrade
from api.organisations.models import Organisation
from api.organisations.service import SHIPPED_CSV, parse_organisations_csv, read_csv_file
from api.organisations.types import PEER_TYPE_OF
from api.scoring.service import store_scores_bulk
from api.settings import get_settings

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_FRAMEWORK_KEY = "race-equality-board-v1"
PASSWORD = "Bench-lantern-harbour-2026"
ANALYST_EMAIL = "analyst@bench.example.org"
CYCLES = 5
MEMBERS = 12
STRETCH_ORGANISATIONS = 10_000
K = 5
_CHUNK = 10_000
_SCORE_CHUNK = 5_000
# Shares of trusts that submitted in each closed cycle (oldest first), then in the open one.
_SUBMITTED_CLOSED = (0.70, 0.75, 0.80, 0.85)
_OPEN_SUBMITTED, _OPEN_IN_PROGRESS = 0.25, 0.60
# A board of 12: chair, chief executive, six non-executives, three executives, the secretary.
_BOARD = (
    [("chair", "chair"), ("board_member", "chief_executive")]
    + [("board_member", "ned")] * 6
    + [("board_member", "executive")] * 3
    + [("board_secretary", "secretary")]
)
_PLACES = (
    "Ashby", "Barton", "Caldwell", "Dunmore", "Elmstead", "Fairford", "Glenholm", "Hartley",
    "Ingleby", "Kingsmere", "Langford", "Marston", "Northam", "Oakley", "Pendle", "Queensbury",
    "Redhill", "Stanton", "Thornbury", "Upwell", "Westbury", "Yarwood", "Ashcombe", "Brampton",
)  # fmt: skip
_SUFFIX = {
    "acute": "Hospitals NHS Trust",
    "acute_specialist": "Specialist Hospital NHS Foundation Trust",
    "combined_acute_community": "Hospitals and Community NHS Foundation Trust",
    "mental_health": "Mental Health NHS Foundation Trust",
    "mental_health_and_community": "Mental Health and Community NHS Trust",
    "community": "Community Health NHS Trust",
    "ambulance": "Ambulance Service NHS Trust",
}
_RATIONALES = (
    "Board minutes record the discussion; actions are agreed but several are behind schedule.",
    "The WRES return and action plan went to the people committee; progress is real but uneven.",
    "Quarterly reports with targets and trends came to board; internal audit gave reasonable assurance.",
    "Discussed at a board development session; no plan or owner yet.",
)


@dataclass(frozen=True)
class Scale:
    name: str
    # None: as many as the reference list holds.
    organisations: int | None
    cycles: int = CYCLES
    members: int = MEMBERS


SCALES = {
    "reference": Scale("reference", None),
    "stretch": Scale("stretch", STRETCH_ORGANISATIONS),
}


@dataclass
class _Plan:
    row: dict[str, Any]
    trust_type: str
    maturity: float
    has_board: bool


@dataclass(frozen=True)
class Rater:
    """A board member of an in-progress assessment in the open cycle, for the autosave load."""

    email: str
    assessment_id: int
    criteria: list[str]


@dataclass
class SeedResult:
    scale: str
    database: str
    url: str
    seconds: float
    phases: dict[str, float]
    counts: dict[str, int]
    open_cycle: str
    closed_cycle: str
    # A chair whose board submitted in every cycle, and those submissions (open, last closed).
    chair_email: str
    submitted_open: int
    submitted_closed: int
    analyst_email: str
    analyst_totp_secret: str
    raters: list[Rater] = field(default_factory=list)


# --- Databases ---------------------------------------------------------------------------------------


def _admin() -> psycopg.Connection:
    url = make_url(ADMIN_URL)
    return psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname=url.database, autocommit=True
    )


def database_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def create_database(label: str) -> tuple[str, str]:
    """A new empty database named bench_<label>_<random>; returns (name, url)."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with _admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name, database_url(name)


def drop_database(name: str) -> None:
    assert name.startswith("bench_"), name
    with _admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_facts() -> dict[str, str]:
    with _admin() as connection:
        version = connection.execute("SHOW server_version").fetchone()
        settings = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("shared_buffers", "max_connections", "synchronous_commit")
        }
    return {"server_version": version[0] if version else "?", **settings}


def reachable() -> bool:
    try:
        with _admin():
            return True
    except psycopg.OperationalError:
        return False


# --- The plan ----------------------------------------------------------------------------------------


def financial_years(today: date, count: int) -> list[tuple[str, date, date]]:
    """The `count` financial years up to the one containing today (oldest first)."""
    first = today.year if today >= date(today.year, 4, 1) else today.year - 1
    years = range(first - count + 1, first + 1)
    return [(f"{y}/{(y + 1) % 100:02d}", date(y, 4, 1), date(y + 1, 3, 31)) for y in years]


def synthetic_organisations(rng: Random, total: int) -> list[dict[str, Any]]:
    """The reference trusts, then synthetic ones with the same mix of type, region and size band."""
    reference = parse_organisations_csv(read_csv_file(SHIPPED_CSV))
    rows = [(r.ods_code, r.name, r.trust_type, r.region, r.size_band) for r in reference]
    taken = {r[0] for r in rows}
    n = 0
    while len(rows) < total:
        model = rng.choice(reference)
        code = f"X{n:04X}"
        n += 1
        if code in taken:
            continue
        place = f"{rng.choice(_PLACES)} and {rng.choice(_PLACES)}"
        name = f"{place} {_SUFFIX[model.trust_type]} ({code})"
        rows.append((code, name, model.trust_type, model.region, model.size_band))
    created = datetime.combine(date(2020, 1, 6), clock(9), UTC)
    return [
        {
            "ods_code": code,
            "name": name,
            "trust_type": trust_type,
            "peer_type": PEER_TYPE_OF[trust_type],
            "region": region,
            "size_band": size_band,
            "require_two_factor": False,
            "created_at": created,
        }
        for code, name, trust_type, region, size_band in rows
    ]


class _Writer:
    """Buffers rows per table and writes each chunk with PostgreSQL's COPY (in the session's
    transaction): several times faster than INSERT executemany for the stretch scale's millions of
    rows. Columns a row leaves out get the model's default, as an INSERT would give them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.buffers: dict[type, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: type, row: dict[str, Any]) -> None:
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= _CHUNK:
            self._write(table)

    def write_all(self, table: type, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.add(table, row)
        self._write(table)

    def flush(self) -> None:
        for table in list(self.buffers):
            self._write(table)

    def _write(self, table: type) -> None:
        buffer = self.buffers.get(table)
        if not buffer:
            return
        core = table.__table__  # type: ignore[attr-defined]
        given = list(buffer[0])
        defaults = {
            column.name: column.default.arg(None) if column.default.is_callable else column.default.arg  # type: ignore[union-attr]
            for column in core.columns
            if column.name not in given and column.default is not None and not column.primary_key
        }
        columns = [*given, *defaults]
        extra = tuple(defaults.values())
        raw = self.session.connection().connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{core.name}" ({names}) FROM STDIN') as copy:
            for row in buffer:
                copy.write_row((*(row[c] for c in given), *extra))
        self.counts[core.name] = self.counts.get(core.name, 0) + len(buffer)
        self.buffers[table] = []


def _level(value: float) -> int:
    return min(4, max(0, math.floor(value + 0.5)))


@contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    phases[name] = phases.get(name, 0.0) + time.perf_counter() - started


# --- Seeding -----------------------------------------------------------------------------------------


def seed(scale: Scale, *, seed: int = 2026, today: date | None = None, log: Any = print) -> SeedResult:
    """Create a database, migrate it and fill it at `scale`; the caller drops it (drop_database)."""
    today = today or utcnow().date()
    name, url = create_database(scale.name)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    try:
        with _timed(phases, "migrate"):
            upgrade(url)
        engine = make_engine(url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                result = _fill(session, scale, seed, today, phases, log)
                with _timed(phases, "commit"):
                    session.commit()
        finally:
            engine.dispose()
        with _timed(phases, "analyze"), psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
            # Write out the bulk load now, so that its checkpoint does not land in a measured round.
            connection.execute("CHECKPOINT")
    except BaseException:
        drop_database(name)
        raise
    result.database, result.url = name, url
    result.phases = phases
    result.seconds = time.perf_counter() - started
    return result


def _fill(
    session: Session, scale: Scale, seed: int, today: date, phases: dict[str, float], log: Any
) -> SeedResult:
    rng = Random(seed)
    writer = _Writer(session)
    now = datetime.combine(today, clock(0), UTC) - timedelta(hours=2)

    with _timed(phases, "reference data"):
        frameworks = sync_frameworks(session, get_settings().frameworks_dir)
        # Version 1, where every member rates every statement: the heaviest autosave load, and the one
        # the earlier figures were measured on (on version 2 members rate only its perception items).
        pinned = [f for f in frameworks if f.key == BENCH_FRAMEWORK_KEY]
        framework = pinned[0] if pinned else max(frameworks, key=lambda f: (f.version, f.id or 0))
        sections = list(
            session.exec(
                select(FrameworkSection)
                .where(FrameworkSection.framework_id == framework.id)
                .order_by(FrameworkSection.number)  # type: ignore[arg-type]
            ).all()
        )
        section_number = {s.id: s.number for s in sections}
        criteria = sorted(
            session.exec(select(Criterion).where(Criterion.framework_id == framework.id)).all(),
            key=lambda c: (section_number[c.section_id], c.position),
        )
        reference_count = len(parse_organisations_csv(read_csv_file(SHIPPED_CSV)))
        total = scale.organisations or reference_count
        writer.write_all(Organisation, synthetic_organisations(rng, total))
        organisations = session.exec(
            select(Organisation.id, Organisation.ods_code, Organisation.trust_type).order_by(
                Organisation.id  # type: ignore[arg-type]
            )
        ).all()
        years = financial_years(today, scale.cycles)
        cycle_ids = _insert_cycles(session, framework, years)

    # Boards (and their individual ratings) for the reference number of trusts only.
    rated = organisations[:reference_count]
    with _timed(phases, "people"):
        password_hash = hash_password(PASSWORD)
        totp_secret = pyotp.random_base32()
        user_ids, members_of, chairs = _insert_people(session, writer, rated, password_hash, totp_secret)

    applicable: dict[str, list[Criterion]] = {}
    for _id, _code, trust_type in organisations:
        if trust_type not in applicable:
            applicable[trust_type] = [c for c in criteria if not c.applies_to or trust_type in c.applies_to]
    section_bias = {s.id: rng.gauss(0, 0.3) for s in sections}

    with _timed(phases, "assessments"):
        chair_of = {org_id: user_ids[email] for org_id, email in chairs}
        plans = _plan_assessments(rng, organisations, chair_of, framework, cycle_ids, years, now)
        writer.write_all(Assessment, [p.row for p in plans])
        ids = {
            (o, c): a
            for a, o, c in session.exec(
                select(Assessment.id, Assessment.organisation_id, Assessment.cycle_id)
            ).all()
        }

    with _timed(phases, "ratings"):
        for plan in plans:
            members = [(user_ids[e], r) for e, r in members_of.get(plan.row["organisation_id"], [])]
            _write_assessment(
                rng,
                writer,
                ids[(plan.row["organisation_id"], plan.row["cycle_id"])],
                plan,
                applicable[plan.trust_type],
                section_bias,
                members,
                now,
            )
        writer.flush()
    log(f"  {scale.name}: rows written {writer.counts}")

    submitted = sorted(
        ids[(p.row["organisation_id"], p.row["cycle_id"])] for p in plans if p.row["status"] == "submitted"
    )
    with _timed(phases, "stored scores"):
        stored = 0
        for start in range(0, len(submitted), _SCORE_CHUNK):
            stored += store_scores_bulk(session, submitted[start : start + _SCORE_CHUNK])
    with _timed(phases, "snapshots"):
        snapshots = 0
        for cycle_id in cycle_ids:
            cycle = session.get(Cycle, cycle_id)
            assert cycle is not None
            snapshots += refresh_snapshots(session, cycle, K, today=today)

    open_cycle, closed_cycle = cycle_ids[-1], cycle_ids[-2]
    chair_org, chair_email = chairs[0]
    # Sixteen boards of the open cycle, four members each: 64 distinct raters.
    raters: list[Rater] = []
    for plan in plans:
        row = plan.row
        if row["cycle_id"] != open_cycle or row["status"] != "in_progress" or not plan.has_board:
            continue
        keys = [c.key for c in applicable[plan.trust_type]]
        for email, board_role in members_of[row["organisation_id"]]:
            if board_role != "secretary":
                raters.append(Rater(email, ids[(row["organisation_id"], open_cycle)], keys))
    by_board: dict[int, list[Rater]] = {}
    for rater in raters:
        by_board.setdefault(rater.assessment_id, []).append(rater)
    boards = list(by_board.values())
    # Interleave boards: the first 64 are four members of each of the first sixteen boards.
    chosen = [board[i] for i in range(4) for board in boards[:16]]
    chosen += [r for board in boards[16:] for r in board[:4]] + [r for board in boards for r in board[4:]]

    counts = dict(writer.counts)
    counts["stored_score"] = stored
    counts["peer_snapshot"] = snapshots
    counts["submitted"] = len(submitted)
    counts["organisations_with_boards"] = len(rated)
    counts["organisation"] = len(organisations)
    years_by_id = dict(zip(cycle_ids, years, strict=True))
    return SeedResult(
        scale=scale.name,
        database="",
        url="",
        seconds=0.0,
        phases={},
        counts=counts,
        open_cycle=years_by_id[open_cycle][0],
        closed_cycle=years_by_id[closed_cycle][0],
        chair_email=chair_email,
        submitted_open=ids[(chair_org, open_cycle)],
        submitted_closed=ids[(chair_org, closed_cycle)],
        analyst_email=ANALYST_EMAIL,
        analyst_totp_secret=totp_secret,
        raters=chosen,
    )


def _insert_cycles(
    session: Session, framework: FrameworkRecord, years: list[tuple[str, date, date]]
) -> list[int]:
    cycles = [
        Cycle(
            name=name,
            opens_on=opens,
            closes_on=closes,
            framework_id=framework.id,  # type: ignore[arg-type]
            created_at=datetime.combine(opens - timedelta(days=21), clock(10), UTC),
        )
        for name, opens, closes in years
    ]
    session.add_all(cycles)
    session.flush()
    return [c.id for c in cycles if c.id is not None]


def _insert_people(
    session: Session,
    writer: _Writer,
    rated: list[Any],
    password_hash: str,
    totp_secret: str,
) -> tuple[dict[str, int], dict[int, list[tuple[str, str]]], list[tuple[int, str]]]:
    """Boards of 12 for the rated trusts (one shared password) and a sector analyst with 2FA."""
    joined = datetime.combine(date(2020, 2, 3), clock(9), UTC)
    users: list[dict[str, Any]] = []
    memberships: list[tuple[str, int, str, str]] = []
    members_of: dict[int, list[tuple[str, str]]] = {}
    chairs: list[tuple[int, str]] = []
    base = {"password_hash": password_hash, "is_active": True, "created_at": joined}
    nulls = {"totp_secret": None, "totp_enabled_at": None}
    for org_id, code, _trust_type in rated:
        for index, (role, board_role) in enumerate(_BOARD):
            email = f"m{index:02d}.{code.lower()}@bench.example.org"
            users.append(
                {
                    "email": email,
                    "name": f"Member {index} of {code}",
                    "platform_role": None,
                    **base,
                    **nulls,
                }
            )
            memberships.append((email, org_id, role, board_role))
            members_of.setdefault(org_id, []).append((email, board_role))
            if role == "chair":
                chairs.append((org_id, email))
    users.append(
        {
            "email": ANALYST_EMAIL,
            "name": "Bench Analyst",
            "platform_role": "sector_analyst",
            **base,
            "totp_secret": totp_secret,
            "totp_enabled_at": joined,
        }
    )
    writer.write_all(User, users)
    ids = dict(session.exec(select(User.email, User.id)).all())
    writer.write_all(
        Membership,
        [
            {
                "user_id": ids[email],
                "organisation_id": org_id,
                "role": role,
                "board_role": board_role,
                "created_at": joined,
            }
            for email, org_id, role, board_role in memberships
        ],
    )
    return ids, members_of, chairs


def _plan_assessments(
    rng: Random,
    organisations: list[Any],
    chair_of: dict[int, int],
    framework: FrameworkRecord,
    cycle_ids: list[int],
    years: list[tuple[str, date, date]],
    now: datetime,
) -> list[_Plan]:
    """Each trust's status in each cycle, with its maturity that year."""
    # The first board submits every year: its chair is the one who asks for benchmarks.
    always_submits = next(iter(chair_of))
    plans: list[_Plan] = []
    last = len(cycle_ids) - 1
    for org_id, _code, trust_type in organisations:
        maturity = min(3.2, max(0.3, rng.gauss(1.6, 0.5)))
        for index, (cycle_id, (_name, opens_on, closes_on)) in enumerate(zip(cycle_ids, years, strict=True)):
            if index:
                maturity += rng.uniform(0.1, 0.4) if rng.random() < 0.8 else rng.uniform(-0.15, 0.05)
            draw = rng.random()
            if org_id == always_submits:
                status = "submitted"
            elif index < last:
                status = "submitted" if draw < _SUBMITTED_CLOSED[index % len(_SUBMITTED_CLOSED)] else None
            elif draw < _OPEN_SUBMITTED:
                status = "submitted"
            elif draw < _OPEN_SUBMITTED + _OPEN_IN_PROGRESS:
                status = "in_progress"
            else:
                status = None
            if status is None:
                continue
            opens = datetime.combine(opens_on, clock(9), UTC)
            ends = min(now, datetime.combine(closes_on, clock(17), UTC))
            opened_at = opens + (ends - opens) * rng.uniform(0.02, 0.3)
            submitted_at = opened_at + (ends - opened_at) * rng.uniform(0.5, 0.95)
            chair = chair_of.get(org_id)
            row = {
                "organisation_id": org_id,
                "cycle_id": cycle_id,
                "framework_id": framework.id,
                "status": status,
                "opened_by_id": chair,
                "opened_at": opened_at.replace(microsecond=0),
                "submitted_by_id": chair if status == "submitted" else None,
                "submitted_at": submitted_at.replace(microsecond=0) if status == "submitted" else None,
                "version": 1,
            }
            plans.append(_Plan(row, trust_type, maturity, chair is not None))
    return plans


def _write_assessment(
    rng: Random,
    writer: _Writer,
    assessment_id: int,
    plan: _Plan,
    criteria: list[Criterion],
    section_bias: dict[int | None, float],
    members: list[tuple[int, str]],
    now: datetime,
) -> None:
    row, maturity = plan.row, plan.maturity
    submitted = row["status"] == "submitted"
    opened_at: datetime = row["opened_at"]
    ends: datetime = row["submitted_at"] or now
    agreed_at = (opened_at + (ends - opened_at) * 0.9).replace(microsecond=0)
    chair_id = row["opened_by_id"]
    base = {c.id: maturity + section_bias[c.section_id] + rng.gauss(0, 0.4) for c in criteria}
    if submitted:
        agreed = criteria
    else:
        # The board has agreed the first few sections (criteria are in section order).
        order = list(dict.fromkeys(c.section_id for c in criteria))
        first = set(order[: rng.choice((0, 0, 1, 2, 3))])
        agreed = [c for c in criteria if c.section_id in first]
    for criterion in agreed:
        writer.add(
            ConsensusRating,
            {
                "assessment_id": assessment_id,
                "criterion_id": criterion.id,
                "level": _level(base[criterion.id]),
                "rationale": _RATIONALES[rng.randrange(len(_RATIONALES))],
                "version": 1,
                "updated_by_id": chair_id,
                "updated_at": agreed_at,
            },
        )
    if not members:
        return
    rated_at = (opened_at + (ends - opened_at) * 0.6).replace(microsecond=0)
    for respondent, board_role in members:
        if board_role == "secretary":
            continue
        done = (
            len(criteria)
            if submitted
            else rng.choice((0, len(criteria) // 3, len(criteria) // 2, len(criteria)))
        )
        bias = rng.gauss(0, 0.25)
        writer.add(
            MemberResponse,
            {
                "assessment_id": assessment_id,
                "respondent_id": respondent,
                "board_role": board_role,
                "headline_score": min(10, max(0, round(rng.gauss(5.5 + maturity - 1.6, 1.4))))
                if done
                else None,
                "completed_at": rated_at if done == len(criteria) else None,
                "version": 1,
            },
        )
        for criterion in criteria[:done]:
            level = None if rng.random() < 0.04 else _level(base[criterion.id] + bias + rng.gauss(0, 0.6))
            writer.add(
                Rating,
                {
                    "assessment_id": assessment_id,
                    "respondent_id": respondent,
                    "criterion_id": criterion.id,
                    "level": level,
                    "comment": "",
                    "version": 1,
                    "updated_at": rated_at,
                },
            )
