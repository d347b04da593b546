"""Pages for the chair and board secretary to manage their board: the member list, inviting,
changing a role and removing someone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from api.accounts import invitations, members
from api.accounts.members import MEMBER_BOARD_ROLES, member_of_trust
from api.accounts.models import TRUST_ROLES
from api.accounts.service import normalise_email
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.db import SessionDep
from api.deps import MANAGER_ROLES, TrustAccess, trust_role
from api.errors import Conflict, Forbidden, InputError, Unprocessable
from api.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

Manager = Annotated[TrustAccess, Depends(trust_role(*MANAGER_ROLES, page=True))]

MAX_NAME = 120
# Messages for the banner after a change, chosen by key so the address cannot carry made-up text.
DONE_MESSAGES = {
    "invited": "Invitation sent. The link in it works once and stops working after {hours} hours",
    "added": "Member added. They already had an account, so we emailed to tell them",
    "resent": "Invitation sent again. Any earlier link has stopped working",
    "role_changed": "Role changed. They have been signed out, and see their new role when they sign in again",
    "removed": "Member removed. They have been signed out on every device",
}


def _members_url(access: TrustAccess, done: str | None = None) -> str:
    return f"/trusts/{access.organisation.ods_code}/members" + (f"?done={done}" if done else "")


def _role_errors(role: str, board_role: str) -> dict[str, str]:
    if role not in TRUST_ROLES:
        return {"role": "Select their role on the board"}
    if role == "board_member" and board_role not in MEMBER_BOARD_ROLES:
        return {"board_role": "Select what they are on the board"}
    return {}


@router.get("/trusts/{ods_code}/members", name="board_members")
def members_page(request: Request, session: SessionDep, access: Manager, done: str | None = None) -> Response:
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
                hours=request.app.state.settings.one_time_link_hours
            ),
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
            "hours": request.app.state.settings.one_time_link_hours,
            **form,
        },
        status_code=status_code,
    )


@router.get("/trusts/{ods_code}/members/invite", name="invite_member")
def invite_page(request: Request, access: Manager) -> Response:
    return _invite_form(request, access)


@router.post("/trusts/{ods_code}/members/invite")
def invite(
    request: Request,
    session: SessionDep,
    access: Manager,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    board_role: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "name": name, "role": role, "board_role": board_role}
    errors: dict[str, str] = {}
    address = ""
    if not email.strip():
        errors["email"] = "Enter their email address"
    else:
        try:
            address = normalise_email(email)
        except InputError:
            errors["email"] = "Enter an email address in the correct format, like name@example.com"
    full_name = " ".join(name.split())
    if not full_name:
        errors["name"] = "Enter their full name"
    elif len(full_name) > MAX_NAME:
        errors["name"] = f"Name must be {MAX_NAME} characters or fewer"
    errors.update(_role_errors(role, board_role))
    if errors:
        return _invite_form(request, access, 422, errors=errors, **form)
    try:
        invitation = invitations.invite_member(
            session,
            request.app.state.settings,
            organisation=access.organisation,
            actor=access.principal.user,
            actor_role=access.membership.role,
            email=address,
            name=full_name,
            role=role,
            board_role=board_role or None,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "email")
        return _invite_form(request, access, exc.status_code, errors={field: exc.message}, **form)
    return RedirectResponse(
        _members_url(access, "invited" if invitation.link_sent else "added"), status_code=303
    )


@router.post("/trusts/{ods_code}/members/{membership_id}/resend", name="resend_invitation")
def resend(request: Request, session: SessionDep, access: Manager, membership_id: int) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
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
def role_page(request: Request, session: SessionDep, access: Manager, membership_id: int) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    return _role_form(request, access, members.board_member_view(membership, user))


@router.post("/trusts/{ods_code}/members/{membership_id}/role")
def change_role(
    request: Request,
    session: SessionDep,
    access: Manager,
    membership_id: int,
    role: Annotated[str, Form()] = "",
    board_role: Annotated[str, Form()] = "",
) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    member = members.board_member_view(membership, user)
    form = {"role": role, "board_role": board_role}
    errors = _role_errors(role, board_role)
    if errors:
        return _role_form(request, access, member, 422, errors=errors, **form)
    try:
        changed = members.change_member_role(
            session,
            organisation=access.organisation,
            membership=membership,
            user=user,
            actor=access.principal.user,
            actor_role=access.membership.role,
            role=role,
            board_role=board_role or None,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "role")
        return _role_form(request, access, member, exc.status_code, errors={field: exc.message}, **form)
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


@router.get("/trusts/{ods_code}/members/{membership_id}/remove", name="remove_member")
def remove_page(request: Request, session: SessionDep, access: Manager, membership_id: int) -> Response:
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    return _remove_page(request, access, members.board_member_view(membership, user))


@router.post("/trusts/{ods_code}/members/{membership_id}/remove")
def remove(request: Request, session: SessionDep, access: Manager, membership_id: int) -> Response:
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
