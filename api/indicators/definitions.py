"""What the board records: the nine WRES indicators and the six high impact actions, as data.

Every figure the board records is a `Measure`: one number of one WRES indicator, its field name (the
command's, the table's column), what kind of number it is and the range it must lie in. Indicators
reported for White and BME staff (5 to 8) have two measures; indicator 1 has the BME share of the
whole workforce and of senior staff. Pages, the API, the CSV import and the exports all read these
tuples, so a corrected wording is one change here.

WRES keeps its own words, "BME" and "White", where a WRES indicator is meant (docs/indicators.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MeasureKind = Literal["percent", "ratio", "gap"]

# The ranges a figure must lie in. A relative likelihood of 1.0 is parity; published ones run from
# about 0.2 to 5, so anything above 20 is a slip (a percentage typed as a ratio).
RATIO_MAX = 20.0
PERCENT_MIN, PERCENT_MAX = 0.0, 100.0
GAP_MIN, GAP_MAX = -100.0, 100.0
DECIMALS = 2


@dataclass(frozen=True)
class Measure:
    field: str
    indicator: int
    kind: MeasureKind
    # "white" | "bme" for indicators 5 to 8; "workforce" | "senior" for indicator 1; "" for one figure.
    group: str
    label: str

    @property
    def tag(self) -> str:
        return f"wres-{self.indicator}"

    @property
    def range_text(self) -> str:
        if self.kind == "ratio":
            return f"more than 0 and no more than {RATIO_MAX:g}, like 1.25"
        if self.kind == "percent":
            return "from 0 to 100, like 27.5"
        return "from -100 to 100, like -4.2 (negative when the board is less diverse than the workforce)"

    @property
    def unit(self) -> str:
        return {"percent": "%", "ratio": "", "gap": " percentage points"}[self.kind]


@dataclass(frozen=True)
class Indicator:
    number: int
    title: str
    # How the figure reads: what a higher or lower number means.
    reading: str

    @property
    def tag(self) -> str:
        return f"wres-{self.number}"


WRES_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        1,
        "Staff in each pay band",
        "BME staff as a percentage of the whole workforce, and of staff in bands 8a and above "
        "(including very senior managers)",
    ),
    Indicator(
        2,
        "Appointment from shortlisting",
        "Relative likelihood of White applicants being appointed from shortlisting compared with BME "
        "applicants (1.0 is parity; above 1 favours White applicants)",
    ),
    Indicator(
        3,
        "Entering the formal disciplinary process",
        "Relative likelihood of BME staff entering the formal disciplinary process compared with White "
        "staff (1.0 is parity; above 1 means BME staff are more likely to)",
    ),
    Indicator(
        4,
        "Non-mandatory training and development",
        "Relative likelihood of White staff accessing non-mandatory training and development compared "
        "with BME staff (1.0 is parity; above 1 favours White staff)",
    ),
    Indicator(
        5,
        "Harassment, bullying or abuse from patients, relatives or the public",
        "Percentage of staff who experienced it in the last 12 months (staff survey)",
    ),
    Indicator(
        6,
        "Harassment, bullying or abuse from staff",
        "Percentage of staff who experienced it in the last 12 months (staff survey)",
    ),
    Indicator(
        7,
        "Equal opportunities for career progression or promotion",
        "Percentage of staff who believe the trust provides them (staff survey)",
    ),
    Indicator(
        8,
        "Discrimination from a manager, team leader or colleague",
        "Percentage of staff who personally experienced it in the last 12 months (staff survey)",
    ),
    Indicator(
        9,
        "Board representation",
        "BME percentage of the board's voting membership minus the BME percentage of the whole "
        "workforce, in percentage points (negative when the board is less diverse)",
    ),
)


def _survey(number: int) -> tuple[Measure, Measure]:
    return (
        Measure(f"wres_{number}_white", number, "percent", "white", "White staff"),
        Measure(f"wres_{number}_bme", number, "percent", "bme", "BME staff"),
    )


MEASURES: tuple[Measure, ...] = (
    Measure("wres_1_bme_workforce", 1, "percent", "workforce", "BME share of the whole workforce"),
    Measure("wres_1_bme_senior", 1, "percent", "senior", "BME share of staff in bands 8a and above"),
    Measure("wres_2", 2, "ratio", "", "Relative likelihood"),
    Measure("wres_3", 3, "ratio", "", "Relative likelihood"),
    Measure("wres_4", 4, "ratio", "", "Relative likelihood"),
    *_survey(5),
    *_survey(6),
    *_survey(7),
    *_survey(8),
    Measure("wres_9", 9, "gap", "", "Board minus workforce"),
)
MEASURE_FIELDS = tuple(m.field for m in MEASURES)
BY_FIELD = {m.field: m for m in MEASURES}


def measures_of(number: int) -> tuple[Measure, ...]:
    return tuple(m for m in MEASURES if m.indicator == number)


# --- The EDI improvement plan (NHS England, June 2023) ---------------------------------------------


@dataclass(frozen=True)
class HighImpactAction:
    number: int
    title: str

    @property
    def tag(self) -> str:
        return f"hia-{self.number}"

    @property
    def status_field(self) -> str:
        return f"hia_{self.number}_status"

    @property
    def note_field(self) -> str:
        return f"hia_{self.number}_note"


HIGH_IMPACT_ACTIONS: tuple[HighImpactAction, ...] = (
    HighImpactAction(
        1,
        "Measurable EDI objectives for the chair, chief executive and every board member, assessed at "
        "appraisal and tracked through the board assurance framework",
    ),
    HighImpactAction(2, "Fair and inclusive recruitment and talent management"),
    HighImpactAction(3, "An improvement plan to remove pay gaps by ethnicity, sex and disability"),
    HighImpactAction(4, "An improvement plan on health inequalities within the workforce"),
    HighImpactAction(5, "Induction, onboarding and development for internationally recruited staff"),
    HighImpactAction(
        6, "End the conditions that allow bullying, discrimination, harassment and violence at work"
    ),
)
HIA_STATUSES: dict[str, str] = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "achieved": "Achieved",
}
HiaStatus = Literal["not_started", "in_progress", "achieved"]
NOTE_MAX = 1000


# --- Showing a figure -----------------------------------------------------------------------------------

NOT_RECORDED = "Not recorded"
MINUS = "\u2212"


def number_text(value: float) -> str:
    """A figure as published: up to two decimals, no trailing zeros ("1.5", "27.25", "-4")."""
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def measure_text(measure: Measure, value: float | None) -> str:
    if value is None:
        return NOT_RECORDED
    if measure.kind == "percent":
        return f"{number_text(value)}%"
    if measure.kind == "gap":
        # A typographic minus: read aloud as "minus", and a spreadsheet never takes it for a formula.
        return f"{MINUS if value < 0 else ''}{number_text(abs(value))} percentage points"
    return number_text(value)
