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


# --- Risk appetite -------------------------------------------------------------------------------------------
#
# How much risk the board will accept on the way to an objective: a level in words and a range of
# scores on the matrix ("Cautious 4–6"). The levels are the HM Treasury Orange Book's (risk appetite
# guidance, 2020), which many NHS trusts use; the Good Governance Institute's matrix names similar
# ones (avoid, minimal, cautious, open, seek). Change them here and in schemas.AppetiteLevel.
APPETITE_LEVELS = {
    "averse": ("Averse", "Avoiding risk and uncertainty is a key objective"),
    "minimal": ("Minimal", "Ultra-safe options with a low degree of inherent risk"),
    "cautious": ("Cautious", "Safe options with a low degree of residual risk"),
    "open": ("Open", "Willing to consider every option and choose the one most likely to succeed"),
    "eager": ("Eager", "Keen to innovate, accepting greater risk for greater reward"),
}
# Where the residual (current) score sits against the range: in appetite only within it.
APPETITE_STATUSES = {
    "within": ("In appetite", "The residual score is within the range"),
    "above": ("Out of appetite", "The residual score is above the range"),
    "below": ("Out of appetite", "The residual score is below the range"),
}


@dataclass(frozen=True)
class Appetite:
    """The board's risk appetite for a risk: a level and the range of scores it will accept."""

    level: str
    low: int
    high: int

    @property
    def level_name(self) -> str:
        return APPETITE_LEVELS[self.level][0]

    @property
    def range_text(self) -> str:
        return f"{self.low}–{self.high}" if self.low != self.high else str(self.low)

    @property
    def text(self) -> str:
        """ "Cautious 4–6"."""
        return f"{self.level_name} {self.range_text}"

    def status(self, risk_score: int) -> str:
        """within, above or below: where a (current) score sits against the range."""
        if risk_score > self.high:
            return "above"
        if risk_score < self.low:
            return "below"
        return "within"


def appetite(level: str | None, low: int | None, high: int | None) -> Appetite | None:
    """The appetite as recorded, or None when the board has not recorded one."""
    if level is None or low is None or high is None:
        return None
    return Appetite(level, low, high)
