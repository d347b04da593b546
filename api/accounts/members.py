"""A board's members: listing them, changing a member's role and removing one, and the chair rules.

Services flush and never commit: the request's session dependency commits, so a change and its audit
event are kept together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from api.accounts.links import INVITATION, _retire_links
from api.accounts.models import Membership, User
from api.accounts.roles import BOARD_MEMBER, BOARD_SECRETARY, CHAIR, TRUST_ROLES
from api.accounts.service import DEFAULT_BOARD_ROLE, note_if_closed
from api.accounts.sessions import end_all_sessions
from api.accounts.wording import role_label
from api.audit.service import record
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.integers import can_name_a_row
from api.organisations.models import Organisation

# What a board member (not the chair or secretary) can be on the board.
MEMBER_BOARD_ROLES = ("ned", "executive", "chief_executive", "other")

_ROLE_ORDER = {CHAIR: 0, BOARD_SECRETARY: 1, BOARD_MEMBER: 2}


def board_role_for(role: str, board_role: str | None) -> str:
    """The stored board role: chosen for a board member, implied for the chair and secretary."""
    if role not in TRUST_ROLES:
        raise Unprocessable(f"Unknown role {role!r}: use one of {', '.join(TRUST_ROLES)}", field="role")
    if role == BOARD_MEMBER:
        if board_role not in MEMBER_BOARD_ROLES:
            raise Unprocessable(
                f"A board member needs a board role: one of {', '.join(MEMBER_BOARD_ROLES)}",
                field="board_role",
            )
        return board_role  # type: ignore[return-value]
    return DEFAULT_BOARD_ROLE[role]


@dataclass(frozen=True)
class BoardChange:
    """Who changes a board's members, on which board, and from where: what every member change
    checks (a secretary cannot appoint a chair) and writes into its audit event."""

    organisation: Organisation
    actor: User
    actor_role: str
    client_ip: str | None = None

    def record(
        self, session: Session, action: str, object_id: int | None, summary: str, details: dict
    ) -> None:
        record(
            session,
            action,
            actor=self.actor,
            organisation_id=self.organisation.id,
            object_type="membership",
            object_id=object_id,
            summary=summary,
            details=details,
            client_ip=self.client_ip,
        )
        session.flush()


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
    members = [board_member_view(m, u) for m, u in rows]
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
    if membership.role != CHAIR:
        return False
    # Locks the chairs' rows (PostgreSQL), so two changes at once cannot leave the board without one.
    chairs = session.exec(
        select(Membership.id)
        .where(Membership.organisation_id == membership.organisation_id, Membership.role == CHAIR)
        .with_for_update()
    ).all()
    return len(chairs) <= 1


def _chairs_by_a_chair(actor_role: str, *roles: str) -> None:
    """Only a chair appoints, demotes or removes a chair: a secretary cannot take over the board."""
    if CHAIR in roles and actor_role != CHAIR:
        raise Forbidden("Only a chair can appoint, change or remove a chair", field="role")


def _not_yourself(membership: Membership, actor: User, refusal: str) -> None:
    # Nobody locks themselves out or promotes themselves: another chair or the secretary does it.
    if membership.user_id == actor.id:
        who = "another chair" if membership.role == CHAIR else "the chair or the board secretary"
        raise Conflict(f"{refusal}. Ask {who} to do it")


def change_member_role(
    session: Session, by: BoardChange, membership: Membership, user: User, change: Any
) -> bool:
    """A new role on this board (a MemberRole command); the person is signed out everywhere.
    False if nothing changed."""
    role = change.role
    new_board_role = board_role_for(role, change.board_role)
    _not_yourself(membership, by.actor, "You cannot change your own role")
    if membership.role != role:
        _chairs_by_a_chair(by.actor_role, membership.role, role)
    if (membership.role, membership.board_role) == (role, new_board_role):
        return False
    if role != CHAIR and _is_only_chair(session, membership):
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
    by.record(
        session,
        "member.role_changed",
        membership.id,
        f"{user.email}: {role_label(old_role, old_board_role)} → {role_label(role, new_board_role)}"
        f" by {by.actor.email}",
        {
            "email": user.email,
            "old_role": old_role,
            "old_board_role": old_board_role,
            "new_role": role,
            "new_board_role": new_board_role,
            "by": by.actor.email,
        },
    )
    return True


def remove_member(session: Session, by: BoardChange, membership: Membership, user: User) -> None:
    """Take the person off this board; they are signed out everywhere and their invitation stops."""
    _not_yourself(membership, by.actor, "You cannot remove yourself from the board")
    _chairs_by_a_chair(by.actor_role, membership.role)
    if _is_only_chair(session, membership):
        raise Conflict(
            f"{user.name} is the board's only chair and cannot be removed. "
            "Invite or appoint another chair first"
        )
    details = {
        "email": user.email,
        "role": membership.role,
        "board_role": membership.board_role,
        "by": by.actor.email,
    }
    membership_id = membership.id
    session.delete(membership)
    _retire_links(session, user_id=user.id, purpose=INVITATION, organisation_id=by.organisation.id)  # type: ignore[arg-type]
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    note_if_closed(session, user)
    by.record(
        session,
        "member.removed",
        membership_id,
        f"{user.email} removed from the board by {by.actor.email}",
        details,
    )
