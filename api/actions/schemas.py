"""Request and response models of the action plan API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.integers import MAX_INTEGER

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Status = Literal["not_started", "in_progress", "done"]
CriterionKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


# What a person reads when the action form is refused, by field (api/forms.py).
ACTION_FORM_MESSAGES = {
    "title": "Enter a title for the action",
    "title:string_too_long": "Title must be 200 characters or fewer",
    "description": "Description must be 5,000 characters or fewer",
    "owner": "Owner must be 200 characters or fewer",
    "status": "Select the status of the action",
    "due_date": "The due date must be a real date, like 31 1 2027",
    "due_date:missing": "Enter the date the action is due",
    "version": "Reload the page and try again",
}


class ActionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = ACTION_FORM_MESSAGES
    title: Title
    description: Description = ""
    owner: Owner = Field("", description="A board member's name or a post, such as 'Director of People'")
    due_date: date = Field(description="Today or later")
    status: Status = "not_started"
    criteria: list[CriterionKey] = Field(default_factory=list, max_length=50, description="Criterion keys")
    section: CriterionKey | None = Field(
        None, description="The priority (framework section key) it addresses"
    )


class ActionUpdate(BaseModel):
    """Only the fields sent change. `version` is the version you last saw."""

    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = ACTION_FORM_MESSAGES
    version: int = Field(ge=1, le=MAX_INTEGER)
    title: Title | None = None
    description: Description | None = None
    owner: Owner | None = None
    due_date: date | None = None
    status: Status | None = None
    criteria: list[CriterionKey] | None = Field(None, max_length=50)
    section: CriterionKey | None = None

    @model_validator(mode="after")
    def _no_nulls_for_required(self) -> ActionUpdate:
        for name in ("title", "due_date", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class SuggestedActionCreate(BaseModel):
    """A suggestion from the framework: a criterion's suggested action, or a section's resource."""

    model_config = ConfigDict(extra="forbid")
    criterion: CriterionKey | None = None
    section: CriterionKey | None = None
    index: int = Field(ge=0, description="Position of the suggested action (or resource) in its list, from 0")

    @model_validator(mode="after")
    def _one_source(self) -> SuggestedActionCreate:
        if (self.criterion is None) == (self.section is None):
            raise ValueError("give either criterion (a suggested action) or section (a resource)")
        return self


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = {
        "text": "Enter the progress note",
        "text:string_too_long": "The note must be 5,000 characters or fewer",
        "noted_on": "The date must be a real date, like 31 1 2027",
    }
    text: NoteText
    noted_on: date | None = Field(None, description="Defaults to today; not in the future")


class NotePublic(BaseModel):
    id: int
    text: str
    noted_on: date
    author: str | None
    created_at: datetime


class ActionPublic(BaseModel):
    id: int
    assessment_id: int
    cycle: str
    title: str
    description: str
    owner: str
    due_date: date
    status: Status
    overdue: bool
    criteria: list[str]
    section: str | None
    carried_from_action_id: int | None
    carried_from_cycle: str | None
    notes: list[NotePublic]
    version: int
    created_at: datetime
    updated_at: datetime


class Suggestion(BaseModel):
    """A suggested action offered beside a low-scoring or disputed section."""

    section: str
    section_title: str
    reasons: list[str]
    criterion: str | None
    index: int
    kind: Literal["suggested_action", "resource"]
    text: str
    url: str | None = None
