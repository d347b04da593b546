"""Property tests of the sector heatmap's suppression (docs/anonymity.md), for any sector and any K.

- No cell is shown from fewer than K trusts, and what is shown is the rounded statistic of the
  group's snapshot; a suppressed cell carries no figure, no count and no change; where the
  whole-sector cell is shown, never exactly one group cell in a row is hidden (secondary
  suppression); a column header says no more about a count than the range it shows.
- Differencing: the test plays the analyst. From the public answer alone (column headers, count
  ranges, participation, which cells are suppressed and why) and the register's trusts per group,
  it works out every count each suppressed group could have, and requires every count from none
  to K - 1 (or the group's trusts, if fewer) to remain possible: the totals add nothing to
  "fewer than K". Through the API, the whole-sector count is also the same in every breakdown.
- The maturity band table never shows (or leaves out) a band of fewer than K trusts, and shows
  shares, not counts.
- The respondent-role view and the headline figures need 11 people, from at least K trusts.

The heatmap and headline functions run for real; only their reads of the database are replaced
by snapshots built here. A last property seeds small sectors in the database and reads the
heatmap through the API as an analyst.
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from types import SimpleNamespace
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating
from api.benchmarking.maths import count_band
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import (
    HEADLINE_PREFIX,
    INDICATOR_PREFIX,
    ROLE_PREFIX,
    after_submission,
    refresh_snapshots,
)
from api.frameworks.models import Criterion, FrameworkSection
from api.organisations.models import Organisation
from api.scoring.maths import BANDS
from api.scoring.models import OVERALL_KEY
from api.scoring.service import store_scores_bulk
from api.sector import service as sector_service
from api.sector.routes import heatmap_public
from api.sector.service import BY_OPTIONS, ROLE_NAMES, headlines, heatmap
from api.settings import Settings
from tests.benchmarking.test_suppression_properties import (
    DB_PROPERTY,
    PEOPLE_TABLES,
    band_bounds,
    empty_trust_data,
    expected_figures,
)
from tests.factories import api_token_with_second_factor, bearer, make_cycle, make_user
from tests.scoring.test_scoring_properties import HALF, TENTH, exact_mean, round_half_away

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROWS = [("accountability", "Accountability"), ("baf", "Board assurance framework")]
SECTION_KEYS = [key for key, _title in ROWS]

# Counts of trusts: small ones around any K, and the edges of the documented count bands.
counts = st.integers(0, 12) | st.sampled_from([9, 10, 11, 19, 20, 21, 49, 50])


# ---------------------------------------------------------------------------------------------
# A sector in memory, and the heatmap functions run against it.


@dataclass
class Sector:
    by: str
    k: int
    trusts: dict[str, int]  # group value (None: no group) → trusts in it
    members: dict[str | None, list[int]]  # group value → its submitted trusts
    scores: dict[int, dict[str, Fraction]]
    closed: bool
    previous: dict[str, PeerSnapshot] = field(default_factory=dict)
    previous_scores: dict[tuple[str, str], list[Fraction]] = field(default_factory=dict)  # exact

    @property
    def everyone(self) -> list[int]:
        return sorted(i for ids in self.members.values() for i in ids)

    def snapshot(self, key: str, ids: list[int]) -> PeerSnapshot | None:
        # Taken once K in the group have submitted, and for every group after the cycle closes.
        if len(ids) < self.k and not (self.closed and ids):
            return None
        return PeerSnapshot(
            cycle_id=1,
            group_kind="all" if key == "all" else self.by,
            group_value=key,
            assessment_ids=ids,
            scores={
                section: {str(i): float(self.scores[i][section]) for i in ids}
                for section in [*SECTION_KEYS, OVERALL_KEY]
            },
            final=self.closed,
        )

    def snapshots(self) -> dict[str, PeerSnapshot]:
        taken = {g: self.snapshot(g, ids) for g, ids in self.members.items() if g is not None}
        taken["all"] = self.snapshot("all", self.everyone)
        return {key: s for key, s in taken.items() if s is not None}


def _scores(rng: random.Random) -> dict[str, Fraction]:
    def one() -> Fraction:
        d = rng.randint(1, 8)
        return Fraction(rng.randint(0, 4 * d), d)

    return {key: one() for key in [*SECTION_KEYS, OVERALL_KEY]}


def sector_of(
    by: str, k: int, groups: dict[str | None, tuple[int, int]], closed: bool = False, seed: int = 0
) -> Sector:
    """`groups`: group value (None: trusts in no group) → (trusts, how many submitted)."""
    ids = itertools.count(1)
    members = {g: [next(ids) for _ in range(submitted)] for g, (_trusts, submitted) in groups.items()}
    rng = random.Random(seed)
    return Sector(
        by=by,
        k=k,
        trusts={g: trusts for g, (trusts, _submitted) in groups.items()},
        members=members,
        scores={i: _scores(rng) for ids_ in members.values() for i in ids_},
        closed=closed,
    )


@st.composite
def sectors(draw: st.DrawFn) -> Sector:
    by = draw(st.sampled_from(list(BY_OPTIONS)), label="by")
    k = draw(st.integers(2, 10), label="K")
    groups: list[str | None] = list(sector_service._group_values(by))
    if by == "size_band":
        groups.append(None)  # trusts whose size is not known: in "all", in no size group
    sizes = {}
    for group in groups:
        submitted = draw(counts, label=f"{group} submitted")
        sizes[group] = (submitted + draw(st.integers(0, 12) | st.just(0), label=f"{group} others"), submitted)
    sector = sector_of(
        by,
        k,
        sizes,
        closed=draw(st.booleans(), label="closed"),
        seed=draw(st.integers(0, 2**16), label="seed"),
    )
    if draw(st.booleans(), label="previous cycle"):
        rng = random.Random(sector.k)
        for key in [*(g for g in groups if g is not None), "all"]:
            size = draw(counts, label=f"{key} last year")
            old = {i: _scores(rng) for i in range(1000, 1000 + size)}
            if size >= k:
                sector.previous[key] = PeerSnapshot(
                    cycle_id=0,
                    group_kind="all" if key == "all" else by,
                    group_value=key,
                    assessment_ids=sorted(old),
                    scores={s: {str(i): float(v[s]) for i, v in old.items()} for s in SECTION_KEYS},
                )
                for section in SECTION_KEYS:
                    sector.previous_scores[(key, section)] = [v[section] for v in old.values()]
    return sector


class _Sections:
    """Stands in for the session: the heatmap's one direct query is the framework's sections."""

    def exec(self, _statement: object) -> SimpleNamespace:
        return SimpleNamespace(all=lambda: list(ROWS))


THIS_CYCLE = SimpleNamespace(id=1, name="2026/27", framework_id=1)
LAST_CYCLE = SimpleNamespace(id=0, name="2025/26", framework_id=1)


@contextmanager
def reading(sector: Sector) -> Iterator[None]:
    current = sector.snapshots()

    def snapshots(_session: object, cycle: SimpleNamespace, _by: str, _k: int) -> dict[str, PeerSnapshot]:
        return current if cycle is THIS_CYCLE else sector.previous

    def trusts_per_group(_session: object, _by: str) -> dict[str | None, int]:
        counts = {g: n for g, n in sector.trusts.items() if n}
        return {**counts, "all": sum(counts.values())}

    with (
        mock.patch.object(sector_service, "_snapshots", snapshots),
        mock.patch.object(sector_service, "_trusts_per_group", trusts_per_group),
        mock.patch.object(sector_service, "_breakdowns", lambda _s, _c, _kinds: []),  # one breakdown here
        mock.patch.object(
            sector_service, "previous_cycle", lambda _s, _c: LAST_CYCLE if sector.previous else None
        ),
    ):
        yield


# ---------------------------------------------------------------------------------------------
# What an analyst can work out from the public answer.


def _interval(values: set[int]) -> tuple[int, int]:
    assert values, "the analyst's deductions exclude the truth: the test's model is wrong"
    lo, hi = min(values), max(values)
    assert values == set(range(lo, hi + 1))  # so interval arithmetic below is exact
    return lo, hi


def shown_range(text: str) -> tuple[int, int | None]:
    """The counts a published count stands for: "fewer than 50", "20–49", "50–199", "100 or more"."""
    if match := re.fullmatch(r"fewer than (\d+)", text):
        return 0, int(match[1]) - 1
    if match := re.fullmatch(r"(\d+)–(\d+)", text):
        return int(match[1]), int(match[2])
    match = re.fullmatch(r"(\d+) or more", text)
    assert match, f"not a published count: {text!r}"
    return int(match[1]), None


def _within(text: str, most: int) -> set[int]:
    lo, hi = shown_range(text)
    return set(range(lo, most + 1 if hi is None else min(hi, most) + 1))


def column_counts(column: dict, k: int) -> set[int]:
    """Every number of submissions consistent with a column's header: its range (the participation
    percent is worked out from the range alone: check_headers_say_no_more_than_their_band)."""
    return _within(column["submitted_band"], column["trusts"])


def cell_counts(cell: dict, k: int, most: int) -> set[int]:
    """Every count consistent with one cell: its range, or why it is suppressed."""
    if not cell["suppressed"]:  # shown: K or more, within the range shown
        return _within(cell["n"], most) & set(range(k, most + 1))
    if cell["suppression"] == "secondary":
        # A group's cell: hidden although it has K or more. The whole-sector cell: hidden because
        # its range reaches below K, whatever the count.
        return set(range(most + 1)) if cell["group"] == "all" else set(range(k, most + 1))
    return set(range(min(k, most + 1)))


def worked_out(parts: dict[str, set[int]], total: set[int]) -> dict[str, tuple[int, int]]:
    """For each part, the range of values it can take when the parts add up to the total."""
    bounds = {name: _interval(values) for name, values in parts.items()}
    total_lo, total_hi = _interval(total)
    low_sum = sum(lo for lo, _hi in bounds.values())
    high_sum = sum(hi for _lo, hi in bounds.values())
    result = {}
    for name, (lo, hi) in bounds.items():
        others_lo, others_hi = low_sum - lo, high_sum - hi
        result[name] = (max(lo, total_lo - others_hi), min(hi, total_hi - others_lo))
    return result


def check_no_hidden_count_can_be_worked_out(answer: dict, k: int, truth: dict[str | None, int]) -> None:
    """`truth`: each group's (and None: no group's) real number of submissions behind the answer."""
    columns = {c["key"]: c for c in answer["columns"]}
    group_keys = [key for key in columns if key != "all"]
    no_group_trusts = columns["all"]["trusts"] - sum(columns[g]["trusts"] for g in group_keys)
    for section in [row["key"] for row in answer["rows"]]:
        cells = {c["group"]: c for c in answer["cells"] if c["section"] == section}
        known = {
            key: column_counts(columns[key], k) & cell_counts(cells[key], k, columns[key]["trusts"])
            for key in columns
        }
        parts = {g: known[g] for g in group_keys}
        parts["(no group)"] = set(range(no_group_trusts + 1))
        deduced = worked_out(parts, known["all"])
        for group in group_keys:
            true_count = truth.get(group, 0)
            lo, hi = deduced[group]
            assert lo <= true_count <= hi, "the analyst's deductions exclude the truth: the model is wrong"
            trusts = columns[group]["trusts"]
            if cells[group]["suppression"] == "fewer than K" and trusts > 0:
                assert (lo, hi) == (0, min(k - 1, trusts)), (
                    f"{section} × {group}: hidden as fewer than {k}, but the totals narrow its count "
                    f"{true_count} to {lo}–{hi}: {answer['columns']}, "
                    f"{[(c['group'], c['n'], c['suppression']) for c in cells.values()]}"
                )


def check_headers_say_no_more_than_their_band(answer: dict, k: int) -> None:
    """A column's participation percent adds nothing to its count: it is the middle of the range
    shown (capped at the group's trusts), to the nearest 10; none for a range from none. A group's
    range is its own count band."""
    for column in answer["columns"]:
        lo, hi = shown_range(column["submitted_band"])
        trusts = column["trusts"]
        top = trusts if hi is None else min(hi, trusts)
        expected = (
            None if lo == 0 or not trusts else int(round_half_away(Fraction(lo + top, 2 * trusts) * 100, 10))
        )
        assert column["participation_percent"] == expected, (
            f"{column}: participation from more than the range"
        )
        if column["key"] != "all":
            assert column["submitted_band"] in (count_band(s, k) for s in range(trusts + 1)), column


def check_cells(answer: dict, k: int, values_of: dict[tuple[str, str], list[Fraction]], previous) -> None:  # noqa: ANN001
    """Every shown cell is the rounded statistic of K or more of its group's trusts; no hidden cell
    carries a figure; where the whole-sector cell is shown, never exactly one group cell is hidden."""
    empty = {c["key"] for c in answer["columns"] if c["trusts"] == 0}
    columns = {c["key"]: c for c in answer["columns"]}
    no_group = columns["all"]["trusts"] - sum(c["trusts"] for key, c in columns.items() if key != "all")
    for cell in answer["cells"]:
        values = values_of[(cell["section"], cell["group"])]
        figures = (cell["q1"], cell["median"], cell["q3"])
        if cell["suppressed"]:
            assert figures == (None, None, None) and cell["n"] is None and cell["change"] is None
            assert cell["suppression"] in ("fewer than K", "secondary")
            if cell["group"] == "all":  # hidden too where showing it would narrow a hidden group
                assert cell["suppression"] == "secondary" or len(values) < k
            else:
                assert (cell["suppression"] == "fewer than K") == (len(values) < k)
            continue
        expected = expected_figures(values, k)
        assert expected is not None, f"a cell shown from {len(values)} trusts, K={k}"
        assert figures == expected[:3]
        lo, hi = shown_range(cell["n"])
        assert lo <= len(values) and (hi is None or len(values) <= hi)
        assert cell["n"] == columns[cell["group"]]["submitted_band"]  # every section is scored
        old = previous(cell["section"], cell["group"])
        if cell["change"] is not None:
            old_expected = expected_figures(old, k)
            assert old_expected is not None
            assert cell["change"] == round(expected[1] - old_expected[1], 1)
    for section in [row["key"] for row in answer["rows"]]:
        row = [c for c in answer["cells"] if c["section"] == section]
        everyone = next(c for c in row if c["group"] == "all")
        hidden = [c for c in row if c["group"] not in ("all", *empty) and c["suppressed"]]
        if not everyone["suppressed"] and no_group == 0:
            # (Trusts in no group, such as of unknown size, are a part nobody sees: no subtraction.)
            assert len(hidden) != 1, (
                f"exactly one hidden cell in {section}, the total less the rest: "
                f"{[(c['group'], c['n'], c['suppression']) for c in row]} {answer['columns']}"
            )


# ---------------------------------------------------------------------------------------------
# The heatmap, for any sector and any K.


def _run(sector: Sector) -> dict:
    with reading(sector):
        result = heatmap(_Sections(), THIS_CYCLE, sector.by, sector.k)
    return heatmap_public(result).model_dump(mode="json")


@PROPERTY
@given(sector=sectors())
def test_no_heatmap_cell_is_shown_from_fewer_than_k_trusts(sector: Sector) -> None:
    answer = _run(sector)
    snapshots = sector.snapshots()

    def values(section: str, key: str) -> list[Fraction]:
        snapshot = snapshots.get(key)
        return [sector.scores[i][section] for i in snapshot.assessment_ids] if snapshot else []

    def previous(section: str, key: str) -> list[Fraction]:
        return sector.previous_scores.get((key, section), [])

    values_of = {(s, c["key"]): values(s, c["key"]) for s in SECTION_KEYS for c in answer["columns"]}
    check_cells(answer, sector.k, values_of, previous)
    check_headers_say_no_more_than_their_band(answer, sector.k)
    check_changes_against_last_year_as_published(sector, answer)
    event(f"hidden cells: {sum(c['suppressed'] for c in answer['cells'])}")


def check_changes_against_last_year_as_published(sector: Sector, answer: dict) -> None:
    """A change only where this year's cell and last year's published cell are both shown: a cell
    hidden last year (below K, secondary, or the whole-sector hold-back) gives no change, so its
    figure cannot be worked out as this year's median less the change."""
    if not sector.previous:
        assert all(cell["change"] is None for cell in answer["cells"])
        return
    with reading(sector):
        published = heatmap_public(sector_service._published(_Sections(), LAST_CYCLE, sector.by, sector.k))
    last_year = {(c.section, c.group): c for c in published.cells}
    for cell in answer["cells"]:
        old = last_year[(cell["section"], cell["group"])]
        if cell["suppressed"] or old.suppressed:
            assert cell["change"] is None, f"a change against a hidden cell: {cell}, last year {old}"
        else:
            assert cell["change"] == round(cell["median"] - old.median, 1)


# Sectors where, with the whole-sector count shown as its own band, the analyst could work out
# exactly how many trusts of a suppressed group submitted, from the count bands alone.
KNOWN_SUBTRACTIONS = [
    # K = 5 and the shipped register's size groups (30, 77, 78 and 17 trusts): 30, 49 and 17
    # submitted show as "20–49" (of 30), "20–49" and "10–19" (of 17), at most 96 between them; the
    # total shows "100–199", so the suppressed group has exactly 4.
    sector_of(
        "size_band",
        5,
        {"under_3000": (30, 30), "3000_6999": (77, 4), "7000_11999": (78, 49), "12000_plus": (17, 17)},
    ),
    # K = 3, by type: "3–9" acute, "3–9" non-acute, "20–49" in all: ambulance has exactly 2.
    sector_of("trust_type", 3, {"acute": (134, 9), "non_acute": (58, 9), "ambulance": (10, 2)}),
]


@PROPERTY
@example(sector=KNOWN_SUBTRACTIONS[0])
@example(sector=KNOWN_SUBTRACTIONS[1])
@given(sector=sectors())
def test_a_suppressed_count_cannot_be_worked_out_from_the_totals(sector: Sector) -> None:
    truth = {g: len(ids) for g, ids in sector.members.items() if g is not None}
    check_no_hidden_count_can_be_worked_out(_run(sector), sector.k, truth)


@st.composite
def band_spreads(draw: st.DrawFn) -> tuple[int, list[int], int]:
    k = draw(st.integers(2, 10), label="K")
    per_band = [draw(counts, label=name) for name in BANDS]
    trusts = sum(per_band) + draw(st.integers(0, 30), label="not submitted")
    return k, per_band, trusts


def _run_of(name: str) -> list[str]:
    """The maturity bands one entry of the table stands for: "Developing", "Established or
    Embedded", "Not started to Developing"."""
    if name in BANDS:
        return [name]
    if " or " in name:
        return name.split(" or ")
    first, last = name.split(" to ")
    return list(BANDS[BANDS.index(first) : BANDS.index(last) + 1])


@PROPERTY
@example(spread=(5, [9, 9, 9, 19, 4], 60), closed=False)  # 4 Embedded was 50 less the rest
@example(spread=(5, [4, 4, 4, 4, 4], 40), closed=False)  # each 4 was, with "20–49" in all
@example(spread=(3, [3, 0, 4, 0, 0], 9), closed=False)  # 7 trusts: shares to 20 points
@given(spread=band_spreads(), closed=st.booleans())
def test_the_maturity_band_table_shows_no_band_of_fewer_than_k_trusts(
    spread: tuple[int, list[int], int], closed: bool
) -> None:
    k, per_band, _trusts = spread
    # Overall scores inside each band: 0.0-0.9 not started … 4.0 embedded.
    tenths = {
        BANDS[0]: (0, 9),
        BANDS[1]: (10, 19),
        BANDS[2]: (20, 29),
        BANDS[3]: (30, 39),
        BANDS[4]: (40, 40),
    }
    rng = random.Random(sum(per_band) * 31 + k)
    overall = [
        Fraction(rng.randint(*tenths[name]), 10)
        for name, n in zip(BANDS, per_band, strict=True)
        for _ in range(n)
    ]
    total = len(overall)
    snapshot = None
    if total >= k or (closed and total):
        snapshot = PeerSnapshot(
            cycle_id=1,
            group_kind="all",
            group_value="all",
            assessment_ids=list(range(total)),
            scores={OVERALL_KEY: {str(i): float(v) for i, v in enumerate(overall)}},
        )
    table = sector_service._band_spread(snapshot, k)
    if snapshot is None or total < k:
        assert table == [(name, None) for name in BANDS]
        return
    # Every band is in exactly one entry, in order; every entry is K or more trusts, as a share of
    # all that submitted. Nothing is left out, so nothing can be worked out by taking the rest from
    # the total; shares, not counts, so they add up to no count at all.
    covered = []
    for name, percent in table:
        run = _run_of(name)
        n = sum(per_band[BANDS.index(b)] for b in run)
        assert percent is not None and n >= k, f"{name}: {n} trusts shown (K={k})"
        assert percent == int(round_half_away(Fraction(n * 100, total), 10 if total >= 10 else 20))
        covered += run
    assert covered == list(BANDS)
    # Bands are joined only as far as needed: an entry of several bands holds fewer than K without its top one
    for name, _band in table[:-1]:
        run = _run_of(name)
        assert sum(per_band[BANDS.index(b)] for b in run[:-1]) < k


# ---------------------------------------------------------------------------------------------
# The respondent-role view and the headline figures.


@dataclass
class Respondents:
    k: int
    closed: bool
    # per trust (assessment id): [(respondent id, role, headline answer, {section: own mean})]
    boards: dict[int, list[tuple[int, str, int | None, dict[str, Fraction]]]]
    indicators: dict[int, dict[str, int]]

    def snapshot(self) -> PeerSnapshot | None:
        if len(self.boards) < self.k and not (self.closed and self.boards):
            return None
        scores: dict[str, dict[str, float]] = {}
        for a, people in self.boards.items():
            for r, role, headline, means in people:
                if headline is not None:
                    scores.setdefault(f"{HEADLINE_PREFIX}{role}", {})[f"{a}.{r}"] = float(headline)
                for section, mean in means.items():
                    scores.setdefault(f"{ROLE_PREFIX}{role}:{section}", {})[f"{a}.{r}"] = float(mean)
            for indicator, level in self.indicators[a].items():
                scores.setdefault(f"{INDICATOR_PREFIX}{indicator}", {})[str(a)] = float(level)
        return PeerSnapshot(
            cycle_id=1, group_kind="all", group_value="all", assessment_ids=sorted(self.boards), scores=scores
        )


PEOPLE_MINIMUM = 11  # the role view's documented minimum ("Each figure needs at least 11 people")
INDICATORS = {"embedded_in_business": 4, "race_equality_in_baf": 3, "board_diversity": 2}


@st.composite
def respondents(draw: st.DrawFn) -> Respondents:
    """Boards of any make-up: how many of each role is drawn; their answers come from a seeded RNG."""
    k = draw(st.integers(2, 8), label="K")
    rng = random.Random(draw(st.integers(0, 2**16), label="answers"))
    people = itertools.count(1)
    boards = {}
    indicators = {}
    for a in range(1, draw(st.integers(0, 14), label="trusts") + 1):
        board = []
        for role in ROLE_NAMES:
            for _ in range(draw(st.integers(0, 1 if role == "chair" else 7), label=role)):
                headline = None if rng.random() < 0.2 else rng.randint(0, 10)
                means = {s: Fraction(rng.randint(0, 8), 2) for s in SECTION_KEYS if rng.random() < 0.8}
                board.append((next(people), role, headline, means))
        boards[a] = board
        indicators[a] = {name: rng.randint(0, 4) for name in INDICATORS if rng.random() < 0.8}
    return Respondents(k, draw(st.booleans(), label="closed"), boards, indicators)


def chairs_only(trusts: int, k: int = 5) -> Respondents:
    """`trusts` boards, each with only its chair answering: 8, and 3 for accountability."""
    boards = {a: [(a, "chair", 8, {"accountability": Fraction(3)})] for a in range(1, trusts + 1)}
    return Respondents(k, False, boards, {a: {} for a in boards})


def _percent(part: int, whole: int) -> int:
    """docs/anonymity.md: a share to 1 point from a base of 100, 5 from 20 to 99, 10 from 10 to 19,
    20 from 5 to 9; below 5, to the finest of 25, 50 and 100 points that one cannot move it past."""
    step = 1 if whole >= 100 else 5 if whole >= 20 else 10 if whole >= 10 else 20 if whole >= 5 else 0
    step = step or (25 if whole == 4 else 50 if whole >= 2 else 100)
    return int(round_half_away(Fraction(100 * part, whole), Fraction(step)))


def _people_figure(value: Fraction, people: int) -> float:
    """A figure from people: to one decimal from 22 (2 x 11) people, only halves below."""
    return float(round_half_away(value, TENTH if people >= 2 * PEOPLE_MINIMUM else HALF))


@PROPERTY
@example(view=chairs_only(10))  # 10 people: nothing shown
@example(view=chairs_only(11))  # 11 people from 11 trusts: shown, to halves
@example(view=chairs_only(22))  # 22 people: to one decimal; shares of 22 to 5 points
@example(view=chairs_only(100))  # shares of 100 people to 1 point
@given(view=respondents())
def test_role_view_and_headlines_need_eleven_people_from_k_trusts(view: Respondents) -> None:
    snapshot = view.snapshot()
    with (
        mock.patch.object(
            sector_service, "_snapshots", lambda *_a: {"all": snapshot} if snapshot is not None else {}
        ),
        mock.patch.object(sector_service, "_breakdowns", lambda *_a: []),  # no group hidden
    ):
        result = headlines(_Sections(), THIS_CYCLE, view.k)
    # Nothing from the whole sector, not even the respondents' count, once fewer than K trusts
    # submitted (a closed cycle has a snapshot of however many did): api/sector/disclosure.py.
    boards = view.boards if snapshot is not None and len(view.boards) >= view.k else {}

    def enough(answers: list[tuple[int, Fraction]]) -> bool:
        # 11 people, and (as every sector figure) from at least K trusts.
        return len(answers) >= PEOPLE_MINIMUM and len({a for a, _v in answers}) >= view.k

    everyone = [
        (a, Fraction(h)) for a, people in boards.items() for _r, _role, h, _m in people if h is not None
    ]
    lo, hi = band_bounds(result.respondents_band, PEOPLE_MINIMUM) or (0, PEOPLE_MINIMUM - 1)
    assert lo <= len(everyone) and (hi is None or len(everyone) <= hi)
    if enough(everyone):
        values = [v for _a, v in everyone]
        assert result.headline_mean == _people_figure(exact_mean(values), len(values))
        assert result.headline_share_8_to_10 == _percent(sum(v >= 8 for v in values), len(values))
        assert result.headline_share_10 == _percent(sum(v >= 10 for v in values), len(values))
    else:
        assert (result.headline_mean, result.headline_share_8_to_10, result.headline_share_10) == (None,) * 3
    for row, role in zip(result.roles, ROLE_NAMES, strict=True):
        answers = [
            (a, Fraction(h))
            for a, people in boards.items()
            for _r, rl, h, _m in people
            if rl == role and h is not None
        ]
        expected_mean = (
            _people_figure(exact_mean([v for _a, v in answers]), len(answers)) if enough(answers) else None
        )
        assert row.headline_mean == expected_mean
        for section, value in row.cells:
            means = [
                (a, m[section])
                for a, people in boards.items()
                for _r, rl, _h, m in people
                if rl == role and section in m
            ]
            if enough(means):
                assert value == _people_figure(
                    Fraction(statistics.median([v for _a, v in means])), len(means)
                )
            else:
                assert value is None, (
                    f"{row.role} {section}: from {len(means)} people at {len({a for a, _ in means})} trusts"
                )
    for share, (indicator, at_least) in zip(result.shares, INDICATORS.items(), strict=True):
        levels = [view.indicators[a][indicator] for a in boards if indicator in view.indicators[a]]
        if len(levels) < view.k:
            assert share.percent is None
        else:
            assert share.percent == _percent(sum(level >= at_least for level in levels), len(levels))


# ---------------------------------------------------------------------------------------------
# Through the database and the API, as an analyst.


@pytest.fixture
def analyst_token(client: TestClient, db: Session) -> str:
    """A sector analyst signed in to the API (with their second factor) once, for every example."""
    make_user(db, "analyst@np.example.org", platform_role="sector_analyst")
    return api_token_with_second_factor(client, db, "analyst@np.example.org")


@DB_PROPERTY
@given(data=st.data())
def test_the_heatmap_api_never_shows_a_cell_from_fewer_than_k_trusts(
    client: TestClient, clean_database: Engine, settings: Settings, analyst_token: str, data: st.DataObject
) -> None:
    """A small sector of real trusts (clusters around K in one type, one region and another type),
    signed off in a random order through the real scoring and snapshot services, perhaps closed;
    then the analyst's heatmap by type, region and size from the API: every cell shown is the
    rounded statistic of K or more submitted trusts of its group (scores worked out by hand)."""
    app_k = settings.k_anonymity  # the K the app under test reads
    engine = clean_database
    empty_trust_data(engine, keep=PEOPLE_TABLES)  # each example: the reference data and the analyst alone
    with Session(engine, expire_on_commit=False) as session:
        cycle = make_cycle(session)
        organisations = list(session.exec(select(Organisation).order_by(Organisation.ods_code)).all())
        framework = session.exec(
            select(FrameworkSection, Criterion)
            .join(Criterion, Criterion.section_id == FrameworkSection.id)
            .where(Criterion.framework_id == cycle.framework_id)
        ).all()
        # Trusts: a cluster of up to 2K+1 in a type, in a region and in another type; some left as drafts.
        picked: dict[int, Organisation] = {}
        for attribute in ("peer_type", "region", "peer_type"):
            value = data.draw(
                st.sampled_from(sorted({getattr(o, attribute) for o in organisations})), label=attribute
            )
            pool = [o for o in organisations if getattr(o, attribute) == value]
            how_many = data.draw(st.integers(0, min(len(pool), 2 * app_k + 1)), label="how many")
            for organisation in data.draw(st.permutations(pool), label="which")[:how_many]:
                picked[organisation.id] = organisation
        submitted: list[Assessment] = []
        scores: dict[int, dict[str, Fraction]] = {}
        assessments = [
            Assessment(organisation_id=o.id, cycle_id=cycle.id, framework_id=cycle.framework_id)
            for o in picked.values()
        ]
        session.add_all(assessments)
        session.flush()
        rows = []
        for organisation, assessment in zip(picked.values(), assessments, strict=True):
            tendency = data.draw(st.integers(0, 4), label="tendency")
            rng = random.Random(data.draw(st.integers(0, 2**16), label="levels"))
            levels: dict[str, list[int]] = {}
            for section, criterion in framework:
                if criterion.applies_to and organisation.trust_type not in criterion.applies_to:
                    continue
                level = min(4, max(0, tendency + rng.choice((-2, -1, 0, 0, 1))))
                levels.setdefault(section.key, []).append(level)
                rows.append({"assessment_id": assessment.id, "criterion_id": criterion.id, "level": level})
            scores[assessment.id] = {key: exact_mean(agreed) for key, agreed in levels.items()}
            if data.draw(st.integers(0, 5), label="submits") > 0:
                submitted.append(assessment)
        if rows:
            session.execute(insert(ConsensusRating), rows)
        store_scores_bulk(session, [a.id for a in submitted])
        for assessment in data.draw(st.permutations(submitted), label="sign-off order"):
            assessment.status = "submitted"
            session.add(assessment)
            session.flush()
            after_submission(session, assessment, app_k)
        closed = data.draw(st.booleans(), label="closed")
        if closed:
            refresh_snapshots(session, cycle, app_k, today=date(2027, 4, 1))
        session.commit()

        snapshots = list(session.exec(select(PeerSnapshot).where(PeerSnapshot.cycle_id == cycle.id)).all())
        organisation_of = {a.id: picked[a.organisation_id] for a in submitted}
        totals: set[str] = set()
        for by in BY_OPTIONS:
            response = client.get(
                "/api/v1/sector/heatmap",
                params={"cycle": cycle.name, "by": by},
                headers=bearer(analyst_token),
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            taken = {
                ("all" if s.group_kind == "all" else s.group_value): s
                for s in snapshots
                if s.group_kind in (by, "all")
            }
            values_of = {}
            for section in {c["section"] for c in answer["cells"]}:
                for column in answer["columns"]:
                    snapshot = taken.get(column["key"])
                    ids = snapshot.assessment_ids if snapshot else []
                    # Only submitted trusts of that group, with the scores worked out by hand.
                    assert all(i in organisation_of for i in ids)
                    if column["key"] != "all":
                        assert all(
                            getattr(organisation_of[i], by if by != "trust_type" else "peer_type")
                            == column["key"]
                            for i in ids
                        )
                    values_of[(section, column["key"])] = [
                        scores[i][section] for i in ids if section in scores[i]
                    ]
            check_cells(answer, app_k, values_of, lambda _s, _g: [])
            check_headers_say_no_more_than_their_band(answer, app_k)
            if closed:
                # The final snapshots all hold the same submissions (while a cycle is open, a group's
                # snapshot and the whole sector's are refreshed at different times, so the groups'
                # counts need not add up to the total; the difference only hides more).
                truth = {key: len(s.assessment_ids) for key, s in taken.items() if key != "all"}
                check_no_hidden_count_can_be_worked_out(answer, app_k, truth)
            totals.add(next(c["submitted_band"] for c in answer["columns"] if c["key"] == "all"))
            event(f"{by}: {sum(not c['suppressed'] for c in answer['cells'])} cells shown")
        assert len(totals) == 1, f"the whole-sector count differs between breakdowns: {totals}"
