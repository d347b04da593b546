"""Creating people and giving them a place on a board or a sector-wide role."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from api.accounts.models import BOARD_ROLES, Membership, User
from api.accounts.passwords import hash_password, password_problem
from api.accounts.roles import (
    BOARD_MEMBER,
    BOARD_ROLE_CHAIR,
    BOARD_SECRETARY,
    CHAIR,
    PLATFORM_ROLES,
    TRUST_ROLES,
)
from api.audit.service import record_on_user
from api.db import utcnow
from api.errors import InputError
from api.organisations.models import Organisation

DEFAULT_BOARD_ROLE = {CHAIR: BOARD_ROLE_CHAIR, BOARD_MEMBER: "ned", BOARD_SECRETARY: "secretary"}


def folded_email(email: str) -> str:
    """Unicode NFKC, then case-folded: `ﬁnance@…`, `FINANCE@…` and `finance@…` are one address."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def normalise_email(email: str) -> str:
    """The address as stored: folded, checked, its domain in Unicode form, folded again (so that
    normalising twice changes nothing). Invalid: InputError."""
    try:
        return folded_email(validate_email(folded_email(email), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InputError(f"{email!r} is not a valid email address: {exc}") from exc


def lookup_email(email: str) -> str:
    """The form to look an account up by: the stored form when the address is valid, else just
    folded (it then matches no account, and is throttled under that form)."""
    try:
        return normalise_email(email)
    except InputError:
        return folded_email(email)


def create_user(
    session: Session,
    *,
    email: str,
    role: str,
    password: str | None,
    organisation_code: str | None = None,
    name: str | None = None,
    board_role: str | None = None,
    actor: User | None = None,
) -> User:
    """A new user with a trust role (needs an organisation) or a platform role (must not have one)."""
    email = normalise_email(email)
    if role not in TRUST_ROLES + PLATFORM_ROLES:
        raise InputError(f"unknown role {role!r}: use one of {', '.join(TRUST_ROLES + PLATFORM_ROLES)}")
    organisation = None
    if role in TRUST_ROLES:
        if not organisation_code:
            raise InputError(f"role {role} belongs to a trust: give --organisation ODS_CODE")
        organisation = session.exec(
            select(Organisation).where(Organisation.ods_code == organisation_code.upper())
        ).first()
        if organisation is None:
            raise InputError(f"no organisation with ODS code {organisation_code.upper()!r}")
        board_role = board_role or DEFAULT_BOARD_ROLE[role]
        if board_role not in BOARD_ROLES:
            raise InputError(f"unknown board role {board_role!r}: use one of {', '.join(BOARD_ROLES)}")
    elif organisation_code:
        raise InputError(f"role {role} is not tied to a trust: leave out --organisation")
    if password is not None:
        problem = password_problem(password, email)
        if problem:
            raise InputError(problem)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise InputError(f"a user with email {email} already exists")

    user = User(
        email=email,
        name=(name or email.split("@")[0].replace(".", " ").title()).strip(),
        password_hash=hash_password(password) if password is not None else None,
        platform_role=role if role in PLATFORM_ROLES else None,
    )
    session.add(user)
    session.flush()
    if organisation is not None:
        session.add(
            Membership(
                user_id=user.id,
                organisation_id=organisation.id,
                role=role,
                board_role=board_role or DEFAULT_BOARD_ROLE[role],
            )
        )
    record_on_user(
        session,
        "user.created",
        user,
        f"{email} added as {role}",
        actor=actor,
        details={"role": role},
        organisation_id=organisation.id if organisation else None,
    )
    session.flush()
    return user


def note_if_closed(session: Session, user: User) -> None:
    """Mark the account closed when it has just lost its last board membership and platform role:
    the retention command (docs/data-protection.md) anonymises it a set time later. Flushes."""
    session.flush()
    if user.platform_role is None and user.closed_at is None:
        still_a_member = session.exec(select(Membership.id).where(Membership.user_id == user.id)).first()
        if still_a_member is None:
            user.closed_at = utcnow()
            session.add(user)
            session.flush()
