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


# --- The person's own account: signing in, passwords, email, two-factor (pages only) ------------------
#
# These forms have no JSON twin (the API signs in through /auth/token, OAuth2's form). Each is one
# command read with command_form. A rule that needs the account (is the password right, is it too
# like the email address) is checked by the account services, in the order the pages always used:
# fields such as `current_password` are plain text here so that order is kept.

ENTER_CODE = "Enter the 6-digit code from your authenticator app"
EMAIL_FORMAT = "Enter an email address in the correct format, like name@example.com"
Typed = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class SignIn(BaseModel):
    """The sign-in form: email address and password (`next`: where to go afterwards)."""

    form_messages: ClassVar[dict[str, str]] = {
        "email": "Enter your email address",
        "password": "Enter your password",
    }
    email: Typed
    password: Annotated[str, StringConstraints(min_length=1)]
    next: str = ""


class SecondFactorCode(BaseModel):
    """A code from the authenticator app (or a recovery code), at sign-in or when setting it up."""

    form_messages: ClassVar[dict[str, str]] = {"code": ENTER_CODE}
    code: Typed
    next: str = ""


class IdentityCheck(BaseModel):
    """The password (and code, with two-factor on) asked for again before a change to the account."""

    current_password: str = ""
    code: str = ""


class PasswordChange(IdentityCheck):
    new_password: str = ""
    confirm_password: str = ""


class NewPassword(BaseModel):
    """A new password chosen through an emailed link (checked against the account by passwords.py)."""

    password: str = ""
    confirm_password: str = ""


class ForgottenPassword(BaseModel):
    form_messages: ClassVar[dict[str, str]] = {
        "email:missing": "Enter your email address",
        "email:string_too_short": "Enter your email address",
        "email": EMAIL_FORMAT,
    }
    email: EmailAddress


class EmailChange(IdentityCheck):
    form_messages: ClassVar[dict[str, str]] = {
        "email:missing": "Enter your new email address",
        "email:string_too_short": "Enter your new email address",
        "email": EMAIL_FORMAT,
    }
    email: EmailAddress


class InvitationAcceptance(NewPassword):
    """Accepting an invitation: the person's own name, and the password they choose."""

    form_messages: ClassVar[dict[str, str]] = {
        "name": "Enter your full name",
        "name:string_too_long": f"Name must be {MAX_NAME} characters or fewer",
    }
    name: PersonName


class TrustSettings(BaseModel):
    """The chair's settings for the board: whether everyone must use two-factor authentication."""

    require_two_factor: bool = False


class TrustSwitch(BaseModel):
    """The trust the person is looking at now, from the trust switcher."""

    ods_code: str = ""
