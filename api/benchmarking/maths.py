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
    """Round half away from zero to a multiple of `step` (0.1, 0.5, or whole points of a percent)."""
    units = abs(value) / step
    rounded = int(units + 0.5 + 1e-9) * step
    return round(rounded if value >= 0 else -rounded, 1)


def precision_for(n: int, k: int) -> float:
    """With few peers a median IS another trust's real score: below 2k peers show only halves.
    (For people, k is the role view's 11-person minimum: halves below 22 people.)"""
    return 0.5 if n < 2 * k else 0.1


# The steps a share may be shown to, in percentage points.
SHARE_STEPS = (1, 5, 10, 20, 25, 50, 100)


def share_step(base: int) -> int:
    """The percentage points a share of `base` trusts or people is shown to: the finest step that
    one of them cannot move it by more than (one in 100 is 1 point, one in 20 is 5), so that with a
    banded base a share does not give back the exact count: 1 point from a base of 100, 5 from 20
    to 99, 10 from 10 to 19, 20 from 5 to 9 (and coarser still below 5)."""
    return next((step for step in SHARE_STEPS if step * base >= 100), 100)


def share_percent(part: int, base: int, finest: int = 1) -> int:
    """`part` of `base` as a percent, rounded half away from zero to share_step(base) points (or to
    `finest`, if coarser)."""
    step = max(share_step(base), finest)
    return int(round_to(part / base * 100, step)) if base else 0


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
