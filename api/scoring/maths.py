"""The scoring rules, as pure functions (docs/scoring.md says the same in words).

- A section score is the mean of the agreed levels (0–4) of its criteria. A criterion without an
  agreed level, or "not yet known", is left out of the mean: it never counts as 0.
- The overall maturity is the mean of the ten priority section scores, each weighing the same;
  a priority with no score at all is left out, and the result says how many priorities it covers.
- The board assurance framework (BAF) section is reported beside it, never inside it.
- Scores are shown to one decimal, as a percent of the maximum (4), and as a band named like the levels.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_LEVEL = 4
BANDS = ("Not started", "Emerging", "Developing", "Established", "Embedded")


def mean_or_none(values: Iterable[float | int | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def one_decimal(value: float | None) -> float | None:
    # Round half away from zero (2.25 → 2.3, -0.25 → -0.3), as a person rounding by hand would;
    # the tiny nudge stops binary floats such as 2.2499999 rounding the wrong way.
    if value is None:
        return None
    magnitude = int(abs(value) * 10 + 0.5 + 1e-9) / 10
    return magnitude if value >= 0 else -magnitude


def percent(score: float | None) -> int | None:
    return None if score is None else int(score / MAX_LEVEL * 100 + 0.5 + 1e-9)


def band(score: float | None) -> str | None:
    """The band of a score as shown (one decimal): 0.0–0.9 not started … 3.0–3.9 established, 4.0 embedded."""
    shown = one_decimal(score)
    if shown is None:
        return None
    return BANDS[min(MAX_LEVEL, int(shown + 1e-9))]


@dataclass(frozen=True)
class Spread:
    """How members' individual ratings of one criterion or section are spread."""

    count: int
    median: float | None
    q1: float | None
    q3: float | None
    low: int | None
    high: int | None

    @property
    def iqr(self) -> float | None:
        return None if self.q1 is None or self.q3 is None else self.q3 - self.q1

    @property
    def range(self) -> int | None:
        return None if self.low is None or self.high is None else self.high - self.low


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Lower quartile, median, upper quartile by the inclusive method (matches a spreadsheet's QUARTILE)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return q1, median, q3


def spread(levels: Iterable[int | None]) -> Spread:
    """Known levels only: "not yet known" answers are counted apart, never as 0."""
    known = sorted(level for level in levels if level is not None)
    if not known:
        return Spread(0, None, None, None, None, None)
    q1, median, q3 = quartiles(known)
    return Spread(len(known), median, q1, q3, known[0], known[-1])


# Real disagreement, not the ordinary one-level scatter of a board of ten (docs/scoring.md):
# members' lowest and highest known ratings 3 or more levels apart (for example 1 and 4), or an
# agreed level 1.5 or more from the members' median.
DISAGREEMENT_LEVELS = 3
AGREED_FAR_FROM_MEDIAN = 1.5
DISAGREEMENT_RULE = (
    "members' ratings are 3 or more levels apart, or the agreed level is 1.5 or more from the members' median"
)


def disagreement(levels: Iterable[int | None], agreed: int | None = None) -> bool:
    """Flag a statement for discussion (DISAGREEMENT_RULE). "Not yet known" answers are left out."""
    known = [level for level in levels if level is not None]
    if not known:
        return False
    if max(known) - min(known) >= DISAGREEMENT_LEVELS:
        return True
    return agreed is not None and abs(agreed - statistics.median(known)) >= AGREED_FAR_FROM_MEDIAN


def discussion_weight(levels: Iterable[int | None], agreed: int | None = None) -> tuple[int, float]:
    """How strongly a statement asks for discussion, to order the board's "discuss first" list:
    how far apart members are, then how far the agreed level is from their median."""
    known = [level for level in levels if level is not None]
    if not known:
        return (0, 0.0)
    distance = abs(agreed - statistics.median(known)) if agreed is not None else 0.0
    return (max(known) - min(known), distance)
