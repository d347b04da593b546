"""Request and response models of the board assurance framework risk API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.integers import MAX_INTEGER, RowId

MatrixValue = Annotated[int, Field(ge=1, le=5, description="1 to 5 on the NHS 5×5 matrix")]
MAX_LINE = 1000
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LINE)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class Assurance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: int = Field(ge=1, le=3, description="1 management, 2 oversight and monitoring, 3 independent")
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
    "controls.*:string_too_long": f"Each control must be {MAX_LINE:,} characters or fewer",
    "controls:too_long": "List 50 controls or fewer",
    "assurances.*.source:string_too_long": f"Each source of assurance must be {MAX_LINE:,} characters or fewer",
    "assurances:too_long": "List 60 sources of assurance or fewer",
    "gaps.*.text:string_too_short": "Describe the gap, or untick the actions linked to it",
    "gaps.*.text:string_too_long": f"Each gap must be {MAX_LINE:,} characters or fewer",
    "gaps:too_long": "List 50 gaps or fewer",
    "version": "Reload the page and try again",
}


class BafRiskContent(BaseModel):
    """Everything a version of the risk holds."""

    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = RISK_FORM_MESSAGES
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    strategic_objective: LongText = ""
    lead: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    inherent_likelihood: MatrixValue
    inherent_consequence: MatrixValue
    residual_likelihood: MatrixValue
    residual_consequence: MatrixValue
    target_likelihood: MatrixValue
    target_consequence: MatrixValue
    controls: list[Item] = Field(default_factory=list, max_length=50)
    assurances: list[Assurance] = Field(default_factory=list, max_length=60)
    gaps: list[Gap] = Field(default_factory=list, max_length=50)


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
    inherent_likelihood: int
    inherent_consequence: int
    inherent_score: int
    inherent_rating: str
    residual_likelihood: int
    residual_consequence: int
    residual_score: int
    residual_rating: str
    target_likelihood: int
    target_consequence: int
    target_score: int
    target_rating: str
    controls: list[str]
    assurances: list[Assurance]
    gaps: list[GapPublic]
    version: int
    updated_at: datetime
    updated_by: str | None


class BafRiskVersionPublic(BaseModel):
    cycle: str
    version: int
    current: bool
    saved_at: datetime
    saved_by: str | None
    replaced_at: datetime | None
    replaced_by: str | None
    description: str
    strategic_objective: str
    lead: str
    inherent_score: int
    inherent_rating: str
    residual_score: int
    residual_rating: str
    target_score: int
    target_rating: str
    content: BafRiskContent
