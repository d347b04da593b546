"""Sector heatmap and headline figures, all from the same batch snapshots as peer benchmarks.

Rows are the ten priorities and the BAF section; columns are the peer groups of one kind (trust
type, region or size band) and all trusts. A cell below K trusts is suppressed; where one cell in a
row is suppressed, the next-smallest is suppressed too, so it cannot be worked out from the total.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from api.accounts.roles import BOARD_ROLE_CHAIR
from api.assessments.models import Cycle
from api.benchmarking.groups import group_label
from api.benchmarking.maths import count_band, peer_stats, precision_for, round_to, share_percent, share_step
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import (
    HEADLINE_ALL,
    HEADLINE_PREFIX,
    INDICATOR_PREFIX,
    ROLE_PREFIX,
    snapshots_to_read,
)
from api.frameworks.models import FrameworkSection
from api.organisations.models import Organisation
from api.organisations.types import PEER_TYPES, REGIONS, SIZE_BANDS
from api.scoring.maths import BANDS, band
from api.scoring.models import OVERALL_KEY
from api.sector.disclosure import Bounds, Group, SectorTotal, band_of, range_text, whole_sector, within_total

BY_OPTIONS = {"trust_type": "Type of trust", "region": "Region", "size_band": "Size"}
ROLE_MINIMUM = 11  # people, not trusts: the higher threshold NHS statistics use for individuals
# The role groups the 2022 survey reported (ROLE_GROUPS in api/benchmarking/service.py maps board roles to them).
ROLE_NAMES = {
    BOARD_ROLE_CHAIR: "Chairs",
    "chief_executive": "Chief executives",
    "ned": "Non-executive directors",
    "other": "Other board members",
}
# NHS Providers' 2022 survey (Race 2.0, March 2022): individual board members' answers to the
# 0 to 10 question. 254 responses from 134 trusts.
BASELINE_2022 = {"mean": 5.6, "share_8_to_10": 22, "share_10": 4}
BASELINE_2022_ROLES = {BOARD_ROLE_CHAIR: 6.2}
BASELINE_2022_RESPONSES = 254
BASELINE_2022_TRUSTS = 134
# The 2022 responses by role, in percent (28, 14, 45 and 11: 98 in all as published; the
# reweighting divides by their sum, so the missing 2 points are spread in proportion).
ROLE_MIX_2022 = {BOARD_ROLE_CHAIR: 28, "chief_executive": 14, "ned": 45, "other": 11}


@dataclass
class Cell:
    section: str
    group: str
    n: int
    median: float | None
    q1: float | None
    q3: float | None
    suppressed: bool
    reason: str | None = None
    change: float | None = None
    n_band: str | None = None


@dataclass
class Column:
    key: str
    label: str
    trusts: int
    submitted: int
    k: int
    # The count as published, where it is not simply its band: the whole-sector count is widened
    # so that no hidden group's count can be worked out from it (api/sector/disclosure.py).
    published: Bounds | None = None

    @property
    def bounds(self) -> Bounds:
        return self.published or band_of(self.submitted, self.k)

    @property
    def submitted_band(self) -> str:
        return range_text(self.bounds, self.k)

    @property
    def participation(self) -> int | None:
        """Percent submitted, to the nearest 10, from the count as shown (the middle of its range,
        capped at the group's trusts), never from the exact count: in a small group (ten ambulance
        trusts) the exact percent is the exact count, and with it a suppressed group's, by
        subtraction. None when the count shown starts at none ("fewer than K")."""
        lower, upper = self.bounds
        if lower == 0 or not self.trusts:
            return None
        upper = self.trusts if upper is None else min(upper, self.trusts)
        return int(round_to((lower + upper) / 2 / self.trusts * 100, 10))


@dataclass
class Heatmap:
    cycle: str
    by: str
    rows: list[tuple[str, str]]
    columns: list[Column]
    cells: list[Cell]
    snapshot_at: object
    previous_cycle: str | None
    bands: list[tuple[str, int | None]] = field(default_factory=list)

    def cell(self, section: str, group: str) -> Cell:
        return next(c for c in self.cells if c.section == section and c.group == group)


def _group_values(kind: str) -> list[str]:
    if kind == "trust_type":
        return list(PEER_TYPES)
    if kind == "region":
        return list(REGIONS)
    return list(SIZE_BANDS)


def _snapshots(session: Session, cycle: Cycle, kind: str, k: int) -> dict[str, PeerSnapshot]:
    rows = snapshots_to_read(session, cycle, k, (kind, "all"))
    return {("all" if s.group_kind == "all" else s.group_value): s for s in rows}


def _trusts_per_group(session: Session, kind: str) -> dict[str, int]:
    column = {
        "trust_type": Organisation.peer_type,
        "region": Organisation.region,
        "size_band": Organisation.size_band,
    }[kind]
    counts = dict(session.exec(select(column, func.count()).group_by(column)).all())
    counts["all"] = sum(counts.values())
    return counts


def _breakdowns(session: Session, cycle: Cycle, kinds: list[str]) -> list[tuple[dict[str, Group], int]]:
    """Each kind's groups as published (snapshot counts) with the register's trusts per group, and
    the trusts in no group of that kind. One light query: the snapshots' member lists, no scores."""
    rows = session.exec(
        select(PeerSnapshot.group_kind, PeerSnapshot.group_value, PeerSnapshot.assessment_ids).where(
            PeerSnapshot.cycle_id == cycle.id,
            PeerSnapshot.group_kind.in_(kinds),  # type: ignore[attr-defined]
        )
    ).all()
    submitted = {(kind, value): len(ids) for kind, value, ids in rows}
    breakdowns = []
    for kind in kinds:
        trusts = _trusts_per_group(session, kind)
        groups = {
            value: Group(trusts.get(value, 0), submitted.get((kind, value), 0))
            for value in _group_values(kind)
        }
        breakdowns.append((groups, trusts["all"] - sum(group.trusts for group in groups.values())))
    return breakdowns


def sector_total(session: Session, cycle: Cycle, k: int, submitted: int) -> SectorTotal:
    """The whole-sector count as every output shows it, and whether its figures may be shown
    (api/sector/disclosure.py)."""
    return whole_sector(submitted, _breakdowns(session, cycle, list(BY_OPTIONS)), k)


def _count_shown(column: Column, n: int) -> str:
    """A shown cell's count: its column's count where they are the same trusts (as they are once
    every submitted assessment scores every section); the whole-sector column's never narrower."""
    if n == column.submitted:
        return column.submitted_band
    if column.key == "all":
        return range_text(within_total(n, column.bounds, column.k), column.k)
    return count_band(n, column.k)


def _suppress_secondary(cells: list[Cell], empty_groups: set[str]) -> None:
    """If exactly one group cell in a row is hidden, hide the next-smallest too (no subtraction).

    A group with no trusts at all hides nothing. A group with trusts but no figures is hidden
    whatever its live count: telling "none submitted" from "a few" would defeat the batching.
    """
    groups = [c for c in cells if c.group != "all"]
    hidden = [c for c in groups if c.suppressed and c.group not in empty_groups]
    if len(hidden) == 1:
        shown = sorted((c for c in groups if not c.suppressed), key=lambda c: c.n)
        if shown:
            smallest = shown[0]
            smallest.suppressed, smallest.reason = True, "secondary"
            smallest.median = smallest.q1 = smallest.q3 = None
            smallest.n_band = None


def previous_cycle(session: Session, cycle: Cycle) -> Cycle | None:
    return session.exec(
        select(Cycle).where(Cycle.opens_on < cycle.opens_on).order_by(Cycle.opens_on.desc())  # type: ignore[attr-defined]
    ).first()


def heatmap(session: Session, cycle: Cycle, by: str, k: int) -> Heatmap:
    """The heatmap as published, with each shown cell's change since the previous cycle.

    The change is worked out from last year's heatmap as it is published (its suppression, its
    secondary suppression and the whole-sector hold-back all applied), never from its snapshots: a
    cell hidden last year has no change, or this year's median less its change would give back the
    hidden figure. A cell hidden this year has none either.
    """
    result = _published(session, cycle, by, k)
    before = previous_cycle(session, cycle)
    if before is None:
        return result
    last_year = {(c.section, c.group): c for c in _published(session, before, by, k).cells}
    for cell in result.cells:
        old = last_year.get((cell.section, cell.group))
        if cell.suppressed or cell.median is None or old is None or old.suppressed or old.median is None:
            continue
        cell.change = round(cell.median - old.median, 1)
    result.previous_cycle = before.name
    return result


def _sections_of(session: Session, cycle: Cycle) -> list[tuple[str, str]]:
    """The cycle's framework sections (key, title), in their order."""
    return list(
        session.exec(
            select(FrameworkSection.key, FrameworkSection.title)
            .where(FrameworkSection.framework_id == cycle.framework_id)
            .order_by(FrameworkSection.number)
        ).all()
    )


def _published(session: Session, cycle: Cycle, by: str, k: int) -> Heatmap:
    """One cycle's heatmap with every suppression applied, without changes since another cycle."""
    snapshots = _snapshots(session, cycle, by, k)
    rows = _sections_of(session, cycle)
    trusts = _trusts_per_group(session, by)
    columns = [
        Column(
            value,
            group_label(by, value),
            trusts.get(value, 0),
            len(snapshots[value].assessment_ids) if value in snapshots else 0,
            k,
        )
        for value in _group_values(by)
    ]
    everyone_column = Column(
        "all",
        "All trusts",
        trusts["all"],
        len(snapshots["all"].assessment_ids) if "all" in snapshots else 0,
        k,
    )
    this_breakdown = (
        {c.key: Group(c.trusts, c.submitted) for c in columns},
        trusts["all"] - sum(c.trusts for c in columns),
    )
    # The same range in every breakdown: this one's groups as shown here, the others' as published.
    others = [kind for kind in BY_OPTIONS if kind != by]
    total = whole_sector(everyone_column.submitted, [this_breakdown, *_breakdowns(session, cycle, others)], k)
    everyone_column.published = total.bounds
    columns.append(everyone_column)
    cells: list[Cell] = []
    for section_key, _title in rows:
        row_cells = []
        for column in columns:
            snapshot = snapshots.get(column.key)
            values = snapshot.values(section_key) if snapshot else []
            stats = peer_stats(values, k)
            if column.key == "all" and not total.shown:
                stats = peer_stats([], k)
            cell = Cell(
                section_key,
                column.key,
                len(values),
                stats.median,
                stats.q1,
                stats.q3,
                stats.suppressed,
                (total.reason if column.key == "all" else "fewer than K") if stats.suppressed else None,
                n_band=None if stats.suppressed else _count_shown(column, len(values)),
            )
            row_cells.append(cell)
        _suppress_secondary(row_cells, {c.key for c in columns if c.trusts == 0})
        cells.extend(row_cells)
    everyone = snapshots.get("all")
    return Heatmap(
        cycle=cycle.name,
        by=by,
        rows=rows,
        columns=columns,
        cells=cells,
        snapshot_at=everyone.taken_at if everyone else None,
        previous_cycle=None,
        bands=_band_spread(everyone if total.shown else None, k),
    )


def _band_spread(snapshot: PeerSnapshot | None, k: int) -> list[tuple[str, int | None]]:
    """The share of trusts in each overall maturity band, as a percent to the nearest 10 (20 below
    10 trusts; None when fewer than K trusts submitted).

    A band of fewer than K trusts is not left out but joined with the bands next to it, as many as
    it takes to reach K ("Established or Embedded"): a band left out could be worked out by taking
    the others from the total (9, 9, 9 and 19 trusts shown with 50 in all leave exactly 4). Shares,
    not counts: counts in bands would add up to a tighter whole-sector count than the one shown
    (api/sector/disclosure.py).
    """
    values = snapshot.values(OVERALL_KEY) if snapshot else []
    counts = {name: 0 for name in BANDS}
    for value in values:
        counts[band(value) or BANDS[0]] += 1
    if len(values) < k:
        return [(name, None) for name in BANDS]
    joined: list[tuple[list[str], int]] = []
    names: list[str] = []
    trusts = 0
    for name in BANDS:
        names.append(name)
        trusts += counts[name]
        if trusts >= k:
            joined.append((names, trusts))
            names, trusts = [], 0
    if names:  # the highest bands, fewer than K between them: joined with the group below
        below, below_trusts = joined.pop()
        joined.append((below + names, below_trusts + trusts))
    # To 10 points whatever the base: coarser than share_percent's rule needs, as these shares
    # together would otherwise narrow the whole-sector count behind them.
    return [(_band_names(names), share_percent(n, len(values), finest=10)) for names, n in joined]


def _band_names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"{names[0]} or {names[1]}" if len(names) == 2 else f"{names[0]} to {names[-1]}"


@dataclass(frozen=True)
class Base:
    """Who a figure comes from, as published: people as a band of the role minimum (None for a
    board-level measure) and trusts as a band never tighter at its lower end than the whole-sector
    count (api/sector/disclosure.py)."""

    respondents: str | None
    trusts: str


@dataclass(frozen=True)
class Share:
    """A board-level measure of this service's own: the share of boards whose agreed level on one
    criterion is at least a level. Not asked in 2022 (the 2022 survey asked individuals), so it has
    no 2022 figure beside it."""

    label: str
    percent: int | None
    base: Base


@dataclass(frozen=True)
class PeopleFigure:
    """A figure from individuals' answers to the 0 to 10 question, the measure the 2022 survey used."""

    key: str  # "mean", "share_8_to_10", "share_10"
    label: str
    unit: str  # "mean" (0 to 10) or "percent" (of respondents)
    value: float | None
    baseline_2022: float
    # The same figure with each role group weighted as in the 2022 responses (ROLE_MIX_2022).
    reweighted: float | None
    base: Base


@dataclass(frozen=True)
class RoleRow:
    key: str
    role: str
    cells: list[tuple[str, float | None]]  # median of members' own section means (0 to 4)
    headline_mean: float | None  # mean answer to the 0 to 10 question
    baseline_2022: float | None  # the 2022 mean for this group, where the report gave one
    base: Base


@dataclass(frozen=True)
class Batch:
    """Which submissions the figures hold: the whole-sector count as published, when the batch was
    taken, and whether the year's figures are final."""

    boards: str
    taken_at: object
    final: bool


@dataclass(frozen=True)
class Headlines:
    shares: list[Share]
    people: list[PeopleFigure]
    roles: list[RoleRow]
    batch: Batch
    respondents_band: str

    def figure(self, key: str) -> PeopleFigure:
        return next(f for f in self.people if f.key == key)

    @property
    def headline_mean(self) -> float | None:
        return self.figure("mean").value

    @property
    def headline_share_8_to_10(self) -> int | None:
        value = self.figure("share_8_to_10").value
        return None if value is None else int(value)

    @property
    def headline_share_10(self) -> int | None:
        value = self.figure("share_10").value
        return None if value is None else int(value)


INDICATOR_SHARES = (
    (
        "embedded_in_business",
        4,
        "Boards agreeing race equality is fully embedded as core board business (level 4)",
    ),
    (
        "race_equality_in_baf",
        3,
        "Boards agreeing a race equality risk is established in their board assurance framework (level 3 or 4)",
    ),
    (
        "board_diversity",
        2,
        "Boards agreeing they have made progress towards a more diverse board (level 2 or above)",
    ),
)


def _trusts_in(answers: dict[str, float]) -> int:
    # Keyed "assessment.respondent" (see _sector_extras): the part before the dot is the trust.
    return len({p.split(".")[0] for p in answers})


def _weighted(values: dict[str, float]) -> float:
    """A figure per role group, weighted by the groups' shares of the 2022 responses."""
    weight = sum(ROLE_MIX_2022[role] for role in values)
    return sum(ROLE_MIX_2022[role] * value for role, value in values.items()) / weight


def headlines(session: Session, cycle: Cycle, k: int) -> Headlines:
    """The headline figures, the board-level measures and the role view, as published.

    Whole-set figures count every respondent to the 0 to 10 question, whatever their board role
    (HEADLINE_ALL; a snapshot taken before that key existed is read as every role's answers
    together). Each figure needs 11 people from at least K trusts; see docs/sector-method.md.
    """
    snapshot = _snapshots(session, cycle, "trust_type", k).get("all")
    submitted = len(snapshot.assessment_ids) if snapshot is not None else 0
    total = sector_total(session, cycle, k, submitted)
    batch = Batch(
        boards=range_text(total.bounds, k),
        taken_at=snapshot.taken_at if snapshot is not None else None,
        final=bool(snapshot is not None and snapshot.final),
    )
    if snapshot is not None and not total.shown:
        snapshot = None  # as the heatmap's whole-sector column: see api/sector/disclosure.py
    sections = _sections_of(session, cycle)

    def trusts_band(n: int) -> str:
        return range_text(within_total(n, total.bounds, k), k) if n >= k else f"fewer than {k}"

    def share(indicator: str, at_least: int, label: str) -> Share:
        values = snapshot.values(f"{INDICATOR_PREFIX}{indicator}") if snapshot else []
        base = Base(None, trusts_band(len(values)))
        if len(values) < k:
            return Share(label, None, base)
        return Share(label, share_percent(sum(v >= at_least for v in values), len(values)), base)

    shares = [share(*indicator) for indicator in INDICATOR_SHARES]

    def people(key: str) -> dict[str, float]:
        return {p: v for p, v in (snapshot.scores.get(key, {}) if snapshot else {}).items() if v is not None}

    def enough(answers: dict[str, float]) -> bool:
        # 11 people, and from at least K trusts like every sector figure: eleven executives of a
        # single trust (or of two, after the cycle closes with fewer than K submitted) are not enough.
        return len(answers) >= ROLE_MINIMUM and _trusts_in(answers) >= k

    def shown(value: float, n: int) -> float:
        # As peer figures below 2K: from fewer than 22 people, only halves.
        return round_to(value, precision_for(n, ROLE_MINIMUM))

    def base_of(answers: dict[str, float]) -> Base:
        return Base(count_band(len(answers), ROLE_MINIMUM), trusts_band(_trusts_in(answers)))

    by_role = {role: people(f"{HEADLINE_PREFIX}{role}") for role in ROLE_NAMES}
    everyone = people(HEADLINE_ALL)
    if snapshot is not None and HEADLINE_ALL not in snapshot.scores:
        # A snapshot from before every respondent was counted: every role's answers together.
        for key, answers in snapshot.scores.items():
            if key.startswith(HEADLINE_PREFIX):
                everyone.update({p: v for p, v in answers.items() if v is not None})
    answers = list(everyone.values())
    enough_people = enough(everyone)
    # Reweighted to the 2022 role mix only where every 2022 role group can be shown; rounded as a
    # figure from the smallest group, since one person there moves it most.
    reweight = all(enough(group) for group in by_role.values())
    fewest = min((len(group) for group in by_role.values()), default=0)

    def exact(measure: str, values: list[float]) -> float:
        if measure == "mean":
            return statistics.fmean(values)
        at_least = 8 if measure == "share_8_to_10" else 10
        return sum(v >= at_least for v in values) / len(values) * 100

    def publish(measure: str, value: float, n: int) -> float:
        if measure == "mean":
            return shown(value, n)
        return int(round_to(value, share_step(n)))

    figures = []
    for key, label, unit in (
        ("mean", "Mean answer to the 0 to 10 question", "mean"),
        ("share_8_to_10", "Share of respondents answering 8 to 10", "percent"),
        ("share_10", "Share of respondents answering 10 (fully embedded)", "percent"),
    ):
        value = publish(key, exact(key, answers), len(answers)) if enough_people else None
        reweighted = None
        if enough_people and reweight:
            by_group = {role: exact(key, list(group.values())) for role, group in by_role.items()}
            reweighted = publish(key, _weighted(by_group), fewest)
        figures.append(
            PeopleFigure(key, label, unit, value, BASELINE_2022[key], reweighted, base_of(everyone))
        )

    roles = []
    for role, name in ROLE_NAMES.items():
        cells = []
        for key, _title in sections:
            means = people(f"{ROLE_PREFIX}{role}:{key}")
            cells.append(
                (key, shown(statistics.median(means.values()), len(means)) if enough(means) else None)
            )
        role_answers = by_role[role]
        mean = (
            shown(statistics.fmean(role_answers.values()), len(role_answers))
            if enough(role_answers)
            else None
        )
        roles.append(RoleRow(role, name, cells, mean, BASELINE_2022_ROLES.get(role), base_of(role_answers)))
    return Headlines(
        shares=shares,
        people=figures,
        roles=roles,
        batch=batch,
        respondents_band=count_band(len(answers), ROLE_MINIMUM),
    )
