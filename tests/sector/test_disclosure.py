"""The whole-sector count as published (api/sector/disclosure.py), worked through by hand."""

from __future__ import annotations

from api.sector.disclosure import Group, SectorTotal, known_bounds, range_text, whole_sector

SIZES = {"under_3000": 30, "3000_6999": 77, "7000_11999": 78, "12000_plus": 17}


def _groups(trusts: dict[str, int], submitted: dict[str, int]) -> dict[str, Group]:
    return {key: Group(n, submitted.get(key, 0)) for key, n in trusts.items()}


def test_with_no_group_hidden_the_count_is_its_own_band() -> None:
    groups = _groups(
        {"acute": 134, "non_acute": 58, "ambulance": 10}, {"acute": 97, "non_acute": 42, "ambulance": 7}
    )
    assert whole_sector(146, [(groups, 0)], 5) == SectorTotal((100, 199), True, None)


def test_a_group_counts_no_more_than_its_trusts_and_a_hidden_one_up_to_k_less_one() -> None:
    assert known_bounds(Group(30, 30), 5) == (20, 30)  # "20–49" of 30
    assert known_bounds(Group(77, 4), 5) == (0, 4)
    assert known_bounds(Group(3, 0), 5) == (0, 3)
    assert known_bounds(Group(250, 120), 5) == (100, 199)


def test_the_size_counterexample_is_shown_as_what_the_groups_add_up_to() -> None:
    # 30 of 30 ("20–49"), 4 (hidden), 49 ("20–49"), 17 of 17 ("10–19"): 100 in all, whose band
    # "100–199" would leave exactly 4 for the hidden group. The groups add up to 50 to 100.
    groups = _groups(SIZES, {"under_3000": 30, "3000_6999": 4, "7000_11999": 49, "12000_plus": 17})
    total = whole_sector(100, [(groups, 0)], 5)
    assert total.bounds == (50, 199) and range_text(total.bounds, 5) == "50–199"
    assert total.shown
    # Taking the others' most (30 + 49 + 17 = 96) from 50 leaves none; from 199 less their least
    # (20 + 20 + 10) leaves more than 4: anything from 0 to 4 is possible.
    assert total.bounds[0] - 96 <= 0 and total.bounds[1] - 50 >= 4


def test_the_type_counterexample_with_k_3() -> None:
    # "3–9", "3–9" and "20–49" in all would leave at least 2 (of fewer than 3) for ambulance.
    groups = _groups(
        {"acute": 134, "non_acute": 58, "ambulance": 10}, {"acute": 9, "non_acute": 9, "ambulance": 2}
    )
    total = whole_sector(20, [(groups, 0)], 3)
    assert total.bounds == (3, 49)  # the groups hold 6 to 20 (with up to 2 hidden): "3–49"
    assert range_text(total.bounds, 3) == "3–49"


def test_the_range_is_the_same_whatever_the_true_count_within_what_the_groups_allow() -> None:
    # Widening only from the true band would give the band away; the range must not depend on it.
    def published(hidden: int) -> tuple[int, int | None]:
        groups = _groups(SIZES, {"under_3000": 30, "3000_6999": hidden, "7000_11999": 49, "12000_plus": 17})
        return whole_sector(96 + hidden, [(groups, 0)], 5).bounds

    assert {published(hidden) for hidden in range(5)} == {(50, 199)}


def test_every_breakdown_with_a_hidden_group_is_joined() -> None:
    types = _groups({"acute": 134, "non_acute": 58, "ambulance": 10}, {"acute": 44, "non_acute": 14})
    regions = _groups({"London": 32, "Midlands": 40}, {"Midlands": 9})
    alone = whole_sector(59, [(types, 0)], 5).bounds
    joined = whole_sector(59, [(types, 0), (regions, 130)], 5).bounds
    assert alone == (20, 99)  # the types hold 30 to 72
    assert joined == (5, 199)  # the regions 5 to 143 (9 + 4, and 130 trusts in neither)
    assert joined[0] <= alone[0] and (joined[1] is None or joined[1] >= alone[1])


def test_whole_sector_figures_are_held_back_where_they_would_say_a_hidden_group_submitted() -> None:
    # One trust of type A (shown nowhere: fewer than K) and four of B, K = 5: five submitted. Showing
    # the sector's median would say "5 or more", so B's hidden count could only be 4 (A has 1 trust).
    groups = _groups({"a": 1, "b": 4}, {})
    total = whole_sector(5, [(groups, 0)], 5)
    assert total == SectorTotal((0, 9), False, "secondary")
    # With enough trusts elsewhere to make up K, the figures are shown.
    roomy = _groups({"a": 1, "b": 4, "c": 30}, {"c": 0})
    assert whole_sector(5, [(roomy, 0)], 5).shown


def test_fewer_than_k_in_all_hides_the_figures_as_fewer_than_k() -> None:
    groups = _groups({"acute": 134, "non_acute": 58, "ambulance": 10}, {})
    assert whole_sector(3, [(groups, 0)], 5) == SectorTotal((0, 19), False, "fewer than K")
    # Two groups only: without one hidden, the other could not make up K, so the figures would be
    # held back whatever the count; they are, as "secondary".
    pair = _groups({"acute": 134, "non_acute": 58}, {})
    assert whole_sector(3, [(pair, 0)], 5) == SectorTotal((0, 9), False, "secondary")


def test_published_counts_read_plainly() -> None:
    assert range_text((0, 4), 5) == "fewer than 5"
    assert range_text((0, 49), 5) == "fewer than 50"
    assert range_text((20, 49), 5) == "20–49"
    assert range_text((50, 199), 5) == "50–199"
    assert range_text((10000, None), 5) == "10000 or more"
