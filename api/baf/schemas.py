"""Request and response models of the board assurance framework risk API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from api.baf.matrix import appetite
from api.integers import MAX_INTEGER, RowId

MatrixValue = Annotated[int, Field(ge=1, le=5, description="1 to 5 on the NHS 5×5 matrix")]
MatrixScore = Annotated[int, Field(ge=1, le=25, description="A score on the NHS 5×5 matrix, 1 to 25")]
# The keys of api/baf/matrix.APPETITE_LEVELS, and the lead committee's levels of assurance.
AppetiteLevel = Literal["averse", "minimal", "cautious", "open", "eager"]
AssuranceLevel = Literal["significant", "reasonable", "limited"]
AppetiteStatus = Literal["within", "above", "below"]
MAX_LINE = 1000
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LINE)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class Assurance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: int = Field(
        ge=1,
        le=3,
        description="The line the trust files this source on: 1 management, 2 oversight and monitoring, "
        "3 independent (the trust decides: many file the staff survey as independent)",
    )
    source: Item


class Gap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["control", "assurance"]
    text: Item
    action_ids: list[RowId] = Field(default_factory=list, max_length=50, description="Actions of this trust")


# What a person reads when the edit page is refused, by field (api/forms.py). A control, a source of
# assurance and a gap are each one line of a list: "controls.*" is any of them.
RISK_FORM_MESSAGES = {
    "description": "Describe the risk: its cause, the event and its effect",
    "description:string_too_long": "The description must be 5,000 characters or fewer",
    "strategic_objective": "The strategic objective must be 5,000 characters or fewer",
    "lead": "The lead must be 200 characters or fewer",
    **{
        f"{stage}_{axis}": f"Select the {axis} of the {stage} risk, from 1 to 5"
        for stage in ("inherent", "residual", "target")
        for axis in ("likelihood", "consequence")
    },
    # Inherent scores are optional, but come as a pair.
    **{
        f"inherent_{axis}:missing": f"Select the {axis} of the inherent risk too, or neither (it is optional)"
        for axis in ("likelihood", "consequence")
    },
    "controls.*:string_too_long": f"Each control must be {MAX_LINE:,} characters or fewer",
    "controls:too_long": "List 50 controls or fewer",
    "assurances.*.source:string_too_long": f"Each source of assurance must be {MAX_LINE:,} characters or fewer",
    "assurances:too_long": "List 60 sources of assurance or fewer",
    "gaps.*.text:string_too_short": "Describe the gap, or untick the actions linked to it",
    "gaps.*.text:string_too_long": f"Each gap must be {MAX_LINE:,} characters or fewer",
    "gaps:too_long": "List 50 gaps or fewer",
    "appetite_level": "Select the board's risk appetite for this risk",
    "appetite_level:missing": "Select the board's risk appetite for this risk, or clear its range",
    "appetite_low": "Enter the lowest score of the appetite range, a whole number from 1 to 25",
    "appetite_high": "Enter the highest score of the appetite range, a whole number from 1 to 25",
    "appetite_high:range_order": "The highest score of the appetite range must be the same as the lowest or more",
    "appetite_rationale": "The rationale must be 5,000 characters or fewer",
    "appetite_rationale:missing": "The risk is out of appetite: say why, and what the board is doing about it",
    "target_date": "The date to reach target must be a real date, like 31 3 2027",
    "target_date:missing": "The risk is out of appetite: enter the date it will reach its target score",
    "lead_committee": "The lead committee must be 200 characters or fewer",
    "assurance_level": "Select the level of assurance the lead committee gave: significant, reasonable or limited",
    "version": "Reload the page and try again",
}


def field_errors(title: str, problems: list[tuple[str, str, str]]) -> ValidationError:
    """A validation error naming each field of `problems` ((field, error type, message)), for a rule
    across fields: raised from a model validator, it keeps these locations, so the API's 422 and the
    page's error summary name the field, not the whole body."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)
            for field, kind, message in problems
        ],
    )


class BafRiskContent(BaseModel):
    """Everything a version of the risk holds."""

    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = RISK_FORM_MESSAGES
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    strategic_objective: LongText = ""
    lead: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    inherent_likelihood: MatrixValue | None = Field(None, description="Optional, with inherent_consequence")
    inherent_consequence: MatrixValue | None = Field(None, description="Optional, with inherent_likelihood")
    residual_likelihood: MatrixValue
    residual_consequence: MatrixValue
    target_likelihood: MatrixValue
    target_consequence: MatrixValue
    appetite_level: AppetiteLevel | None = Field(
        None, description="The board's risk appetite; with appetite_low and appetite_high, or none of them"
    )
    appetite_low: MatrixScore | None = Field(None, description="The lowest score of the appetite range")
    appetite_high: MatrixScore | None = Field(
        None, description="The highest score of the appetite range, at least appetite_low"
    )
    appetite_rationale: LongText = Field(
        "", description="Why the risk is in or out of appetite; required when out of appetite"
    )
    target_date: date | None = Field(
        None, description="When the risk will reach its target score; required when out of appetite"
    )
    controls: list[Item] = Field(default_factory=list, max_length=50)
    assurances: list[Assurance] = Field(default_factory=list, max_length=60)
    lead_committee: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = Field(
        "", description="The committee that oversees the risk for the board"
    )
    assurance_level: AssuranceLevel | None = Field(
        None, description="The level of assurance the lead committee last gave the board"
    )
    gaps: list[Gap] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _rules_across_fields(self) -> BafRiskContent:
        """Inherent scores come as a pair; an appetite has its level and both ends of its range, low
        first; out of appetite (the residual score outside the range), the rationale and the date to
        reach target are required."""
        messages = RISK_FORM_MESSAGES
        problems: list[tuple[str, str, str]] = []
        if (self.inherent_likelihood is None) != (self.inherent_consequence is None):
            missing = "inherent_likelihood" if self.inherent_likelihood is None else "inherent_consequence"
            problems.append((missing, "missing", messages[f"{missing}:missing"]))
        stated = {
            "appetite_level": self.appetite_level,
            "appetite_low": self.appetite_low,
            "appetite_high": self.appetite_high,
        }
        if any(value is not None for value in stated.values()):
            for name, value in stated.items():
                if value is None:
                    problems.append((name, "missing", messages.get(f"{name}:missing", messages[name])))
        if self.appetite_low is not None and self.appetite_high is not None:
            if self.appetite_low > self.appetite_high:
                problems.append(("appetite_high", "range_order", messages["appetite_high:range_order"]))
            elif self.appetite_status not in (None, "within"):
                if not self.appetite_rationale:
                    problems.append(("appetite_rationale", "missing", messages["appetite_rationale:missing"]))
                if self.target_date is None:
                    problems.append(("target_date", "missing", messages["target_date:missing"]))
        if problems:
            raise field_errors(type(self).__name__, problems)
        return self

    @property
    def appetite_status(self) -> AppetiteStatus | None:
        """Where the residual score sits against the appetite range; None without an appetite."""
        stated = appetite(self.appetite_level, self.appetite_low, self.appetite_high)
        residual = self.residual_likelihood * self.residual_consequence
        return stated.status(residual) if stated else None  # type: ignore[return-value]


class BafRiskUpdate(BafRiskContent):
    version: int = Field(
        ge=0, le=MAX_INTEGER, description="The version you last saw (from GET); 0 when none is recorded yet"
    )


class LinkedAction(BaseModel):
    id: int
    title: str
    status: str
    overdue: bool
    cycle: str


class GapPublic(BaseModel):
    kind: Literal["control", "assurance"]
    text: str
    action_ids: list[int]
    actions: list[LinkedAction] = Field(description="The linked actions, each as carried forward to now")


class BafRiskPublic(BaseModel):
    organisation_code: str
    cycle: str
    current_cycle: bool = Field(description="False when this is an earlier year's risk not yet reviewed")
    description: str
    strategic_objective: str
    lead: str
    inherent_likelihood: int | None
    inherent_consequence: int | None
    inherent_score: int | None = Field(description="null when the inherent scores are not recorded")
    inherent_rating: str | None
    residual_likelihood: int
    residual_consequence: int
    residual_score: int
    residual_rating: str
    target_likelihood: int
    target_consequence: int
    target_score: int
    target_rating: str
    appetite_level: AppetiteLevel | None
    appetite_low: int | None
    appetite_high: int | None
    appetite: str | None = Field(description='The appetite in words, e.g. "Cautious 4–6"; null when none')
    appetite_status: AppetiteStatus | None = Field(
        description="Where the residual score sits against the appetite range; null without an appetite"
    )
    in_appetite: bool | None = Field(description="The residual score is within the appetite range")
    appetite_rationale: str
    target_date: date | None
    controls: list[str]
    assurances: list[Assurance]
    lead_committee: str
    assurance_level: AssuranceLevel | None
    gaps: list[GapPublic]
    version: int
    updated_at: datetime
    updated_by: str | None


class RiskVersionSaved(BaseModel):
    """One version in the risk's history: its cycle and number, and who saved it and who replaced it,
    when (the current version has not been replaced). The service's HistoryEntry and the API's
    BafRiskVersionPublic both start from it."""

    cycle: str
    version: int
    current: bool
    saved_at: datetime
    saved_by: str | None
    replaced_at: datetime | None
    replaced_by: str | None


class BafRiskVersionPublic(RiskVersionSaved):
    description: str
    strategic_objective: str
    lead: str
    inherent_score: int | None
    inherent_rating: str | None
    residual_score: int
    residual_rating: str
    target_score: int
    target_rating: str
    appetite: str | None
    in_appetite: bool | None
    assurance_level: AssuranceLevel | None
    content: BafRiskContent
