"""Pages for the chair and board secretary to manage their board: the member list, inviting,
changing a role and removing someone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts import invitations, members
from api.accounts.members import member_of_trust
from api.accounts.roles import BOARD_MEMBER
from api.accounts.schemas import MemberInvite, MemberRole
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.db import SessionDep
from api.errors import Conflict, Forbidden, Unprocessable
from api.forms import CommandForm, command_form
from api.permissions import TrustAccess, TrustManagerPage
from api.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# Messages for the banner after a change, chosen by key so the address cannot carry made-up text.
DONE_MESSAGES = {
    "invited": "Invitation sent. The link in it works once and stops working after {days} days",
    "added": "Member added. They already had an account, so we emailed to tell them",
    "resent": "Invitation sent again. Any earlier link has stopped working",
    "resend_too_soon": "Not sent: they were sent an invitation in the last 24 hours. You can send it again tomorrow",
    "role_changed": "Role changed. They have been signed out, and see their new role when they sign in again",
    "removed": "Member removed. They have been signed out on every device",
}


def _members_url(access: TrustAccess, done: str | None = None) -> str:
    return f"/trusts/{access.organisation.ods_code}/members" + (f"?done={done}" if done else "")


def _member_form(form: FormData) -> dict[str, str]:
    """The invite and change-role forms as their commands' fields. What they are on the board is
    asked only of a board member: for a chair or secretary the (hidden) choice is left out, as the
    person cannot see it."""
    values = {key: str(value) for key, value in form.items() if key != "csrf_token" and value != ""}
    if values.get("role") != BOARD_MEMBER:
        values.pop("board_role", None)
    return values


def _typed(form: CommandForm[Any], fields: tuple[str, ...]) -> dict[str, str]:
    """What was typed in each field, to show again beside the errors."""
    return {name: form.values.get(name, "") for name in fields}


@router.get("/trusts/{ods_code}/members", name="board_members")
def members_page(
    request: Request, session: SessionDep, access: TrustManagerPage, done: str | None = None
) -> Response:
    board = members.board_members(session, access.organisation.id)  # type: ignore[arg-type]
    return render(
        request,
        "accounts/members.html",
        {
            "page_title": f"Board members of {access.organisation.name}",
            "organisation": access.organisation,
            "members": board,
            "me": access.principal.user.id,
            "done": DONE_MESSAGES.get(done or "", "").format(
                days=request.app.state.settings.invitation_link_days
            ),
            # A refusal is not a success: shown in the plain (important) banner.
            "done_refused": done == "resend_too_soon",
        },
    )


# --- Invite --------------------------------------------------------------------------------------


def _invite_form(request: Request, access: TrustAccess, status_code: int = 200, **form: object) -> Response:
    return render(
        request,
        "accounts/members_invite.html",
        {
            "page_title": "Invite someone to the board",
            "organisation": access.organisation,
            "days": request.app.state.settings.invitation_link_days,
            **form,
        },
        status_code=status_code,
    )


@router.get("/trusts/{ods_code}/members/invite", name="invite_member_page")
def invite_page(request: Request, access: TrustManagerPage) -> Response:
    return _invite_form(request, access)


@router.post("/trusts/{ods_code}/members/invite", name="send_member_invitation")
def invite(
    request: Request,
    session: SessionDep,
    access: TrustManagerPage,
    form: Annotated[CommandForm[MemberInvite], Depends(command_form(MemberInvite, read=_member_form))],
) -> Response:
    typed = _typed(form, ("email", "name", "role", "board_role"))
    if form.command is None:
        return _invite_form(request, access, 422, errors=form.errors, **typed)
    invite = form.command
    try:
        invitation = invitations.invite_member(
            session,
            request.app.state.settings,
            organisation=access.organisation,
            actor=access.principal.user,
            actor_role=access.membership.role,
            email=invite.email,
            name=invite.name,
            role=invite.role,
            board_role=invite.board_role,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "email")
        return _invite_form(request, access, exc.status_code, errors={field: exc.message}, **typed)
    return RedirectResponse(
        _members_url(access, "invited" if invitation.link_sent else "added"), status_code=303
    )


@router.post("/trusts/{ods_code}/members/{membership_id}/resend", name="resend_invitation_page")
def resend(request: Request, session: SessionDep, access: TrustManagerPage, membership_id: int) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    try:
        invitations.resend_invitation(
            session,
            request.app.state.settings,
            organisation=access.organisation,
            membership=membership,
            user=user,
            actor=access.principal.user,
            actor_role=access.membership.role,
            client_ip=client_ip(request),
        )
    except invitations.InvitationSentToday:
        return RedirectResponse(_members_url(access, "resend_too_soon"), status_code=303)
    return RedirectResponse(_members_url(access, "resent"), status_code=303)


# --- Change role ---------------------------------------------------------------------------------


def _role_form(
    request: Request,
    access: TrustAccess,
    member: members.BoardMember,
    status_code: int = 200,
    **form: object,
) -> Response:
    context = {
        "page_title": f"Change the role of {member.name}",
        "organisation": access.organisation,
        "member": member,
        "role": member.role,
        "board_role": member.board_role,
        **form,
    }
    return render(request, "accounts/members_role.html", context, status_code=status_code)


@router.get("/trusts/{ods_code}/members/{membership_id}/role", name="change_member_role")
def role_page(
    request: Request, session: SessionDep, access: TrustManagerPage, membership_id: int
) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    return _role_form(request, access, members.board_member_view(membership, user))


@router.post("/trusts/{ods_code}/members/{membership_id}/role", name="change_member_role_save")
def change_role(
    request: Request,
    session: SessionDep,
    access: TrustManagerPage,
    membership_id: int,
    form: Annotated[CommandForm[MemberRole], Depends(command_form(MemberRole, read=_member_form))],
) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    member = members.board_member_view(membership, user)
    typed = _typed(form, ("role", "board_role"))
    if form.command is None:
        return _role_form(request, access, member, 422, errors=form.errors, **typed)
    change = form.command
    try:
        changed = members.change_member_role(
            session,
            organisation=access.organisation,
            membership=membership,
            user=user,
            actor=access.principal.user,
            actor_role=access.membership.role,
            role=change.role,
            board_role=change.board_role,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "role")
        return _role_form(request, access, member, exc.status_code, errors={field: exc.message}, **typed)
    return RedirectResponse(_members_url(access, "role_changed" if changed else None), status_code=303)


# --- Remove --------------------------------------------------------------------------------------


def _remove_page(
    request: Request,
    access: TrustAccess,
    member: members.BoardMember,
    status_code: int = 200,
    **extra: object,
) -> Response:
    return render(
        request,
        "accounts/members_remove.html",
        {
            "page_title": f"Are you sure you want to remove {member.name} from the board?",
            "organisation": access.organisation,
            "member": member,
            **extra,
        },
        status_code=status_code,
    )


@router.get("/trusts/{ods_code}/members/{membership_id}/remove", name="remove_member_page")
def remove_page(
    request: Request, session: SessionDep, access: TrustManagerPage, membership_id: int
) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    return _remove_page(request, access, members.board_member_view(membership, user))


@router.post("/trusts/{ods_code}/members/{membership_id}/remove", name="remove_member_from_board")
def remove(request: Request, session: SessionDep, access: TrustManagerPage, membership_id: int) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    member = members.board_member_view(membership, user)
    try:
        members.remove_member(
            session,
            organisation=access.organisation,
            membership=membership,
            user=user,
            actor=access.principal.user,
            actor_role=access.membership.role,
            client_ip=client_ip(request),
        )
    except (Conflict, Forbidden) as exc:
        return _remove_page(request, access, member, exc.status_code, errors={"remove": exc.message})
    return RedirectResponse(_members_url(access, "removed"), status_code=303)
