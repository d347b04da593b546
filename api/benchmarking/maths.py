"""Anonymity maths: suppression, banded counts and coarse precision (docs/anonymity.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.scoring.maths import quartiles

COUNT_BAND_EDGES = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def count_band_bounds(n: int, k: int) -> tuple[int, int | None] | None:
    """The counts n's band stands for: (lowest, highest or None for "or more"); None below k."""
    if n < k:
        return None
    lower = k
    for edge in COUNT_BAND_EDGES:
        if edge <= k + 1:  # a first band of one count ("9–9" when k is 9) would be the exact count
            continue
        if n < edge:
            return lower, edge - 1
        lower = edge
    return lower, None


def count_band(n: int, k: int) -> str:
    """A count as a band ("10–19"), never exact; below k only "fewer than k"."""
    bounds = count_band_bounds(n, k)
    if bounds is None:
        return f"fewer than {k}"
    lower, upper = bounds
    return f"{lower} or more" if upper is None else f"{lower}–{upper}"


def round_to(value: float, step: float) -> float:
    """Round half away from zero to a multiple of `step` (0.5 or 0.1)."""
    units = abs(value) / step
    rounded = int(units + 0.5 + 1e-9) * step
    return round(rounded if value >= 0 else -rounded, 1)


def precision_for(n: int, k: int) -> float:
    """With few peers a median IS another trust's real score: below 2k peers show only halves."""
    return 0.5 if n < 2 * k else 0.1


@dataclass(frozen=True)
class PeerStats:
    n: int
    suppressed: bool
    median: float | None
    q1: float | None
    q3: float | None
    precision: float | None


def peer_stats(values: Sequence[float], k: int) -> PeerStats:
    """Median and quartiles of at least k values, rounded to what may be shown; else suppressed."""
    n = len(values)
    if n < k:
        return PeerStats(n, True, None, None, None, None)
    q1, median, q3 = quartiles(values)
    step = precision_for(n, k)
    return PeerStats(n, False, round_to(median, step), round_to(q1, step), round_to(q3, step), step)


def quartile_of(own: float | None, stats: PeerStats) -> int | None:
    """1 (lowest quarter) to 4 (highest), against the figures as shown, so it reveals nothing finer."""
    if own is None or stats.suppressed or stats.q1 is None or stats.median is None or stats.q3 is None:
        return None
    if own < stats.q1:
        return 1
    if own < stats.median:
        return 2
    if own < stats.q3:
        return 3
    return 4
