"""How often the three breakdowns, played off against each other, narrow a hidden group's count.

`python -m bench.disclosure_check [--sectors N] [--seed S]` draws random sectors from the trust
register (`../shared/data`, as loaded by `python -m api bootstrap` into the configured database):
each trust submits with a random probability, and a group below K shows "fewer than K". For every
hidden group it works out what an analyst could deduce from all three heatmaps at once (type,
region, size: every group's published count and the one whole-sector count of
api/sector/disclosure.py) and counts the sectors where that is narrower than "none to K - 1", and
those where it is one exact number. One heatmap on its own never narrows it (tests/sector/
test_heatmap_properties.py proves that for any sector); this measures what is left. See
docs/anonymity.md.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence

from sqlmodel import Session, select

from api.db import make_engine
from api.organisations.models import Organisation
from api.sector.disclosure import Group, known_bounds, whole_sector
from api.sector.service import BY_OPTIONS, _group_values
from api.settings import Settings

Breakdown = tuple[Mapping[str, Group], int]


def deductions(breakdowns: Sequence[Breakdown], submitted: int, k: int) -> list[tuple[str, int, int]]:
    """Each hidden group whose count the three breakdowns together narrow: (group, lowest, highest)."""
    total = whole_sector(submitted, breakdowns, k)
    lowest, highest = total.bounds
    if total.shown:  # whole-sector figures on show say "K or more"
        lowest = max(lowest, k)
    sums = []
    for groups, ungrouped in breakdowns:
        known = [known_bounds(group, k) for group in groups.values()]
        sums.append((sum(low for low, _ in known), sum(high for _, high in known) + ungrouped))
    total_lowest = max([lowest, *(low for low, _ in sums)])
    total_highest = min([highest if highest is not None else submitted * 10 + 10**6, *(h for _, h in sums)])
    narrowed = []
    for groups, ungrouped in breakdowns:
        known = {key: known_bounds(group, k) for key, group in groups.items()}
        for key, group in groups.items():
            if not group.trusts or group.submitted >= k:
                continue
            others_most = sum(high for other, (_, high) in known.items() if other != key) + ungrouped
            others_least = sum(low for other, (low, _) in known.items() if other != key)
            low = max(0, total_lowest - others_most)
            high = min(known[key][1], total_highest - others_least)
            if (low, high) != (0, min(k - 1, group.trusts)):
                narrowed.append((key, low, high))
    return narrowed


def random_sector(
    trusts: list[tuple[str | None, ...]], k: int, rng: random.Random
) -> tuple[list[Breakdown], int]:
    rate = rng.random() ** rng.choice((1, 2, 4))  # from nearly nobody to nearly everybody
    submitted = [trust for trust in trusts if rng.random() < rate]
    breakdowns: list[Breakdown] = []
    for index, kind in enumerate(BY_OPTIONS):
        groups = {}
        for value in _group_values(kind):
            count = sum(1 for trust in submitted if trust[index] == value)
            groups[value] = Group(
                sum(1 for trust in trusts if trust[index] == value), count if count >= k else 0
            )
        breakdowns.append((groups, len(trusts) - sum(group.trusts for group in groups.values())))
    return breakdowns, len(submitted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.disclosure_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sectors", type=int, default=10_000, help="random sectors per K (default 10,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, nargs="*", default=[3, 5, 10])
    args = parser.parse_args(argv)
    settings = Settings()
    with Session(make_engine(settings.database_url)) as session:
        trusts = [
            (o.peer_type, o.region, o.size_band)
            for o in session.exec(select(Organisation).order_by(Organisation.ods_code)).all()
        ]
    if not trusts:
        parser.error("no trusts in the database: run `python -m api bootstrap` (or `make run`) first")
    rng = random.Random(args.seed)
    print(f"{len(trusts)} trusts in the register; {args.sectors:,} random sectors per K (seed {args.seed})")
    print("| K | sectors with a hidden group | a hidden count narrowed | worked out exactly |")
    print("|---|---|---|---|")
    for k in args.k:
        hidden = narrowed = exact = 0
        for _ in range(args.sectors):
            breakdowns, submitted = random_sector(trusts, k, rng)
            if any(g.trusts and g.submitted < k for groups, _ in breakdowns for g in groups.values()):
                hidden += 1
            found = deductions(breakdowns, submitted, k)
            narrowed += bool(found)
            exact += any(low == high for _key, low, high in found)
        print(f"| {k} | {hidden:,} | {narrowed:,} | {exact:,} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
