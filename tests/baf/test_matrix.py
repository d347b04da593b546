"""The NHS 5×5 matrix: likelihood × consequence and its rating, tested at every band edge."""

from __future__ import annotations

import pytest

from api.baf import matrix


@pytest.mark.parametrize(
    ("likelihood", "consequence", "score", "rating"),
    [
        (1, 1, 1, "low"),
        (1, 3, 3, "low"),
        (3, 1, 3, "low"),
        (2, 2, 4, "moderate"),
        (1, 4, 4, "moderate"),
        (2, 3, 6, "moderate"),
        (3, 2, 6, "moderate"),
        (2, 4, 8, "high"),
        (4, 2, 8, "high"),
        (3, 3, 9, "high"),
        (3, 4, 12, "high"),
        (4, 3, 12, "high"),
        (3, 5, 15, "extreme"),
        (5, 3, 15, "extreme"),
        (4, 4, 16, "extreme"),
        (5, 5, 25, "extreme"),
    ],
)
def test_score_and_rating_at_the_edges(likelihood: int, consequence: int, score: int, rating: str) -> None:
    position = matrix.Position(likelihood, consequence)
    assert matrix.score(likelihood, consequence) == position.score == score
    assert matrix.rating(score) == position.rating == rating


def test_every_cell_of_the_matrix_has_the_usual_rating() -> None:
    expected = {"low": {1, 2, 3}, "moderate": {4, 5, 6}, "high": {8, 9, 10, 12}, "extreme": {15, 16, 20, 25}}
    for likelihood in range(1, 6):
        for consequence in range(1, 6):
            score = likelihood * consequence
            assert score in expected[matrix.rating(score)], (likelihood, consequence)


@pytest.mark.parametrize(("likelihood", "consequence"), [(0, 3), (6, 3), (3, 0), (3, 6), (-1, 1)])
def test_values_outside_one_to_five_are_refused(likelihood: int, consequence: int) -> None:
    with pytest.raises(ValueError):
        matrix.score(likelihood, consequence)


@pytest.mark.parametrize("score", [0, 26])
def test_scores_outside_one_to_twenty_five_have_no_rating(score: int) -> None:
    with pytest.raises(ValueError):
        matrix.rating(score)


def test_the_bands_read_as_the_nhs_guidance_writes_them() -> None:
    assert [(b.name, b.range_text) for b in matrix.bands()] == [
        ("Low", "1–3"),
        ("Moderate", "4–6"),
        ("High", "8–12"),
        ("Extreme", "15–25"),
    ]


def test_names_of_likelihood_and_consequence() -> None:
    assert matrix.LIKELIHOODS == {1: "Rare", 2: "Unlikely", 3: "Possible", 4: "Likely", 5: "Almost certain"}
    assert matrix.CONSEQUENCES == {
        1: "Insignificant",
        2: "Minor",
        3: "Moderate",
        4: "Major",
        5: "Catastrophic",
    }
    position = matrix.Position(5, 1)
    assert (position.likelihood_name, position.consequence_name, position.rating_name) == (
        "Almost certain",
        "Insignificant",
        "Moderate",
    )
