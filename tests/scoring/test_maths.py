"""The scoring rules by hand (docs/scoring.md)."""

from __future__ import annotations

import pytest

from api.scoring.maths import band, disagreement, mean_or_none, one_decimal, percent, quartiles, spread


def test_mean_leaves_out_not_yet_known_instead_of_counting_it_as_zero() -> None:
    assert mean_or_none([2, None, 4]) == 3.0
    assert mean_or_none([None, None]) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2.25, 2.3), (2.24, 2.2), (2.35, 2.4), (0.05, 0.1), (-0.25, -0.3), (-0.24, -0.2), (4.0, 4.0)],
)
def test_scores_are_shown_to_one_decimal_rounding_half_away_from_zero(value: float, shown: float) -> None:
    assert one_decimal(value) == shown


@pytest.mark.parametrize(
    ("score", "name"),
    [
        (0.0, "Not started"),
        (0.94, "Not started"),
        (0.95, "Emerging"),  # shown as 1.0
        (1.9, "Emerging"),
        (2.0, "Developing"),
        (2.96, "Established"),  # shown as 3.0
        (3.94, "Established"),
        (3.95, "Embedded"),
        (4.0, "Embedded"),
    ],
)
def test_band_follows_the_score_as_shown(score: float, name: str) -> None:
    assert band(score) == name


def test_percent_of_the_maximum() -> None:
    assert percent(2.8) == 70
    assert percent(4.0) == 100
    assert percent(None) is None


def test_quartiles_inclusive_method() -> None:
    assert quartiles([1, 2, 3, 4, 5]) == (2.0, 3.0, 4.0)
    assert quartiles([2]) == (2, 2, 2)


def test_spread_counts_known_levels_only() -> None:
    result = spread([1, None, 3, 3, 4])
    assert (result.count, result.median, result.low, result.high, result.range) == (4, 3.0, 1, 4, 3)


def test_disagreement_is_three_levels_apart_or_an_agreed_level_far_from_the_median() -> None:
    # The ordinary one- or two-level scatter of a board is not flagged (it was on every priority).
    assert disagreement([1, 3]) is False
    assert disagreement([1, 2, 2, 3, 3, 3, 2]) is False
    assert disagreement([1, 4]) is True
    assert disagreement([0, 2, 3]) is True
    assert disagreement([None, 0, 1]) is False
    # Members' median 3: an agreed 1 is 2 levels away, an agreed 2 only 1, 1.5 exactly is flagged.
    assert disagreement([2, 3, 3], agreed=1) is True
    assert disagreement([2, 3, 3], agreed=2) is False
    assert disagreement([2, 3, 3, 2], agreed=1) is True
    assert disagreement([None, None], agreed=0) is False
