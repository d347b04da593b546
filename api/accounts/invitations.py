"""Emailed one-time links (invitations, password resets), password changes and a board's members.

Services flush and never commit: the request's session dependency commits, so a change, its audit
event, its email and the link being used are kept together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, update
from sqlmodel import Session, select

from api.accounts.models import BOARD_ROLES, ROLE_NAMES, TRUST_ROLES, Membership, OneTimeToken, User
from api.accounts.passwords import hash_password, password_problem
from api.accounts.service import DEFAULT_BOARD_ROLE, normalise_email
from api.accounts.sessions import end_all_sessions
from api.accounts.tokens import new_secret, secret_hash
from api.audit.service import record
from api.db import utcnow
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.integers import can_name_a_row
from api.mail import send_email
from api.organisations.models import Organisation
from api.settings import Settings

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
LINK_PATHS = {INVITATION: "invitation", PASSWORD_RESET: "reset-password"}
# What a board member (not the chair or secretary) can be on the board.
MEMBER_BOARD_ROLES = ("ned", "executive", "chief_executive", "other")
# More reset emails than this to one person in an hour are quietly not sent (mail bombing).
RESETS_PER_HOUR = 5
SERVICE_NAME = "Race equality board self-assessment"

_ROLE_PHRASES = {"chair": "chair", "board_secretary": "board secretary"}
_BOARD_ROLE_PHRASES = {
    "ned": "a non-executive director",
    "executive": "an executive director",
    "chief_executive": "chief executive",
    "other": "a board member",
}
_ROLE_ORDER = {"chair": 0, "board_secretary": 1, "board_member": 2}


class LinkUnusable(Exception):
    """An emailed link that cannot be used: unknown (404), or used, replaced or expired (410)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


# --- Words ---------------------------------------------------------------------------------------


def role_label(role: str, board_role: str) -> str:
    """`Board member (non-executive director)`, `Chair`: how a role reads on a page."""
    if role == "board_member":
        return f"{ROLE_NAMES[role]} ({BOARD_ROLES.get(board_role, board_role).lower()})"
    return ROLE_NAMES[role]


def role_phrase(role: str, board_role: str) -> str:
    """What follows "as" in a sentence: `chair`, `a non-executive director`."""
    if role == "board_member":
        return _BOARD_ROLE_PHRASES.get(board_role, "a board member")
    return _ROLE_PHRASES[role]


def when(moment: datetime) -> str:
    """`2:05pm on 24 November 2026 (UK time)`, for emails read in England."""
    try:
        local, zone = moment.astimezone(ZoneInfo("Europe/London")), "UK time"
    except ZoneInfoNotFoundError:
        local, zone = moment, "UTC"
    return f"{local.strftime('%-I:%M%p').lower()} on {local.day} {local:%B %Y} ({zone})"


def board_role_for(role: str, board_role: str | None) -> str:
    """The stored board role: chosen for a board member, implied for the chair and secretary."""
    if role not in TRUST_ROLES:
        raise Unprocessable(f"Unknown role {role!r}: use one of {', '.join(TRUST_ROLES)}", field="role")
    if role == "board_member":
        if board_role not in MEMBER_BOARD_ROLES:
            raise Unprocessable(
                f"A board member needs a board role: one of {', '.join(MEMBER_BOARD_ROLES)}",
                field="board_role",
            )
        return board_role  # type: ignore[return-value]
    return DEFAULT_BOARD_ROLE[role]


def new_password_errors(password: str, confirm: str, email: str, field: str = "password") -> dict[str, str]:
    """What is wrong with a new password and its confirmation, by form field."""
    if not password:
        return {field: "Enter a new password"}
    problem = password_problem(password, email)
    if problem:
        return {field: problem}
    if not confirm:
        return {"confirm_password": "Enter the new password again to confirm it"}
    if confirm != password:
        return {"confirm_password": "The passwords do not match. Enter the same password in both boxes"}
    return {}


def _check_password(password: str, email: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise Unprocessable(problem, field="password")


# --- One-time links ------------------------------------------------------------------------------


def _retire_links(
    session: Session, *, user_id: int, purpose: str, organisation_id: int | None = None
) -> None:
    """Stop every unused link of this purpose for the person (optionally for one trust) working."""
    statement = (
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,  # type: ignore[arg-type]
            OneTimeToken.purpose == purpose,  # type: ignore[arg-type]
            OneTimeToken.used_at.is_(None),  # type: ignore[union-attr]
        )
        .values(used_at=utcnow())
    )
    if organisation_id is not None:
        statement = statement.where(OneTimeToken.organisation_id == organisation_id)  # type: ignore[arg-type]
    session.exec(statement)  # type: ignore[call-overload]


def _issue_link(
    session: Session,
    settings: Settings,
    *,
    user: User,
    purpose: str,
    organisation_id: int | None = None,
    created_by: User | None = None,
) -> tuple[str, datetime]:
    """A new link (older unused ones of the same purpose stop working); only its hash is stored."""
    _retire_links(session, user_id=user.id, purpose=purpose)  # type: ignore[arg-type]
    raw = new_secret()
    now = utcnow()
    expires_at = now + timedelta(hours=settings.one_time_link_hours)
    session.add(
        OneTimeToken(
            token_hash=secret_hash(raw),
            purpose=purpose,
            user_id=user.id,  # type: ignore[arg-type]
            organisation_id=organisation_id,
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return f"{settings.base_url.rstrip('/')}/{LINK_PATHS[purpose]}/{raw}", expires_at


def open_link(session: Session, raw: str, purpose: str, now: datetime | None = None) -> OneTimeToken:
    """The live link behind `raw`; raises LinkUnusable (404 unknown, 410 used or expired)."""
    if not raw or len(raw) > 200:
        raise LinkUnusable(404)
    link = session.exec(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == secret_hash(raw), OneTimeToken.purpose == purpose
        )
    ).first()
    if link is None:
        raise LinkUnusable(404)
    if link.used_at is not None or (now or utcnow()) >= link.expires_at:
        raise LinkUnusable(410)
    return link


def _use_link(session: Session, link: OneTimeToken) -> None:
    """Mark the link used, in the same transaction as the change it makes.

    A conditional UPDATE, so of two requests racing with the same link only one gets through.
    """
    now = utcnow()
    result = session.exec(
        update(OneTimeToken)  # type: ignore[call-overload]
        .where(
            OneTimeToken.id == link.id,  # type: ignore[arg-type]
            OneTimeToken.used_at.is_(None),  # type: ignore[union-attr]
            OneTimeToken.expires_at > now,  # type: ignore[arg-type]
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise LinkUnusable(410)


# --- Invitations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    membership: Membership
    user: User
    # False when the person already had a password: they were told, not sent a link.
    link_sent: bool


@dataclass(frozen=True)
class OpenInvitation:
    link: OneTimeToken
    user: User
    # Both None for a platform role invitation (sector analyst, platform admin): no board to join.
    organisation: Organisation | None
    membership: Membership | None


def _invitation_email(
    settings: Settings,
    *,
    user: User,
    organisation: Organisation,
    membership: Membership,
    actor: User,
    actor_role: str,
    link: str | None,
    expires_at: datetime | None,
) -> tuple[str, str]:
    inviter = f"{actor.name} ({ROLE_NAMES[actor_role].lower()})"
    as_role = role_phrase(membership.role, membership.board_role)
    intro = (
        f"Dear {user.name},\n\n"
        f"{inviter} has added you to the board of {organisation.name} on the {SERVICE_NAME} "
        f"service, as {as_role}.\n\n"
        "Boards use the service once a year to assess, with evidence, how far race equality is part "
        "of the board's business.\n\n"
    )
    unexpected = (
        "If you did not expect this email, you can ignore it, or tell "
        f"{organisation.name}'s board secretary.\n"
    )
    if link is None:
        subject = f"You have been added to the board of {organisation.name}"
        body = (
            intro + "You already have an account. Sign in as usual with your email address and password:\n\n"
            f"{settings.base_url.rstrip('/')}/sign-in\n\n"
            f"You will find {organisation.name} among your boards.\n\n" + unexpected
        )
        return subject, body
    assert expires_at is not None
    subject = f"Join the board of {organisation.name} on the {SERVICE_NAME}"
    body = (
        intro + "To accept, open this link and choose a password:\n\n"
        f"{link}\n\n"
        f"The link works once. It stops working at {when(expires_at)}. If it has stopped working, "
        f"ask {actor.name} to send the invitation again.\n\n"
        "Nobody can use your account until a password is chosen with this link. " + unexpected
    )
    return subject, body


def invite_member(
    session: Session,
    settings: Settings,
    *,
    organisation: Organisation,
    actor: User,
    actor_role: str,
    email: str,
    name: str,
    role: str,
    board_role: str | None,
    client_ip: str | None = None,
) -> Invitation:
    """Add a person to the board: a new account with an emailed link, or a note to an existing one.

    `email` must already be normalised (lower case). Already on this board: 409 naming them.
    """
    _chairs_by_a_chair(actor_role, role)
    board_role = board_role_for(role, board_role)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None:
        existing = session.exec(
            select(Membership).where(
                Membership.user_id == user.id, Membership.organisation_id == organisation.id
            )
        ).first()
        if existing is not None:
            raise Conflict(f"{user.name} ({email}) is already a member of this board", field="email")
        if not user.is_active:
            raise Conflict(
                f"The account for {email} has been closed. Contact the service team to reopen it",
                field="email",
            )
    existing_account = user is not None
    if user is None:
        user = User(email=email, name=name, password_hash=None)
        session.add(user)
        session.flush()
    membership = Membership(
        user_id=user.id,  # type: ignore[arg-type]
        organisation_id=organisation.id,  # type: ignore[arg-type]
        role=role,
        board_role=board_role,
    )
    session.add(membership)
    session.flush()
    link_sent = user.password_hash is None
    _send_invitation(session, settings, organisation, membership, user, actor, actor_role, link_sent)
    record(
        session,
        "invitation.sent",
        actor=actor,
        organisation_id=organisation.id,
        object_type="membership",
        object_id=membership.id,
        summary=f"{email} invited as {role_label(role, board_role).lower()}",
        details={
            "email": email,
            "role": role,
            "board_role": board_role,
            "existing_account": existing_account,
            "link_sent": link_sent,
        },
        client_ip=client_ip,
    )
    session.flush()
    return Invitation(membership=membership, user=user, link_sent=link_sent)


def _send_invitation(
    session: Session,
    settings: Settings,
    organisation: Organisation,
    membership: Membership,
    user: User,
    actor: User,
    actor_role: str,
    with_link: bool,
) -> None:
    link, expires_at = (
        _issue_link(
            session,
            settings,
            user=user,
            purpose=INVITATION,
            organisation_id=organisation.id,
            created_by=actor,
        )
        if with_link
        else (None, None)
    )
    subject, body = _invitation_email(
        settings,
        user=user,
        organisation=organisation,
        membership=membership,
        actor=actor,
        actor_role=actor_role,
        link=link,
        expires_at=expires_at,
    )
    send_email(session, settings, to=user.email, subject=subject, body=body)


def resend_invitation(
    session: Session,
    settings: Settings,
    *,
    organisation: Organisation,
    membership: Membership,
    user: User,
    actor: User,
    actor_role: str,
    client_ip: str | None = None,
) -> None:
    """A fresh link for someone who has not accepted yet; their older links stop working."""
    if user.password_hash is not None:
        raise Conflict(f"{user.name} has already accepted the invitation")
    _send_invitation(session, settings, organisation, membership, user, actor, actor_role, True)
    record(
        session,
        "invitation.sent",
        actor=actor,
        organisation_id=organisation.id,
        object_type="membership",
        object_id=membership.id,
        summary=f"Invitation sent again to {user.email}",
        details={
            "email": user.email,
            "role": membership.role,
            "board_role": membership.board_role,
            "again": True,
        },
        client_ip=client_ip,
    )
    session.flush()


def open_invitation(session: Session, raw: str) -> OpenInvitation:
    link = open_link(session, raw, INVITATION)
    user = session.get(User, link.user_id)
    if link.organisation_id is None:
        # A platform role invitation: usable while the person still has the role and no password.
        if user is None or not user.is_active or user.password_hash is not None or not user.platform_role:
            raise LinkUnusable(410)
        return OpenInvitation(link=link, user=user, organisation=None, membership=None)
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == link.user_id, Membership.organisation_id == link.organisation_id
        )
    ).first()
    organisation = session.get(Organisation, link.organisation_id) if link.organisation_id else None
    # Removed from the board since, or already has a password: the link has nothing left to do.
    if (
        user is None
        or not user.is_active
        or user.password_hash is not None
        or membership is None
        or organisation is None
    ):
        raise LinkUnusable(410)
    return OpenInvitation(link=link, user=user, organisation=organisation, membership=membership)


def accept_invitation(
    session: Session, invitation: OpenInvitation, *, name: str, password: str, client_ip: str | None = None
) -> User:
    """Set the person's name and first password and use up the link. Starts no session."""
    user = invitation.user
    _check_password(password, user.email)
    _use_link(session, invitation.link)
    user.name = name
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.add(user)
    _retire_links(session, user_id=user.id, purpose=INVITATION)  # type: ignore[arg-type]
    record(
        session,
        "invitation.accepted",
        actor=user,
        organisation_id=invitation.organisation.id if invitation.organisation else None,
        object_type="membership" if invitation.membership else "user",
        object_id=invitation.membership.id if invitation.membership else user.id,
        summary=f"{user.email} accepted the invitation and chose a password",
        details={"email": user.email},
        client_ip=client_ip,
    )
    session.flush()
    return user


# --- Passwords -----------------------------------------------------------------------------------


def _password_changed_email(settings: Settings, user: User) -> tuple[str, str]:
    body = (
        f"Dear {user.name},\n\n"
        f"The password for your {SERVICE_NAME} account ({user.email}) has just been changed. "
        "You have been signed out on every device, and any API tokens you had have stopped working.\n\n"
        f"If you changed it, there is nothing more to do. Sign in with your new password at "
        f"{settings.base_url.rstrip('/')}/sign-in\n\n"
        "If you did not change it, reset your password straight away at "
        f"{settings.base_url.rstrip('/')}/forgot-password and tell your board secretary.\n"
    )
    return "Your password has been changed", body


def request_password_reset(
    session: Session, settings: Settings, email: str, client_ip: str | None = None
) -> None:
    """Email a reset link if `email` (normalised) is an active account with a password.

    The caller shows the same page whatever happens here, so nobody learns who has an account.
    """
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.is_active or user.password_hash is None:
        return
    recent = session.exec(
        select(func.count())
        .select_from(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == PASSWORD_RESET,
            OneTimeToken.created_at > utcnow() - timedelta(hours=1),
        )
    ).one()
    if recent >= RESETS_PER_HOUR:
        return
    link, expires_at = _issue_link(session, settings, user=user, purpose=PASSWORD_RESET)
    body = (
        f"Dear {user.name},\n\n"
        f"Somebody asked to reset the password for your {SERVICE_NAME} account ({user.email}).\n\n"
        "To choose a new password, open this link:\n\n"
        f"{link}\n\n"
        f"The link works once. It stops working at {when(expires_at)}. If it has stopped working, "
        f"ask for a new one at {settings.base_url.rstrip('/')}/forgot-password\n\n"
        "If you did not ask to reset your password, you can ignore this email: your password has not "
        "changed and nobody can change it without this link.\n"
    )
    send_email(session, settings, to=user.email, subject="Reset your password", body=body)
    record(
        session,
        "password.reset_requested",
        object_type="user",
        object_id=user.id,
        summary=f"Password reset link sent to {user.email}",
        details={"email": user.email},
        client_ip=client_ip,
    )
    session.flush()


def open_password_reset(session: Session, raw: str) -> tuple[OneTimeToken, User]:
    link = open_link(session, raw, PASSWORD_RESET)
    user = session.get(User, link.user_id)
    if user is None or not user.is_active or user.password_hash is None:
        raise LinkUnusable(410)
    return link, user


def _set_password(session: Session, settings: Settings, user: User, password: str) -> None:
    """A new password: every session and token ends, reset links stop working, the person is told."""
    _check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.add(user)
    _retire_links(session, user_id=user.id, purpose=PASSWORD_RESET)  # type: ignore[arg-type]
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    subject, body = _password_changed_email(settings, user)
    send_email(session, settings, to=user.email, subject=subject, body=body)


def complete_password_reset(
    session: Session,
    settings: Settings,
    link: OneTimeToken,
    user: User,
    password: str,
    client_ip: str | None = None,
) -> None:
    _check_password(password, user.email)
    _use_link(session, link)
    _set_password(session, settings, user, password)
    record(
        session,
        "password.reset",
        actor=user,
        object_type="user",
        object_id=user.id,
        summary="Password reset with an emailed link",
        details={"email": user.email},
        client_ip=client_ip,
    )
    session.flush()


def change_password(
    session: Session, settings: Settings, user: User, password: str, client_ip: str | None = None
) -> None:
    """The signed-in person's new password (the caller has checked the current one)."""
    _set_password(session, settings, user, password)
    record(
        session,
        "password.changed",
        actor=user,
        object_type="user",
        object_id=user.id,
        summary="Password changed",
        client_ip=client_ip,
    )
    session.flush()


def change_email(session: Session, settings: Settings, user: User, new_email: str, client_ip: str) -> str:
    """The signed-in person's new email address (the caller has asked for their password and code).

    Stored normalised; refused if another account has it. Both addresses are told, every session and
    token ends (the address is what they sign in with), and the change is audited. Returns the address.
    """
    address = normalise_email(new_email)
    if address == user.email:
        raise Unprocessable("That is already your email address", field="email")
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        raise Conflict(
            "Another account uses that email address. Enter a different one, or ask the service team",
            field="email",
        )
    old = user.email
    user.email = address
    session.add(user)
    session.flush()
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    sign_in = f"{settings.base_url.rstrip('/')}/sign-in"
    send_email(
        session,
        settings,
        to=old,
        subject="Your email address has been changed",
        body=(
            f"Dear {user.name},\n\n"
            f"The email address for your {SERVICE_NAME} account has been changed from {old} to "
            f"{address}. You now sign in with the new address.\n\n"
            "If you did not change it, tell your board secretary or the service team straight away.\n"
        ),
    )
    send_email(
        session,
        settings,
        to=address,
        subject="You now sign in with this email address",
        body=(
            f"Dear {user.name},\n\n"
            f"You now sign in to the {SERVICE_NAME} with this email address, instead of {old}:\n\n"
            f"{sign_in}\n\n"
            "If you did not expect this email, tell the service team.\n"
        ),
    )
    record(
        session,
        "account.email_changed",
        actor=user,
        object_type="user",
        object_id=user.id,
        summary=f"Changed their email address from {old} to {address}",
        details={"old_email": old, "new_email": address},
        client_ip=client_ip,
    )
    session.flush()
    return address


# --- The board's members -------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardMember:
    membership_id: int
    user_id: int
    name: str
    email: str
    role: str
    board_role: str
    # Invited but has not chosen a password yet.
    invited: bool
    added_at: datetime

    @property
    def role_label(self) -> str:
        return role_label(self.role, self.board_role)


def board_members(session: Session, organisation_id: int) -> list[BoardMember]:
    """Everyone on the board, chairs first, then the secretary, then members by name."""
    rows = session.exec(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)  # type: ignore[arg-type]
        .where(Membership.organisation_id == organisation_id)
    ).all()
    members = [
        BoardMember(
            membership_id=m.id,  # type: ignore[arg-type]
            user_id=u.id,  # type: ignore[arg-type]
            name=u.name,
            email=u.email,
            role=m.role,
            board_role=m.board_role,
            invited=u.password_hash is None,
            added_at=m.created_at,
        )
        for m, u in rows
    ]
    return sorted(members, key=lambda m: (_ROLE_ORDER.get(m.role, 9), m.name.lower(), m.email))


def member_of_trust(session: Session, organisation_id: int, membership_id: int) -> tuple[Membership, User]:
    """A membership of this trust's board; another trust's (or none): 404."""
    if not can_name_a_row(membership_id):
        raise NotFound("No member with that number on this board")
    row = session.exec(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)  # type: ignore[arg-type]
        .where(Membership.id == membership_id, Membership.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise NotFound("No member with that number on this board")
    return row[0], row[1]


def board_member_view(membership: Membership, user: User) -> BoardMember:
    return BoardMember(
        membership_id=membership.id,  # type: ignore[arg-type]
        user_id=user.id,  # type: ignore[arg-type]
        name=user.name,
        email=user.email,
        role=membership.role,
        board_role=membership.board_role,
        invited=user.password_hash is None,
        added_at=membership.created_at,
    )


def _is_only_chair(session: Session, membership: Membership) -> bool:
    if membership.role != "chair":
        return False
    # Locks the chairs' rows (PostgreSQL), so two changes at once cannot leave the board without one.
    chairs = session.exec(
        select(Membership.id)
        .where(Membership.organisation_id == membership.organisation_id, Membership.role == "chair")
        .with_for_update()
    ).all()
    return len(chairs) <= 1


def _chairs_by_a_chair(actor_role: str, *roles: str) -> None:
    """Only a chair appoints, demotes or removes a chair: a secretary cannot take over the board."""
    if "chair" in roles and actor_role != "chair":
        raise Forbidden("Only a chair can appoint, change or remove a chair", field="role")


def _not_yourself(membership: Membership, actor: User, refusal: str) -> None:
    # Nobody locks themselves out or promotes themselves: another chair or the secretary does it.
    if membership.user_id == actor.id:
        who = "another chair" if membership.role == "chair" else "the chair or the board secretary"
        raise Conflict(f"{refusal}. Ask {who} to do it")


def change_member_role(
    session: Session,
    *,
    organisation: Organisation,
    membership: Membership,
    user: User,
    actor: User,
    actor_role: str,
    role: str,
    board_role: str | None,
    client_ip: str | None = None,
) -> bool:
    """A new role on this board; the person is signed out everywhere. False if nothing changed."""
    new_board_role = board_role_for(role, board_role)
    _not_yourself(membership, actor, "You cannot change your own role")
    if membership.role != role:
        _chairs_by_a_chair(actor_role, membership.role, role)
    if (membership.role, membership.board_role) == (role, new_board_role):
        return False
    if role != "chair" and _is_only_chair(session, membership):
        raise Conflict(
            f"{user.name} is the board's only chair. "
            "Invite or appoint another chair before changing their role",
            field="role",
        )
    old_role, old_board_role = membership.role, membership.board_role
    membership.role, membership.board_role = role, new_board_role
    session.add(membership)
    session.flush()
    # Their pages and tokens were issued for the old role: they sign in again, on every board.
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    record(
        session,
        "member.role_changed",
        actor=actor,
        organisation_id=organisation.id,
        object_type="membership",
        object_id=membership.id,
        summary=(
            f"{user.email}: {role_label(old_role, old_board_role)} → {role_label(role, new_board_role)}"
            f" by {actor.email}"
        ),
        details={
            "email": user.email,
            "old_role": old_role,
            "old_board_role": old_board_role,
            "new_role": role,
            "new_board_role": new_board_role,
            "by": actor.email,
        },
        client_ip=client_ip,
    )
    session.flush()
    return True


def remove_member(
    session: Session,
    *,
    organisation: Organisation,
    membership: Membership,
    user: User,
    actor: User,
    actor_role: str,
    client_ip: str | None = None,
) -> None:
    """Take the person off this board; they are signed out everywhere and their invitation stops."""
    _not_yourself(membership, actor, "You cannot remove yourself from the board")
    _chairs_by_a_chair(actor_role, membership.role)
    if _is_only_chair(session, membership):
        raise Conflict(
            f"{user.name} is the board's only chair and cannot be removed. "
            "Invite or appoint another chair first"
        )
    details = {
        "email": user.email,
        "role": membership.role,
        "board_role": membership.board_role,
        "by": actor.email,
    }
    membership_id = membership.id
    session.delete(membership)
    _retire_links(session, user_id=user.id, purpose=INVITATION, organisation_id=organisation.id)  # type: ignore[arg-type]
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    record(
        session,
        "member.removed",
        actor=actor,
        organisation_id=organisation.id,
        object_type="membership",
        object_id=membership_id,
        summary=f"{user.email} removed from the board by {actor.email}",
        details=details,
        client_ip=client_ip,
    )
    session.flush()
