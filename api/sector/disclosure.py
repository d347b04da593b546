"""What the sector's counts let anyone work out, and the whole-sector count that keeps it to "fewer than K".

The heatmap shows, for each group of a breakdown (type, region or size), how many trusts submitted,
as a count band capped by the group's number of trusts (which the register makes public), and the
same for all trusts. A hidden group ("fewer than K") is then one unknown in a sum whose other parts
and total are known within bounds:

    hidden = total − (every other group) − (trusts in no group, such as those of unknown size)

Bands alone do not stop the subtraction. Two groups of "3–9" and a total of "20–49" leave at least
2 for the third (K = 3); groups of 30 of 30 (in "20–49"), 17 of 17 and "20–49" with a total of
"100–199" leave at least 4 (K = 5). Either way the hidden group's count is exactly K − 1.

So the whole-sector count is published as a range wide enough that, for every hidden group of every
breakdown, the subtraction allows any count from none to K − 1 (or the group's trusts, if fewer):
its lower end is at most what the other groups could hold at most, and its upper end at least what
they must hold at least, plus K − 1. The widening is worked out from the groups' published bands
and the register alone, so the range shown gives away nothing those do not already.

Every output that shows the whole-sector count uses this range: the heatmap's "All trusts" column
(in every breakdown, so two breakdowns cannot be played off against each other), its cells and the
spreadsheet exports; the headline figures are held back by the same rule (`SectorTotal.shown`).
See docs/anonymity.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from api.benchmarking.maths import COUNT_BAND_EDGES, count_band_bounds

Bounds = tuple[int, int | None]  # (lowest, highest or None for "or more")


def band_starts(k: int) -> list[int]:
    """Where count bands start: 0 ("fewer than K"), K, then the fixed edges above K + 1."""
    return [0, k, *(edge for edge in COUNT_BAND_EDGES if edge > k + 1)]


def band_of(n: int, k: int) -> Bounds:
    """The count band n is shown in; below K, (0, K − 1)."""
    return count_band_bounds(n, k) or (0, k - 1)


def range_text(bounds: Bounds, k: int) -> str:
    """A published count: "fewer than 5", "20–49", "50–199", "fewer than 50", "100 or more"."""
    lowest, highest = bounds
    if highest is None:
        return f"{lowest} or more" if lowest else "any number"
    if lowest == 0:
        return f"fewer than {highest + 1}"
    return f"{lowest}–{highest}"


def _floor_start(value: int, k: int) -> int:
    """The highest band start at or below value."""
    return max(start for start in band_starts(k) if start <= max(value, 0))


def _ceiling_end(value: int, k: int) -> int | None:
    """The lowest band end at or above value; None once past the last band's start."""
    starts = band_starts(k)
    for start in starts[1:]:
        if value < start:
            return start - 1
    return None


@dataclass(frozen=True)
class Group:
    trusts: int  # in the register: public
    submitted: int  # as published: the group's snapshot count (0 without one)


def known_bounds(group: Group, k: int) -> tuple[int, int]:
    """What a group's published band and public size say about its count."""
    if group.submitted < k:
        return 0, min(k - 1, group.trusts)
    lowest, highest = band_of(group.submitted, k)
    return lowest, group.trusts if highest is None else min(highest, group.trusts)


@dataclass(frozen=True)
class SectorTotal:
    bounds: Bounds  # the whole-sector count as shown
    shown: bool  # whether whole-sector figures (medians, shares, the headline) may be shown
    reason: str | None  # why not: "fewer than K", or "secondary" (hidden to protect a hidden group)


def whole_sector(
    submitted: int, breakdowns: Iterable[tuple[Mapping[str, Group], int]], k: int
) -> SectorTotal:
    """The whole-sector count as it may be shown, and whether its figures may be. `breakdowns`:
    (groups, trusts in no group) for each kind of group.

    With no group hidden in any breakdown, the count is shown as its own band. Otherwise it is what
    the groups' published counts add up to (from the least they could hold to the most, with any
    trusts in no group), widened to band edges, joined across every breakdown with a hidden group.
    It then says nothing the groups' counts do not: taking the other groups from it leaves a hidden
    group anything from none to K − 1. Nor does it depend on the count's own band: a range that did
    (only its lower end widened, say) would give the band away, since each band's lower end fixes
    its upper end.

    Showing any whole-sector figure says "K or more submitted". That is withheld (as "secondary")
    where the other groups of some breakdown could not make up K without a hidden one, which would
    then be known to have submitted. Whether that is so is worked out from the published counts
    alone, so hiding the figures for that reason says nothing either.
    """
    hulls = []
    most_without = None  # the fewest the other groups could hold at most, without a hidden one
    for groups, ungrouped in breakdowns:
        hidden = [key for key, group in groups.items() if group.trusts and group.submitted < k]
        if not hidden:
            continue
        known = {key: known_bounds(group, k) for key, group in groups.items()}
        least = sum(low for low, _high in known.values())
        most = sum(high for _low, high in known.values()) + ungrouped
        hulls.append((least, most))
        fewest = min(most - known[key][1] for key in hidden)
        most_without = fewest if most_without is None else min(most_without, fewest)
    if hulls:
        bounds = (
            _floor_start(min(low for low, _ in hulls), k),
            _ceiling_end(max(high for _, high in hulls), k),
        )
    else:
        bounds = band_of(submitted, k)
    if most_without is not None and most_without < k:
        return SectorTotal(bounds, False, "secondary")
    if submitted < k:
        return SectorTotal(bounds, False, "fewer than K")
    return SectorTotal(bounds, True, None)


def within_total(n: int, total: Bounds, k: int) -> Bounds:
    """A count of some of the sector's trusts, shown no more tightly at its lower end than the
    whole-sector count (it is a lower bound on it)."""
    lowest, highest = band_of(n, k)
    return min(lowest, total[0]), highest
