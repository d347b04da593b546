"""Inviting a person to a board, sending the invitation again, and accepting it with a first password.

Services flush and never commit: the request's session dependency commits, so a change, its audit
event, its email and the link being used are kept together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from api.accounts.links import INVITATION, LinkUnusable, _issue_link, _retire_links, _use_link, open_link
from api.accounts.members import BoardChange, _chairs_by_a_chair, board_role_for
from api.accounts.models import ROLE_NAMES, Membership, OneTimeToken, User
from api.accounts.passwords import _check_password, hash_password
from api.accounts.roles import CHAIR, PLATFORM_ADMIN
from api.accounts.schemas import MemberInvite
from api.accounts.wording import SERVICE_NAME, role_label, role_phrase, when
from api.audit.service import record
from api.db import utcnow
from api.errors import Conflict
from api.mail import OutboxEmail, send_email
from api.organisations.models import Organisation
from api.settings import Settings
from api.templating import render_text


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


# A person is sent at most one invitation email a day: "send again" cannot flood an inbox.
RESEND_AFTER = timedelta(days=1)


class InvitationSentToday(Conflict):
    """A second invitation email to one person on one day (see RESEND_AFTER)."""


def invitation_subject(organisation: Organisation) -> str:
    return f"Join the board of {organisation.name} on the {SERVICE_NAME}"


def _invitation_email(
    settings: Settings,
    by: BoardChange,
    membership: Membership,
    user: User,
    link: str | None,
    expires_at: datetime | None,
) -> tuple[str, str]:
    organisation = by.organisation
    if link is None:
        subject = f"You have been added to the board of {organisation.name}"
    else:
        assert expires_at is not None
        subject = invitation_subject(organisation)
    body = render_text(
        "emails/invitation.txt",
        service_name=SERVICE_NAME,
        user=user,
        organisation=organisation,
        actor=by.actor,
        inviter=f"{by.actor.name} ({ROLE_NAMES[by.actor_role].lower()})",
        as_role=role_phrase(membership.role, membership.board_role),
        link=link,
        expires=when(expires_at) if expires_at else None,
        sign_in=f"{settings.base_url.rstrip('/')}/sign-in",
    )
    return subject, body


def invite_member(session: Session, settings: Settings, by: BoardChange, invite: MemberInvite) -> Invitation:
    """Add a person to the board: a new account with an emailed link, or a note to an existing one.

    The command's email is normalised (lower case). Already on this board: 409 naming them.
    A platform admin appoints only a board's first chair (`invite_first_chair`).
    """
    email, name, role = invite.email, invite.name, invite.role
    if by.actor_role != PLATFORM_ADMIN:
        _chairs_by_a_chair(by.actor_role, role)
    board_role = board_role_for(role, invite.board_role)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None:
        existing = session.exec(
            select(Membership).where(
                Membership.user_id == user.id, Membership.organisation_id == by.organisation.id
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
        organisation_id=by.organisation.id,  # type: ignore[arg-type]
        role=role,
        board_role=board_role,
    )
    session.add(membership)
    # A closed account given a board again is open: the retention clock stops.
    user.closed_at = None
    session.add(user)
    session.flush()
    link_sent = user.password_hash is None
    _send_invitation(session, settings, by, membership, user, with_link=link_sent)
    by.record(
        session,
        "invitation.sent",
        membership.id,
        f"{email} invited as {role_label(role, board_role).lower()}",
        {
            "email": email,
            "role": role,
            "board_role": board_role,
            "existing_account": existing_account,
            "link_sent": link_sent,
        },
    )
    return Invitation(membership=membership, user=user, link_sent=link_sent)


def invite_first_chair(
    session: Session,
    settings: Settings,
    *,
    organisation: Organisation,
    actor: User,
    email: str,
    name: str,
    client_ip: str | None = None,
) -> Invitation:
    """A platform admin invites the chair of a trust that has none yet; from then on the chair (or
    the board secretary) invites the board. A trust with a chair: 409."""
    chair = session.exec(
        select(User.name)
        .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
        .where(Membership.organisation_id == organisation.id, Membership.role == CHAIR)
    ).first()
    if chair is not None:
        raise Conflict(
            f"{organisation.name} already has a chair ({chair}). Ask them to invite the board", field="email"
        )
    by = BoardChange(organisation, actor, PLATFORM_ADMIN, client_ip)
    invite = MemberInvite.model_construct(email=email, name=name, role=CHAIR, board_role=None)
    return invite_member(session, settings, by, invite)


def _send_invitation(
    session: Session,
    settings: Settings,
    by: BoardChange,
    membership: Membership,
    user: User,
    *,
    with_link: bool,
) -> None:
    link, expires_at = (
        _issue_link(
            session,
            settings,
            user=user,
            purpose=INVITATION,
            organisation_id=by.organisation.id,
            created_by=by.actor,
        )
        if with_link
        else (None, None)
    )
    subject, body = _invitation_email(settings, by, membership, user, link, expires_at)
    send_email(session, settings, to=user.email, subject=subject, body=body)


def resend_invitation(
    session: Session, settings: Settings, by: BoardChange, membership: Membership, user: User
) -> None:
    """A fresh link for someone who has not accepted yet; their older links stop working."""
    if user.password_hash is not None:
        raise Conflict(f"{user.name} has already accepted the invitation")
    # Counted from the outbox, where every invitation email is kept.
    emailed_today = session.exec(
        select(OutboxEmail.id).where(
            OutboxEmail.to_address == user.email,
            OutboxEmail.subject == invitation_subject(by.organisation),
            OutboxEmail.created_at > utcnow() - RESEND_AFTER,  # type: ignore[operator]
        )
    ).first()
    if emailed_today is not None:
        raise InvitationSentToday(
            f"{user.name} was sent an invitation in the last 24 hours. You can send it again tomorrow"
        )
    _send_invitation(session, settings, by, membership, user, with_link=True)
    by.record(
        session,
        "invitation.sent",
        membership.id,
        f"Invitation sent again to {user.email}",
        {"email": user.email, "role": membership.role, "board_role": membership.board_role, "again": True},
    )


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
