"""Anonymity maths by hand: suppression, count bands, precision, quartile placement."""

from __future__ import annotations

import pytest

from api.benchmarking.maths import (
    count_band,
    peer_stats,
    precision_for,
    quartile_of,
    round_to,
    share_percent,
    share_step,
)


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


@pytest.mark.parametrize(
    ("part", "base", "shown"),
    [
        (3, 7, 40),  # 43% to the point would be exactly 3 of 7
        (1, 8, 20),  # below 10: to 20 points
        (1, 10, 10),  # from 10: to 10 points
        (3, 16, 20),  # 18.75 to 10 points
        (7, 19, 40),
        (7, 20, 35),  # from 20: to 5 points
        (22, 99, 20),  # 22.2 to 5 points
        (22, 100, 22),  # from 100: to 1 point
        (1, 200, 1),  # 0.5: away from zero
        (0, 5, 0),
        (5, 5, 100),
    ],
)
def test_a_share_is_rounded_to_what_one_person_or_trust_can_move(part: int, base: int, shown: int) -> None:
    assert share_percent(part, base) == shown


@pytest.mark.parametrize(
    ("base", "step"),
    [(1, 100), (2, 50), (3, 50), (4, 25), (5, 20), (9, 20), (10, 10), (19, 10), (20, 5), (99, 5), (100, 1)],
)
def test_share_steps_by_base(base: int, step: int) -> None:
    assert share_step(base) == step


def test_every_step_is_reachable_so_a_share_says_nothing_about_its_base() -> None:
    """One more moves a share by no more than its step, so every multiple of the step is some share
    of that base: which one is shown cannot tell two bases apart."""
    for base in range(1, 400):
        step = share_step(base)
        assert {share_percent(part, base) for part in range(base + 1)} == set(range(0, 101, step)), base


def test_a_share_and_a_banded_base_do_not_give_the_count_back() -> None:
    """Every share shown from a base in one count band (5-9, 10-19, 20-49 or 100-199 trusts), other
    than none at all, fits more than one count: 43% of "5-9" was exactly 3 of 7."""
    for lowest, highest in ((5, 9), (10, 19), (20, 49), (100, 199)):
        counts_behind: dict[int, set[int]] = {}
        for base in range(lowest, highest + 1):
            for part in range(base + 1):
                counts_behind.setdefault(share_percent(part, base), set()).add(part)
        assert all(len(parts) > 1 for share, parts in counts_behind.items() if share), (lowest, counts_behind)


def test_the_maturity_bands_are_shown_to_ten_points_whatever_the_base() -> None:
    assert share_percent(22, 100, finest=10) == 20
    assert share_percent(3, 7, finest=10) == 40
