"""The one command that records the board's indicators, the CSV upload's command, and the answer.

`IndicatorsUpdate` has one flat field per figure (`wres_2`, `wres_5_bme`...; api/indicators/
definitions.py lists them) and a status and note per high impact action (`hia_1_status`,
`hia_1_note`). Every field is optional: a board may not have every figure, and a field left out is
"not recorded". A PUT replaces what was recorded; `version` is the compare-and-set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
)
from pydantic_core import PydanticCustomError

from api.forms import FileUpload
from api.indicators.definitions import (
    DECIMALS,
    GAP_MAX,
    GAP_MIN,
    HIA_STATUSES,
    HIGH_IMPACT_ACTIONS,
    MEASURES,
    NOTE_MAX,
    PERCENT_MAX,
    PERCENT_MIN,
    RATIO_MAX,
    HiaStatus,
    Measure,
)
from api.integers import MAX_INTEGER

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]


def measure_name(measure: Measure) -> str:
    """ "WRES indicator 5 for BME staff", "WRES indicator 2", as a sentence names the figure."""
    suffix = {
        "white": " for White staff",
        "bme": " for BME staff",
        "workforce": " (BME share of the whole workforce)",
        "senior": " (BME share of bands 8a and above)",
    }.get(measure.group, "")
    return f"WRES indicator {measure.indicator}{suffix}"


KIND_NAMES = {
    "ratio": "a relative likelihood",
    "percent": "a percentage",
    "gap": "a number of percentage points",
}


def range_message(measure: Measure) -> str:
    """What the page says beside a figure it refuses."""
    return f"Enter {measure_name(measure)} as {KIND_NAMES[measure.kind]} {measure.range_text}"


def range_rule(measure: Measure) -> str:
    """What the API and the CSV import say about a figure out of range."""
    return f"{measure_name(measure)} must be {KIND_NAMES[measure.kind]} {measure.range_text}"


def typed_figure(value: Any) -> Any:
    """Text as people type a figure: spaces, a trailing % and a typographic minus are allowed."""
    if isinstance(value, str):
        return value.strip().removesuffix("%").strip().replace("\u2212", "-")
    return value


def in_range(measure: Measure, value: float) -> bool:
    if value != value:  # NaN
        return False
    if measure.kind == "ratio":
        return 0 < value <= RATIO_MAX
    if measure.kind == "percent":
        return PERCENT_MIN <= value <= PERCENT_MAX
    return GAP_MIN <= value <= GAP_MAX


def _checked(measure: Measure) -> Any:
    def check(value: float) -> float:
        if not in_range(measure, value):
            raise PydanticCustomError("out_of_range", range_rule(measure))
        return round(value, DECIMALS)

    return AfterValidator(check)


def _bounds(measure: Measure) -> dict[str, float]:
    if measure.kind == "ratio":
        return {"exclusiveMinimum": 0, "maximum": RATIO_MAX}
    if measure.kind == "percent":
        return {"minimum": PERCENT_MIN, "maximum": PERCENT_MAX}
    return {"minimum": GAP_MIN, "maximum": GAP_MAX}


def _figure(measure: Measure) -> Any:
    return Annotated[
        Annotated[float, BeforeValidator(typed_figure), _checked(measure)] | None,
        Field(
            default=None,
            description=f"{measure_name(measure)}: {measure.label}",
            json_schema_extra=_bounds(measure),
        ),
    ]


FORM_MESSAGES: dict[str, str] = {
    **{m.field: range_message(m) for m in MEASURES},
    **{a.status_field: f"Choose the progress on high impact action {a.number}" for a in HIGH_IMPACT_ACTIONS},
    **{
        f"{a.note_field}:string_too_long": f"The note on high impact action {a.number} must be "
        f"{NOTE_MAX:,} characters or fewer"
        for a in HIGH_IMPACT_ACTIONS
    },
    "version": "Reload the page and try again",
}


class _IndicatorsBase(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    form_messages: ClassVar[dict[str, str]] = FORM_MESSAGES


_fields: dict[str, Any] = {m.field: (_figure(m), None) for m in MEASURES}
for _action in HIGH_IMPACT_ACTIONS:
    _fields[_action.status_field] = (
        HiaStatus | None,
        Field(
            default=None,
            description=f"High impact action {_action.number}: "
            + ", ".join(HIA_STATUSES)
            + "; null or left out when not recorded",
        ),
    )
    _fields[_action.note_field] = (Note, Field(default="", description="What the board has done or plans"))
_fields["version"] = (
    int,
    Field(
        ge=0, le=MAX_INTEGER, description="The version you last saw (from GET); 0 when none is recorded yet"
    ),
)

IndicatorsUpdate: type[_IndicatorsBase] = create_model(  # type: ignore[call-overload]
    "IndicatorsUpdate",
    __base__=_IndicatorsBase,
    __doc__="The board's WRES figures and high impact action progress for the assessment's year.",
    **_fields,
)


class WresImport(FileUpload):
    """The CSV upload form: the file chosen and the version the person last saw."""

    form_messages: ClassVar[dict[str, str]] = {
        "file_name": "Select a CSV file",
        "version": "Reload the page and try again",
    }
    version: int = Field(ge=0, le=MAX_INTEGER)


# --- Answers --------------------------------------------------------------------------------------------


class MeasurePublic(BaseModel):
    field: str
    indicator: int
    group: str = Field(description='"white", "bme", "workforce", "senior", or "" for a single figure')
    label: str
    value: float | None
    text: str = Field(description='As the pages show it, "Not recorded" when missing')


class HighImpactActionPublic(BaseModel):
    number: int
    title: str
    status: str | None
    status_name: str
    note: str


class IndicatorsPublic(BaseModel):
    assessment_id: int
    cycle: str
    values: dict[str, Any] = Field(description="The command's fields as recorded (null: not recorded)")
    wres: list[MeasurePublic]
    high_impact_actions: list[HighImpactActionPublic]
    version: int = Field(description="0 when nothing is recorded yet")
    updated_at: datetime | None
    updated_by: str | None


class ImportProblem(BaseModel):
    row: int
    column: str
    message: str
