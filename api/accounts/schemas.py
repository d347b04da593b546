"""Commands for managing a board's members: one model per write, used by the JSON API as its body
and by the page as its form (api/forms.py), so both doors refuse the same input."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from api.accounts.members import MEMBER_BOARD_ROLES
from api.accounts.roles import BOARD_MEMBER, BoardRole, TrustRole
from api.accounts.service import DEFAULT_BOARD_ROLE, normalise_email
from api.errors import InputError

MAX_NAME = 120


def _one_space(value: Any) -> Any:
    """A name as it is shown: runs of spaces (and tabs, new lines) become one space, ends trimmed."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _email_address(value: str) -> str:
    """The address as stored (normalise_email), or a ValueError pydantic reports on the field."""
    try:
        return normalise_email(value)
    except InputError:
        raise ValueError("not a valid email address") from None


# A person's full name: spaces tidied before the length is counted, as the pages always did.
PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME),
    # Runs before the constraints to its left (pydantic applies Annotated metadata inside out).
    BeforeValidator(_one_space),
]
# An email address, checked and stored in the one form accounts are looked up by. Blank (after
# trimming) is "too short", so a page can ask for it rather than call it the wrong format.
EmailAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(_email_address),
    WithJsonSchema({"type": "string", "format": "email"}),
]

# What a person reads when a name or address on a form is refused (api/forms.py).
PERSON_FORM_MESSAGES = {
    "email:missing": "Enter their email address",
    "email:string_too_short": "Enter their email address",
    "email": "Enter an email address in the correct format, like name@example.com",
    "name": "Enter their full name",
    "name:string_too_long": f"Name must be {MAX_NAME} characters or fewer",
}
ROLE_FORM_MESSAGES = {
    "role": "Select their role on the board",
    "board_role": "Select what they are on the board",
}


def _fits_the_role(cls: type[BaseModel], board_role: str | None, info: ValidationInfo) -> str | None:
    role = info.data.get("role")
    if role == BOARD_MEMBER:
        if board_role not in MEMBER_BOARD_ROLES:
            raise ValueError(f"a board member needs a board role: one of {', '.join(MEMBER_BOARD_ROLES)}")
    elif role in DEFAULT_BOARD_ROLE and board_role not in (None, DEFAULT_BOARD_ROLE[role]):
        raise ValueError(f"only board members have a board role: leave it out for the {role}")
    return board_role


def _board_role_field() -> Any:
    return Field(
        default=None,
        validate_default=True,
        description="For a board member: ned, executive, chief_executive or other. "
        "Leave out for a chair (chair) or board secretary (secretary).",
    )


class MemberRole(BaseModel):
    """A member's new role on the board (PATCH .../members/{id}; the page's change-role form)."""

    form_messages: ClassVar[dict[str, str]] = ROLE_FORM_MESSAGES
    role: TrustRole
    board_role: BoardRole | None = _board_role_field()

    _board_role_fits = field_validator("board_role")(_fits_the_role)


class MemberInvite(BaseModel):
    """Someone to invite to the board (POST .../members; the page's invite form). The fields are in
    the form's order, so its error summary lists the problems top to bottom."""

    form_messages: ClassVar[dict[str, str]] = {**PERSON_FORM_MESSAGES, **ROLE_FORM_MESSAGES}
    email: EmailAddress
    name: PersonName
    role: TrustRole
    board_role: BoardRole | None = _board_role_field()

    _board_role_fits = field_validator("board_role")(_fits_the_role)
