"""Property tests of the scoring rules (docs/scoring.md), for any ratings.

Every expected value here is worked out from the documented rule with exact fractions, not by
calling the code under test: a section score is the mean of the known agreed levels, the overall
maturity the unweighted mean of the priority scores, quartiles by the spreadsheet's inclusive
method, figures shown to one decimal rounding half away from zero.

The reference helpers (`exact_quartiles`, `round_half_away`, `score_fractions`) are shared with
the benchmarking and sector property tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.assessments.spread import BoardRatings
from api.scoring.maths import BANDS, band, disagreement, mean_or_none, one_decimal, percent, spread
from api.scoring.models import OVERALL_KEY
from api.scoring.report import SectionResult, _criterion, _section
from api.scoring.service import SectionMean, _rows_for
from api.settings import PROJECT_ROOT

# Reproducible in CI: the same examples every run, nothing saved between runs.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ---------------------------------------------------------------------------------------------
# The documented rules, exactly (fractions, never floats).


def round_half_away(value: Fraction, step: Fraction) -> Fraction:
    """To a multiple of `step`, half away from zero (2.25 → 2.3, -0.25 → -0.3)."""
    units = math.floor(abs(value) / step + Fraction(1, 2))
    return units * step if value >= 0 else -units * step


TENTH = Fraction(1, 10)
HALF = Fraction(1, 2)


def exact_quartiles(values: list[Fraction]) -> tuple[Fraction, Fraction, Fraction]:
    """Spreadsheet QUARTILE.INC: the p-quantile is at position (n - 1)·p of the sorted values,
    interpolating linearly between neighbours."""
    ordered = sorted(values)
    last = len(ordered) - 1

    def at(p: Fraction) -> Fraction:
        position = last * p
        below = math.floor(position)
        above = min(below + 1, last)
        return ordered[below] + (position - below) * (ordered[above] - ordered[below])

    return at(Fraction(1, 4)), at(Fraction(1, 2)), at(Fraction(3, 4))


def exact_mean(values: list[Fraction] | list[int]) -> Fraction:
    return Fraction(sum(values)) / len(values)


def as_float(value: Fraction) -> float:
    return float(value)


# A score as the service stores it: the mean of up to `most` agreed levels (0-4), kept exact.
def score_fractions(most: int = 12) -> st.SearchStrategy[Fraction]:
    return st.integers(1, most).flatmap(lambda d: st.integers(0, 4 * d).map(lambda n: Fraction(n, d)))


MIN_OTHERS = 5  # docs/scoring.md: "only when at least 5 members other than the reader have rated"
levels = st.integers(0, 4)
answers = st.lists(st.none() | levels, max_size=40)  # None is "not yet known"


def known(values: list[int | None]) -> list[int]:
    return [v for v in values if v is not None]


# ---------------------------------------------------------------------------------------------
# Section scores: the mean of the known agreed levels.


@PROPERTY
@given(agreed=answers, data=st.data())
def test_section_score_is_the_mean_of_known_levels_never_counting_not_yet_known_as_zero(
    agreed: list[int | None], data: st.DataObject
) -> None:
    present = known(agreed)
    score = mean_or_none(agreed)
    if not present:
        assert score is None
        return
    assert score == as_float(exact_mean(present))
    assert 0 <= score <= 4
    assert min(present) <= score <= max(present)
    # Order does not matter; "not yet known" anywhere changes nothing; it is never a 0.
    assert mean_or_none(data.draw(st.permutations(agreed), label="reordered")) == score
    assert mean_or_none([None, *agreed, None]) == score
    if max(present) > 0:
        assert mean_or_none([*agreed, 0]) < score


@PROPERTY
@example(score=Fraction(9, 4))  # docs/scoring.md: 2.25 → 2.3
@example(score=Fraction(19, 20))  # 0.95 is shown 1.0: Emerging, not Not started
@given(score=score_fractions(60) | st.integers(0, 400).map(lambda n: Fraction(n, 100)))
def test_score_is_shown_to_one_decimal_with_percent_and_band_from_the_score_as_shown(score: Fraction) -> None:
    shown = round_half_away(score, TENTH)
    assert one_decimal(as_float(score)) == as_float(shown)
    assert one_decimal(-as_float(score)) == -as_float(shown)  # a negative gap rounds away from zero too
    # Percent of the maximum 4, from the score as shown, to the nearest whole percent (halves up).
    expected_percent = int(round_half_away(shown * 25, Fraction(1)))
    assert percent(as_float(shown)) == expected_percent
    assert 0 <= expected_percent <= 100
    # Band: 0.0-0.9 not started, 1.0-1.9 emerging ... 4.0 embedded, from the shown score.
    assert band(as_float(score)) == BANDS[math.floor(shown)]
    assert (band(as_float(score)) == "Embedded") == (shown == 4)


_FRAMEWORK = yaml.safe_load(Path(PROJECT_ROOT / "assessments" / "race-equality-board-v1.yaml").read_text())
SHIPPED_SECTION_SIZES = [len(section["criteria"]) for section in _FRAMEWORK["sections"]]


def test_every_shipped_section_has_fewer_than_20_criteria() -> None:
    # docs/scoring.md: "a board is Embedded in a section only when every criterion there is agreed at
    # level 4". With one-decimal rounding that holds only for sections of fewer than 20 criteria
    # (19 × 4 + 3 over 20 is 3.95, shown 4.0, Embedded): true of the shipped framework.
    assert max(SHIPPED_SECTION_SIZES) < 20


@PROPERTY
@given(agreed=st.lists(levels, min_size=1, max_size=19))
def test_a_section_is_embedded_only_when_every_criterion_is_agreed_at_level_4(agreed: list[int]) -> None:
    assert (band(mean_or_none(agreed)) == "Embedded") == all(level == 4 for level in agreed)


# ---------------------------------------------------------------------------------------------
# Overall maturity: the unweighted mean of the priority section scores; BAF beside it.

PRIORITY_KEYS = [f"priority-{n}" for n in range(1, 11)]


@st.composite
def assessments(draw: st.DrawFn) -> dict[str, list[int | None]]:
    """Agreed levels per section: ten priorities of any size (some empty or not agreed yet) and BAF."""
    sections = {key: draw(st.lists(st.none() | levels, max_size=6), label=key) for key in PRIORITY_KEYS}
    sections["baf"] = draw(st.lists(st.none() | levels, max_size=6), label="baf")
    return sections


def _section_means(sections: dict[str, list[int | None]]) -> list[SectionMean]:
    # As the SQL aggregation gives them: a section with no agreed level has no row.
    return [
        SectionMean(key, "baf" if key == "baf" else "priority", mean_or_none(agreed), len(known(agreed)))
        for key, agreed in sections.items()
        if known(agreed)
    ]


def _overall_row(sections: list[SectionMean]) -> dict[str, object]:
    rows = _rows_for(1, sections)
    overall = [row for row in rows if row["section_key"] == OVERALL_KEY]
    assert len(overall) == 1
    return overall[0]


@settings(PROPERTY, max_examples=30)
@given(sections=assessments(), data=st.data())
def test_overall_is_the_unweighted_mean_of_priority_scores_with_baf_beside_it(
    sections: dict[str, list[int | None]], data: st.DataObject
) -> None:
    means = _section_means(sections)
    overall = _overall_row(means)
    priority_scores = [exact_mean(known(sections[key])) for key in PRIORITY_KEYS if known(sections[key])]
    # `count` is priorities_scored: how many of the ten it covers.
    assert overall["count"] == len(priority_scores)
    if not priority_scores:
        assert overall["score"] is None
        return
    expected = exact_mean(priority_scores)  # each priority weighs the same, whatever its size
    assert math.isclose(overall["score"], as_float(expected), abs_tol=1e-12)
    assert min(priority_scores) <= Fraction(overall["score"]) + Fraction(1, 10**12)
    assert Fraction(overall["score"]) - Fraction(1, 10**12) <= max(priority_scores)
    assert one_decimal(overall["score"]) == as_float(round_half_away(expected, TENTH))
    # Each section's own row is its mean, unchanged.
    for row in _rows_for(1, means):
        if row["section_key"] != OVERALL_KEY:
            assert row["score"] == as_float(exact_mean(known(sections[row["section_key"]])))
    # The order sections come in changes nothing.
    reordered = _overall_row(data.draw(st.permutations(means), label="reordered"))
    assert math.isclose(reordered["score"], overall["score"], abs_tol=1e-12)
    # BAF is reported beside the overall maturity, never inside it.
    other_baf = data.draw(st.lists(levels, min_size=1, max_size=9), label="other baf")
    changed = _section_means({**sections, "baf": other_baf})
    assert _overall_row(changed)["score"] == overall["score"]


# ---------------------------------------------------------------------------------------------
# Where members see it differently: spread, perception gap, flag for discussion.


@PROPERTY
@given(ratings=answers, data=st.data())
def test_members_spread_is_of_known_ratings_with_median_between_the_extremes(
    ratings: list[int | None], data: st.DataObject
) -> None:
    present = known(ratings)
    result = spread(ratings)
    assert result.count == len(present)
    if not present:
        assert (result.median, result.q1, result.q3, result.iqr, result.range) == (None,) * 5
        return
    assert (result.low, result.high) == (min(present), max(present))
    assert result.low <= result.q1 <= result.median <= result.q3 <= result.high
    assert result.iqr >= 0 and result.range == result.high - result.low
    q1, median, q3 = exact_quartiles([Fraction(v) for v in present])
    assert (result.q1, result.median, result.q3) == (as_float(q1), as_float(median), as_float(q3))
    assert spread(data.draw(st.permutations(ratings), label="reordered")) == result
    assert spread([None, *ratings]) == result


@PROPERTY
@given(ratings=answers, data=st.data())
def test_flag_for_discussion_exactly_when_known_ratings_are_three_apart_or_agreed_is_far_from_median(
    ratings: list[int | None], data: st.DataObject
) -> None:
    present = known(ratings)
    agreed = data.draw(st.none() | st.integers(0, 4), label="agreed")
    expected = bool(present) and (
        max(present) - min(present) >= 3
        or (
            agreed is not None
            and abs(Fraction(agreed) - exact_quartiles([Fraction(v) for v in present])[1]) >= Fraction(3, 2)
        )
    )
    assert disagreement(ratings, agreed) is expected
    assert disagreement(data.draw(st.permutations(ratings), label="reordered"), agreed) is expected
    assert disagreement([*ratings, None], agreed) is expected


def _board(by_criterion: dict[int, list[int | None]], closed: bool = True) -> BoardRatings:
    """Member i gave the i-th rating of each criterion; everyone was on the board at opening."""
    return BoardRatings(
        closed,
        {cid: [(i, level, "") for i, level in enumerate(levels)] for cid, levels in by_criterion.items()},
        {},
    )


def _criterion_result(  # noqa: ANN202
    criterion_id: int,
    ratings: list[int | None],
    agreed: int | None,
    viewer: int | None = None,
    closed: bool = True,
):
    criterion = SimpleNamespace(
        id=criterion_id, key=f"c{criterion_id}", statement="A criterion", member_rated=True
    )
    consensus = {criterion_id: SimpleNamespace(level=agreed, shared=False)}
    return _criterion(criterion, consensus, {}, _board({criterion_id: ratings}, closed), viewer)


def _others(members: Iterable[int], viewer: int | None) -> int:
    return sum(1 for member in members if member != viewer)


@PROPERTY
@example(ratings=[1, 2, None, 3, 3, 1, 2], agreed=3, viewer=None, closed=True)  # members' median 2: gap +1
@example(ratings=[4, 4, 3, None, 4, 4], agreed=2, viewer=None, closed=True)  # members' median 4: gap -2
@example(ratings=[4, 4, 3, 4, 4], agreed=2, viewer=0, closed=True)  # the reader is one of five: hidden
@given(
    ratings=answers,
    agreed=st.none() | levels,
    viewer=st.none() | st.integers(0, 9),
    closed=st.booleans(),
)
def test_criterion_perception_gap_from_at_least_five_members_other_than_the_reader(
    ratings: list[int | None], agreed: int | None, viewer: int | None, closed: bool
) -> None:
    result = _criterion_result(1, ratings, agreed, viewer, closed)
    present = known(ratings)
    assert result.rated == len(ratings) and result.not_yet_known == len(ratings) - len(present)
    assert result.consensus == agreed
    shown = closed and _others(range(len(ratings)), viewer) >= MIN_OTHERS
    known_others = _others((i for i, level in enumerate(ratings) if level is not None), viewer)
    if not shown or known_others < MIN_OTHERS:
        # Nobody's answer can be worked out: no median, spread or gap while rating is open, or
        # from fewer than 5 members other than the reader.
        assert (result.members_median, result.members_iqr, result.gap) == (None, None, None)
    else:
        # To one decimal, as every output shows them (docs/scoring.md).
        q1, median, q3 = exact_quartiles([Fraction(v) for v in present])
        assert result.members_median == as_float(round_half_away(median, TENTH))
        assert min(present) <= result.members_median <= max(present)
        assert result.members_iqr == as_float(round_half_away(q3 - q1, TENTH)) and result.members_iqr >= 0
        if agreed is None:
            assert result.gap is None
        else:
            # gap = agreed level − members' median as shown; positive when the board agreed higher.
            assert result.gap == as_float(round_half_away(agreed - round_half_away(median, TENTH), TENTH))
            assert (result.gap > 0) == (agreed > median)
    # Flagged when known ratings are 3 or more levels apart or the agreed level is 1.5 or more from
    # the members' median (exact), and only when the spread is shown.
    expected_flag = (
        shown
        and bool(present)
        and (
            max(present) - min(present) >= 3
            or (agreed is not None and abs(agreed - median) >= Fraction(3, 2))
        )
    )
    assert result.disagreement is expected_flag


@st.composite
def section_ratings(draw: st.DrawFn) -> list[list[int | None]]:
    """members × criteria: each member's rating of each criterion of one section (None: not yet known)."""
    criteria = draw(st.integers(1, 5), label="criteria")
    return draw(st.lists(st.lists(st.none() | levels, min_size=criteria, max_size=criteria), max_size=10))


@PROPERTY
@given(matrix=section_ratings())
def test_section_perception_gap_is_the_median_of_members_own_means(matrix: list[list[int | None]]) -> None:
    section = SimpleNamespace(id=7, key="accountability", title="Accountability", kind="priority", number=1)
    by_member_section: dict[tuple[int, int], list[int]] = {}
    for member, row in enumerate(matrix):
        if known(row):
            by_member_section[(section.id, member)] = known(row)
    columns = list(zip(*matrix, strict=True)) if matrix else []
    board = _board({i: list(column) for i, column in enumerate(columns)})
    result = _section(section, by_member_section, board, None)
    member_means = [exact_mean(known(row)) for row in matrix if known(row)]
    if len(member_means) < MIN_OTHERS:
        assert (result.members_median, result.members_iqr) == (None, None)
    else:
        # To one decimal, as every output shows them: a finer median could give a member's mean back.
        q1, median, q3 = exact_quartiles(member_means)
        assert result.members_median == as_float(round_half_away(median, TENTH))
        assert result.members_iqr == as_float(round_half_away(q3 - q1, TENTH))
        assert result.members_iqr >= 0
        half_tenth = Fraction(1, 20)
        assert min(member_means) - half_tenth <= Fraction(result.members_median)
        assert Fraction(result.members_median) <= max(member_means) + half_tenth
    # A section is flagged when any of its criteria is.
    criteria = [_criterion_result(i, list(column), None) for i, column in enumerate(columns)]
    flagged = SectionResult(
        key=section.key,
        title=section.title,
        kind=section.kind,
        number=section.number,
        score=result.score,
        members_median=None,
        members_iqr=None,
        gap=None,
        criteria=criteria,
    )
    assert flagged.disagreement == any(
        len(column) >= MIN_OTHERS
        and known(list(column))
        and max(known(list(column))) - min(known(list(column))) >= 3
        for column in columns
    )
