"""Anonymity maths by hand: suppression, count bands, precision, quartile placement."""

from __future__ import annotations

import pytest

from api.benchmarking.maths import count_band, peer_stats, precision_for, quartile_of, round_to


@pytest.mark.parametrize(
    ("n", "band"),
    [
        (0, "fewer than 5"),
        (4, "fewer than 5"),
        (5, "5–9"),
        (9, "5–9"),
        (10, "10–19"),
        (19, "10–19"),
        (20, "20–49"),
        (150, "100–199"),
        (10_000, "10000 or more"),
    ],
)
def test_counts_are_shown_only_as_bands(n: int, band: str) -> None:
    assert count_band(n, 5) == band


def test_nothing_is_computed_from_fewer_than_k_values() -> None:
    stats = peer_stats([1.0, 2.0, 3.0, 4.0], k=5)
    assert stats.suppressed and (stats.median, stats.q1, stats.q3) == (None, None, None)


def test_k_values_give_figures_rounded_to_halves() -> None:
    stats = peer_stats([1.1, 1.9, 2.2, 2.8, 3.3], k=5)
    assert not stats.suppressed
    assert (stats.q1, stats.median, stats.q3, stats.precision) == (2.0, 2.0, 3.0, 0.5)


def test_two_k_values_or_more_give_one_decimal() -> None:
    values = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8]
    stats = peer_stats(values, k=5)
    assert stats.precision == 0.1
    assert stats.median == 1.9


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(2.24, 0.5, 2.0), (2.25, 0.5, 2.5), (2.74, 0.5, 2.5), (2.75, 0.5, 3.0), (2.25, 0.1, 2.3)],
)
def test_round_to_step(value: float, step: float, expected: float) -> None:
    assert round_to(value, step) == expected


def test_precision_switches_at_two_k() -> None:
    assert precision_for(9, 5) == 0.5
    assert precision_for(10, 5) == 0.1


def test_quartile_is_placed_against_the_figures_as_shown() -> None:
    stats = peer_stats([1.0, 2.0, 2.0, 3.0, 4.0], k=5)  # q1 2.0, median 2.0, q3 3.0
    assert quartile_of(1.9, stats) == 1
    assert quartile_of(2.0, stats) == 3
    assert quartile_of(2.9, stats) == 3
    assert quartile_of(3.0, stats) == 4
    assert quartile_of(None, stats) is None
