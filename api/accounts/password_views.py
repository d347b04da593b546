"""Pages for passwords: forgotten (an emailed link), changed when signed in, and first chosen when
accepting an invitation.

The emailed-link pages answer 404 for a link we never sent and 410 for one used, replaced or expired,
with the same page either way. Accepting an invitation starts no session: the person signs in with
the password they have just chosen, through the one sign-in path (throttling, two-factor, audit).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.accounts import invitations, password_reset, wording
from api.accounts.links import LinkUnusable
from api.accounts.models import ROLE_NAMES
from api.accounts.passwords import new_password_errors
from api.accounts.reauth import confirm_it_is_them
from api.accounts.schemas import ForgottenPassword, InvitationAcceptance, NewPassword, PasswordChange
from api.accounts.views import clear_session_cookie
from api.client_ip import client_ip
from api.csrf import rotate_csrf_cookie, verify_csrf
from api.deps import PageUser
from api.forms import PageForm
from api.pages import Page, PageDep

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# The link is in the address: keep it out of caches and out of the Referer header.
LINK_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _link_page(page: Page, template: str, context: dict, status_code: int = 200) -> Response:
    response = page.render(template, context, status_code=status_code)
    response.headers.update(LINK_PAGE_HEADERS)
    return response


# --- Forgotten password --------------------------------------------------------------------------


@router.get("/forgot-password", name="forgot_password")
def forgot_password_page(page: PageDep) -> Response:
    return page.render("accounts/password_forgot.html", {"page_title": "Reset your password"})


@router.post("/forgot-password")
def forgot_password(page: PageDep, form: PageForm[ForgottenPassword]) -> Response:
    if form.command is None:
        context = {
            "page_title": "Reset your password",
            "email": form.values.get("email", ""),
            "errors": form.errors,
        }
        return page.render("accounts/password_forgot.html", context, status_code=422)
    address = form.command.email
    password_reset.request_password_reset(page.session, page.settings, address, client_ip(page.request))
    # The same page whether or not there is an account: nobody learns who has one.
    return page.render(
        "accounts/password_forgot_sent.html",
        {"page_title": "Check your email", "email": address, "hours": page.settings.one_time_link_hours},
    )


def _reset_link_unusable(page: Page, status_code: int) -> Response:
    return _link_unusable(
        page, "accounts/password_link_unusable.html", status_code, hours=page.settings.one_time_link_hours
    )


def _link_unusable(page: Page, template: str, status_code: int, **lifetime: int) -> Response:
    """A reset or invitation link that has expired or was used: the page says how long one lasts."""
    context = {"page_title": "This link has expired or has already been used", **lifetime}
    return _link_page(page, template, context, status_code=status_code)


@router.get("/reset-password/{token}", name="reset_password")
def reset_password_page(page: PageDep, token: str) -> Response:
    try:
        _link, user = password_reset.open_password_reset(page.session, token)
    except LinkUnusable as exc:
        return _reset_link_unusable(page, exc.status_code)
    return _link_page(
        page, "accounts/password_reset.html", {"page_title": "Choose a new password", "email": user.email}
    )


@router.post("/reset-password/{token}")
def reset_password(page: PageDep, token: str, form: PageForm[NewPassword]) -> Response:
    # Plain text fields, so the command is always read; the password's rules need the account.
    command = form.command or NewPassword()
    password = command.password
    try:
        link, user = password_reset.open_password_reset(page.session, token)
        errors = new_password_errors(password, command.confirm_password, user.email)
        if errors:
            return _link_page(
                page,
                "accounts/password_reset.html",
                {"page_title": "Choose a new password", "email": user.email, "errors": errors},
                status_code=422,
            )
        password_reset.complete_password_reset(
            page.session, page.settings, link, user, password, client_ip(page.request)
        )
    except LinkUnusable as exc:
        return _reset_link_unusable(page, exc.status_code)
    rotate_csrf_cookie(page.request)
    response = _link_page(
        page, "accounts/password_reset_done.html", {"page_title": "Your password has been changed"}
    )
    clear_session_cookie(page.settings, response)
    return response


# --- Changing the password when signed in --------------------------------------------------------


@router.get("/account/password", name="change_password")
def change_password_page(page: PageDep, principal: PageUser) -> Response:
    return page.render("accounts/password_change.html", {"page_title": "Change your password"})


@router.post("/account/password")
def change_password(page: PageDep, principal: PageUser, form: PageForm[PasswordChange]) -> Response:
    user = principal.user
    ip = client_ip(page.request)
    command = form.command or PasswordChange()
    current_password, new_password = command.current_password, command.new_password
    confirm_password, code = command.confirm_password, command.code
    # The sign-in checks, so guessing the current password or a code is delayed as at sign-in.
    confirmation = confirm_it_is_them(page.session, user, ip, current_password, code)
    errors = dict(confirmation.errors)
    errors.update(new_password_errors(new_password, confirm_password, user.email, field="new_password"))
    if not errors and new_password == current_password:
        errors["new_password"] = "Your new password must be different from your current password"
    if errors:
        response = page.render(
            "accounts/password_change.html",
            {"page_title": "Change your password", "errors": errors},
            status_code=confirmation.status_code if confirmation.errors else 422,
        )
        if confirmation.retry_after is not None:
            response.headers["Retry-After"] = str(confirmation.retry_after)
        return response
    password_reset.change_password(page.session, page.settings, user, new_password, ip)
    # Every session has ended, this one too: the person signs in again with the new password.
    rotate_csrf_cookie(page.request)
    response = page.redirect("sign_in")
    clear_session_cookie(page.settings, response)
    return response


# --- Accepting an invitation ---------------------------------------------------------------------


def _invitation_link_unusable(page: Page, status_code: int) -> Response:
    return _link_unusable(
        page, "accounts/invitation_link_unusable.html", status_code, days=page.settings.invitation_link_days
    )


def _invitation_context(invitation: invitations.OpenInvitation, **extra: object) -> dict:
    if invitation.organisation is None or invitation.membership is None:
        # A platform role (sector analyst or platform admin): there is no board to join.
        role_name = ROLE_NAMES.get(invitation.user.platform_role or "", "Member")
        return {
            "page_title": f"Join the service as a {role_name.lower()}",
            "organisation": None,
            "email": invitation.user.email,
            "role_label": role_name,
            "name": invitation.user.name,
            **extra,
        }
    return {
        "page_title": f"Join the board of {invitation.organisation.name}",
        "organisation": invitation.organisation,
        "email": invitation.user.email,
        "role_label": wording.role_label(invitation.membership.role, invitation.membership.board_role),
        "name": invitation.user.name,
        **extra,
    }


@router.get("/invitation/{token}", name="accept_invitation")
def invitation_page(page: PageDep, token: str) -> Response:
    try:
        invitation = invitations.open_invitation(page.session, token)
    except LinkUnusable as exc:
        return _invitation_link_unusable(page, exc.status_code)
    return _link_page(page, "accounts/invitation_accept.html", _invitation_context(invitation))


@router.post("/invitation/{token}")
def accept_invitation(page: PageDep, token: str, form: PageForm[InvitationAcceptance]) -> Response:
    name = form.values.get("name", "")
    password = form.values.get("password", "")
    try:
        invitation = invitations.open_invitation(page.session, token)
        # The name by the command's rules; the password by the account's (it must not be like the address).
        errors = dict(form.errors)
        errors.update(
            new_password_errors(password, form.values.get("confirm_password", ""), invitation.user.email)
        )
        if errors or form.command is None:
            return _link_page(
                page,
                "accounts/invitation_accept.html",
                _invitation_context(invitation, name=name, errors=errors),
                status_code=422,
            )
        invitations.accept_invitation(
            page.session,
            invitation,
            name=form.command.name,
            password=password,
            client_ip=client_ip(page.request),
        )
    except LinkUnusable as exc:
        return _invitation_link_unusable(page, exc.status_code)
    return _link_page(
        page,
        "accounts/invitation_accepted.html",
        {
            "page_title": "Your account is ready",
            "organisation": invitation.organisation,
            "email": invitation.user.email,
            "role_label": _invitation_context(invitation)["role_label"],
        },
    )
