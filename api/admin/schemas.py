"""Request models of the platform admin's writes (the JSON API and the pages share them)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from api.accounts.roles import PlatformRole
from api.accounts.schemas import PERSON_FORM_MESSAGES, EmailAddress, PersonName
from api.assessments.cycles import check_cycle_name
from api.errors import InputError
from api.forms import FileUpload, date_from_parts
from api.integers import MAX_INTEGER


def _cycle_name(name: str) -> str:
    try:
        check_cycle_name(name)
    except InputError as exc:
        message = str(exc)
        raise ValueError(message[:1].upper() + message[1:]) from None
    return name


class CycleOpen(BaseModel):
    """A new assessment cycle (the admin's page; there is no JSON twin). The dates come from the
    three boxes of NHS.UK date inputs, as (day, month, year)."""

    form_messages: ClassVar[dict[str, str]] = {
        "name:missing": "Enter the name of the cycle, like 2027/28",
        "name:string_too_short": "Enter the name of the cycle, like 2027/28",
        "framework": "Select the framework boards will answer in this cycle",
    }
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_cycle_name)]
    opens_on: date
    closes_on: date
    framework: Annotated[str, StringConstraints(min_length=1)]

    @field_validator("opens_on", "closes_on", mode="before")
    @classmethod
    def _from_boxes(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, tuple):
            label = "opens" if info.field_name == "opens_on" else "closes"
            return date_from_parts(*value, f"The date the cycle {label}", example="1 4 2027")
        return value

    @field_validator("closes_on")
    @classmethod
    def _after_opening(cls, closes_on: date, info: ValidationInfo) -> date:
        opens_on = info.data.get("opens_on")
        if opens_on is not None and closes_on <= opens_on:
            raise ValueError("The date the cycle closes must be after the date it opens")
        return closes_on


class TrustsImport(FileUpload):
    form_messages: ClassVar[dict[str, str]] = {"file_name": "Select a CSV file"}


class FrameworkFileCheck(FileUpload):
    form_messages: ClassVar[dict[str, str]] = {"file_name": "Select a YAML file"}


class CloseCycleRequest(BaseModel):
    form_messages: ClassVar[dict[str, str]] = {
        "cycle": "Choose the year to close",
        "version": "The page was out of date: check the year and try again",
    }
    cycle: str = Field(pattern=r"^\d{4}/\d{2}$", description="The financial year, like 2026/27")
    version: int = Field(
        ge=0, le=MAX_INTEGER, description="The cycle's version as you last read it (compare-and-set)"
    )


class FirstChairInvite(BaseModel):
    """The first chair of a trust with none, invited by a platform admin (the page's form; there is
    no JSON twin). The same name and address rules as every invitation."""

    form_messages: ClassVar[dict[str, str]] = PERSON_FORM_MESSAGES
    email: EmailAddress
    name: PersonName


class PlatformInvite(BaseModel):
    """Someone to invite as a sector analyst or platform admin (the page's invite form; there is no
    JSON twin). The name and address follow the same rules as a board member's invitation."""

    form_messages: ClassVar[dict[str, str]] = {**PERSON_FORM_MESSAGES, "role": "Select their role"}
    email: EmailAddress
    name: PersonName
    role: PlatformRole
