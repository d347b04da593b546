"""JSON API for the chair and board secretary to manage their board's members."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from api.accounts import invitations, members
from api.accounts.members import BoardChange, BoardMember, member_of_trust
from api.accounts.schemas import BoardRole, MemberInvite, MemberRole, TrustRole
from api.client_ip import client_ip
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import error_responses
from api.permissions import TrustAccess, TrustManagerApi

router = APIRouter(prefix="/api/v1/organisations/{ods_code}/members", tags=["members"])


RESPONSES = error_responses(
    401,
    422,
    described={
        403: "Only the chair and the board secretary manage members",
        404: "Not one of your boards, or no such member on it",
    },
)


class MemberPublic(BaseModel):
    id: int = Field(description="The membership's number, for PATCH and DELETE")
    email: str
    name: str
    role: TrustRole
    board_role: BoardRole
    status: Literal["active", "invited"] = Field(description="invited: has not chosen a password yet")
    added_at: datetime

    @classmethod
    def of(cls, member: BoardMember) -> MemberPublic:
        return cls(
            id=member.membership_id,
            email=member.email,
            name=member.name,
            role=member.role,  # type: ignore[arg-type]
            board_role=member.board_role,  # type: ignore[arg-type]
            status="invited" if member.invited else "active",
            added_at=member.added_at,
        )


@router.get("", response_model=list[MemberPublic], responses=RESPONSES)
def list_members(session: SessionDep, access: TrustManagerApi) -> list[MemberPublic]:
    """Everyone on the board, chairs first."""
    return [MemberPublic.of(m) for m in members.board_members(session, access.organisation.id)]  # type: ignore[arg-type]


def board_change(request: Request, access: TrustAccess) -> BoardChange:
    """The chair or secretary changing their board's members, from this request (for the audit)."""
    return BoardChange(access.organisation, access.principal.user, access.membership.role, client_ip(request))


@router.post(
    "",
    response_model=MemberPublic,
    status_code=201,
    responses={**RESPONSES, **error_responses(described={409: "Already a member of this board"})},
)
def invite_member(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    access: TrustManagerApi,
    invite: MemberInvite,
) -> MemberPublic:
    """Invite someone: a new person is emailed a link (24 hours, works once) to choose a password;
    someone who already has an account is emailed to say they have been added."""
    invitation = invitations.invite_member(session, settings, board_change(request, access), invite)
    return MemberPublic.of(members.board_member_view(invitation.membership, invitation.user))


@router.patch(
    "/{membership_id}",
    response_model=MemberPublic,
    responses={**RESPONSES, **error_responses(described={409: "Your own role, or the board's only chair"})},
)
def change_role(
    request: Request, session: SessionDep, access: TrustManagerApi, membership_id: int, change: MemberRole
) -> MemberPublic:
    """A new role; the person is signed out everywhere (every board, every token) at once."""
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    members.change_member_role(session, board_change(request, access), membership, user, change)
    return MemberPublic.of(members.board_member_view(membership, user))


@router.delete(
    "/{membership_id}",
    status_code=204,
    responses={**RESPONSES, **error_responses(described={409: "Yourself, or the board's only chair"})},
)
def remove_member(
    request: Request, session: SessionDep, access: TrustManagerApi, membership_id: int
) -> Response:
    """Take the person off the board; they are signed out everywhere at once."""
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    members.remove_member(session, board_change(request, access), membership, user)
    return Response(status_code=204)


@router.post(
    "/{membership_id}/invitation",
    status_code=204,
    responses={**RESPONSES, **error_responses(described={409: "They have already accepted"})},
)
def resend_invitation(
    request: Request, session: SessionDep, settings: SettingsDep, access: TrustManagerApi, membership_id: int
) -> Response:
    """Send the invitation again with a new link; earlier links stop working."""
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    invitations.resend_invitation(session, settings, board_change(request, access), membership, user)
    return Response(status_code=204)
