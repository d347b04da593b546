"""Request models of the data-protection writes (the JSON API and the pages share them)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from api.accounts.schemas import EmailAddress


class ErasePerson(BaseModel):
    """Erase a person's name and email. The address is the one the platform admin read when they
    confirmed: if it has changed since, nothing is erased (409), so the right person is erased."""

    form_messages: ClassVar[dict[str, str]] = {
        "email": "The page was out of date: check it is the right person and try again",
    }
    email: EmailAddress = Field(description="The person's email address as you last read it (a check)")


class ErasurePublic(BaseModel):
    user_id: int
    erased: bool
    ratings_kept_anonymously: int
    headline_answers_kept_anonymously: int
