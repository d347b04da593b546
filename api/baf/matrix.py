"""The NHS 5×5 risk matrix (NPSA, 2008): the one place its names, scores and rating bands live.

Trusts vary in where they draw the bands: change RATING_FROM, and every page, export and API
answer follows (ratings are worked out when read, never stored).
"""

from __future__ import annotations

from dataclasses import dataclass

LIKELIHOODS = {1: "Rare", 2: "Unlikely", 3: "Possible", 4: "Likely", 5: "Almost certain"}
CONSEQUENCES = {1: "Insignificant", 2: "Minor", 3: "Moderate", 4: "Major", 5: "Catastrophic"}
SCALE = (1, 2, 3, 4, 5)

# Each rating starts at this score and runs up to the next one's start. Products of 1..5 never give
# 7, 13 or 14, so the usual bands read 1–3 low, 4–6 moderate, 8–12 high, 15–25 extreme.
RATING_FROM: tuple[tuple[int, str], ...] = ((15, "extreme"), (8, "high"), (4, "moderate"), (1, "low"))
RATING_NAMES = {"low": "Low", "moderate": "Moderate", "high": "High", "extreme": "Extreme"}


def score(likelihood: int, consequence: int) -> int:
    """Likelihood × consequence, each 1 to 5."""
    if likelihood not in SCALE or consequence not in SCALE:
        raise ValueError(f"likelihood and consequence run from 1 to 5 (got {likelihood} and {consequence})")
    return likelihood * consequence


def rating(risk_score: int) -> str:
    """The rating key (low, moderate, high, extreme) of a score from 1 to 25."""
    if not 1 <= risk_score <= 25:
        raise ValueError(f"a 5×5 score runs from 1 to 25 (got {risk_score})")
    return next(key for start, key in RATING_FROM if risk_score >= start)


@dataclass(frozen=True)
class Position:
    """One place on the matrix: an inherent, residual or target risk."""

    likelihood: int
    consequence: int

    @property
    def score(self) -> int:
        return score(self.likelihood, self.consequence)

    @property
    def rating(self) -> str:
        return rating(self.score)

    @property
    def rating_name(self) -> str:
        return RATING_NAMES[self.rating]

    @property
    def likelihood_name(self) -> str:
        return LIKELIHOODS[self.likelihood]

    @property
    def consequence_name(self) -> str:
        return CONSEQUENCES[self.consequence]


@dataclass(frozen=True)
class Band:
    key: str
    name: str
    scores: tuple[int, ...]

    @property
    def range_text(self) -> str:
        return f"{self.scores[0]}–{self.scores[-1]}" if len(self.scores) > 1 else str(self.scores[0])


def bands() -> list[Band]:
    """Each rating with the scores the matrix can give it, lowest first (for keys and the docs)."""
    possible = sorted({likelihood * consequence for likelihood in SCALE for consequence in SCALE})
    ordered = [key for _start, key in reversed(RATING_FROM)]
    return [
        Band(key, RATING_NAMES[key], tuple(s for s in possible if rating(s) == key))
        for key in ordered
        if any(rating(s) == key for s in possible)
    ]
