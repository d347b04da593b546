"""Pages for the chair and board secretary to manage their board: the member list, inviting,
changing a role and removing someone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts import invitations, members
from api.accounts.members import BoardMember, member_of_trust
from api.accounts.members_routes import board_change
from api.accounts.models import Membership, User
from api.accounts.roles import BOARD_MEMBER
from api.accounts.schemas import MemberInvite, MemberRole
from api.csrf import verify_csrf
from api.errors import Conflict, Forbidden, Unprocessable
from api.forms import CommandForm, PageForm
from api.pages import Page, PageDep
from api.permissions import TrustAccess, TrustManagerPage
from api.settings import Settings
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


def _back_to_members(page: Page, access: TrustAccess, done: str | None = None) -> Response:
    return page.redirect("board_members", ods_code=access.organisation.ods_code, query={"done": done})


def _member(
    session: Session, access: TrustAccess, membership_id: int
) -> tuple[Membership, User, BoardMember]:
    """The member named in the path, on this board (another board's: 404), and how they are shown."""
    membership, user = member_of_trust(session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    return membership, user, members.board_member_view(membership, user)


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
def members_page(page: PageDep, access: TrustManagerPage, done: str | None = None) -> Response:
    board = members.board_members(page.session, access.organisation.id)  # type: ignore[arg-type]
    return page.render(
        "accounts/members.html",
        {
            "page_title": f"Board members of {access.organisation.name}",
            "organisation": access.organisation,
            "members": board,
            "me": access.principal.user.id,
            "done": DONE_MESSAGES.get(done or "", "").format(days=page.settings.invitation_link_days),
            # A refusal is not a success: shown in the plain (important) banner.
            "done_refused": done == "resend_too_soon",
        },
    )


# --- Invite --------------------------------------------------------------------------------------


def invitation_form(
    request: Request, template: str, title: str, settings: Settings, status_code: int = 200, **context: object
) -> Response:
    """A form that sends an invitation (to a board, a board's first chair, a platform role): the
    page says how many days its link lasts."""
    context = {"page_title": title, "days": settings.invitation_link_days, **context}
    return render(request, template, context, status_code=status_code)


def _invite_form(page: Page, access: TrustAccess, status_code: int = 200, **form: object) -> Response:
    title = "Invite someone to the board"
    return invitation_form(
        page.request,
        "accounts/members_invite.html",
        title,
        page.settings,
        status_code,
        organisation=access.organisation,
        **form,
    )


@router.get("/trusts/{ods_code}/members/invite", name="invite_member_page")
def invite_page(page: PageDep, access: TrustManagerPage) -> Response:
    return _invite_form(page, access)


@router.post("/trusts/{ods_code}/members/invite", name="send_member_invitation")
def invite(page: PageDep, access: TrustManagerPage, form: PageForm[MemberInvite, _member_form]) -> Response:
    typed = _typed(form, ("email", "name", "role", "board_role"))
    if form.command is None:
        return _invite_form(page, access, 422, errors=form.errors, **typed)
    change = board_change(page.request, access)
    try:
        invitation = invitations.invite_member(page.session, page.settings, change, form.command)
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "email")
        return _invite_form(page, access, exc.status_code, errors={field: exc.message}, **typed)
    return _back_to_members(page, access, "invited" if invitation.link_sent else "added")


@router.post("/trusts/{ods_code}/members/{membership_id}/resend", name="resend_invitation_page")
def resend(page: PageDep, access: TrustManagerPage, membership_id: int) -> Response:
    membership, user = member_of_trust(page.session, access.organisation.id, membership_id)  # type: ignore[arg-type]
    change = board_change(page.request, access)
    try:
        invitations.resend_invitation(page.session, page.settings, change, membership, user)
    except invitations.InvitationSentToday:
        return _back_to_members(page, access, "resend_too_soon")
    return _back_to_members(page, access, "resent")


# --- Change role ---------------------------------------------------------------------------------


# Each member's page: its template and title.
MEMBER_PAGES = {
    "role": ("accounts/members_role.html", "Change the role of {name}"),
    "remove": ("accounts/members_remove.html", "Are you sure you want to remove {name} from the board?"),
}


def _member_page(
    page: Page, access: TrustAccess, member: BoardMember, which: str, status_code: int = 200, **extra: object
) -> Response:
    """The change-role form (its choices start at the member's role) or the removal question."""
    template, title = MEMBER_PAGES[which]
    context: dict[str, object] = {
        "page_title": title.format(name=member.name),
        "organisation": access.organisation,
    }
    if which == "role":
        context.update(role=member.role, board_role=member.board_role)
    return page.render(template, {**context, "member": member, **extra}, status_code=status_code)


@router.get("/trusts/{ods_code}/members/{membership_id}/role", name="change_member_role")
def role_page(page: PageDep, access: TrustManagerPage, membership_id: int) -> Response:
    return _member_page(page, access, _member(page.session, access, membership_id)[2], "role")


@router.post("/trusts/{ods_code}/members/{membership_id}/role", name="change_member_role_save")
def change_role(
    page: PageDep, access: TrustManagerPage, membership_id: int, form: PageForm[MemberRole, _member_form]
) -> Response:
    membership, user, member = _member(page.session, access, membership_id)
    typed = _typed(form, ("role", "board_role"))
    if form.command is None:
        return _member_page(page, access, member, "role", 422, errors=form.errors, **typed)
    change = board_change(page.request, access)
    try:
        changed = members.change_member_role(page.session, change, membership, user, form.command)
    except (Conflict, Unprocessable, Forbidden) as exc:
        field = exc.extra.get("field", "role")
        return _member_page(
            page, access, member, "role", exc.status_code, errors={field: exc.message}, **typed
        )
    return _back_to_members(page, access, "role_changed" if changed else None)


# --- Remove --------------------------------------------------------------------------------------


@router.get("/trusts/{ods_code}/members/{membership_id}/remove", name="remove_member_page")
def remove_page(page: PageDep, access: TrustManagerPage, membership_id: int) -> Response:
    return _member_page(page, access, _member(page.session, access, membership_id)[2], "remove")


@router.post("/trusts/{ods_code}/members/{membership_id}/remove", name="remove_member_from_board")
def remove(page: PageDep, access: TrustManagerPage, membership_id: int) -> Response:
    membership, user, member = _member(page.session, access, membership_id)
    try:
        members.remove_member(page.session, board_change(page.request, access), membership, user)
    except (Conflict, Forbidden) as exc:
        return _member_page(page, access, member, "remove", exc.status_code, errors={"remove": exc.message})
    return _back_to_members(page, access, "removed")
