"""Request models of the platform admin's writes (the JSON API and the pages share them)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from api.accounts.roles import PlatformRole
from api.accounts.schemas import PERSON_FORM_MESSAGES, EmailAddress, PersonName
from api.integers import MAX_INTEGER


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
