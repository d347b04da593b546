"""Two-factor pages: the code at sign-in, setting up an authenticator app, recovery codes and turning it off
(the trust's rule for its board is in trust_settings_views.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import segno
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.responses import Response

from api.accounts import two_factor
from api.accounts.models import RecoveryCode, User
from api.accounts.principal import Principal
from api.accounts.reauth import Confirmation, confirm_it_is_them
from api.accounts.schemas import IdentityCheck, SecondFactorCode
from api.accounts.signin import record_waiting, record_wrong_second_factor, throttle_wait, wait_message
from api.accounts.two_factor import (
    new_totp_secret,
    provisioning_uri,
    second_factor_required,
    use_recovery_code,
    verify_totp,
)
from api.accounts.views import safe_next
from api.audit.service import record_on_user
from api.client_ip import client_ip
from api.csrf import csrf_token, verify_csrf
from api.db import utcnow
from api.deps import PageUser, PendingPageUser, RedirectTo, get_page_principal, passed_second_factor
from api.forms import CommandForm, PageForm
from api.pages import Page, PageDep

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


WRONG_CODE = "The code is not right. Check your app and try again"
CANNOT_TURN_OFF = (
    "You cannot turn off two-factor authentication because your role, or a board you sit on, requires it"
)


def no_store(response: Response) -> Response:
    """Pages showing a secret key or recovery codes must not be kept in a browser's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def page_chrome(page: Page) -> dict[str, Any]:
    """Someone part-way through signing in sees no navigation: only the way to sign out."""
    try:
        get_page_principal(page.request, page.session)
    except RedirectTo:
        sign_out = page.path("sign_out", query={"csrf_token": csrf_token(page.request)})
        return {"navigation_items": [], "account_items": [{"action": sign_out, "text": "Sign out"}]}
    return {}


def _unused_recovery_codes(session: Session, user: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))  # type: ignore[union-attr]
    ).one()


def _qr_code_svg(uri: str) -> str:
    """The otpauth link as inline SVG on a white square, so phones can scan it on any background."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code for your authenticator app"
    )
    return svg.replace("<svg ", '<svg role="img" focusable="false" ', 1)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- The second factor at sign-in ---------------------------------------------------------------


def _sign_in_page(
    page: Page, next: str | None, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context = {
        "page_title": "Enter your two-factor code",
        "next": next,
        "errors": errors or {},
        **page_chrome(page),
    }
    return page.render("accounts/two_factor_sign_in.html", context, status_code=status)


@router.get("/sign-in/two-factor", name="two_factor_sign_in")
def two_factor_sign_in_page(page: PageDep, principal: PendingPageUser, next: str | None = None) -> Response:
    assert principal.web_session is not None
    if principal.user.totp_enabled_at is None or passed_second_factor(
        principal.user, principal.web_session.second_factor_at
    ):
        return RedirectResponse(safe_next(next) or page.path("signed_in_home"), status_code=303)
    return _sign_in_page(page, safe_next(next))


@router.post("/sign-in/two-factor")
def two_factor_sign_in(
    page: PageDep, principal: PendingPageUser, form: PageForm[SecondFactorCode]
) -> Response:
    user, web_session = principal.user, principal.web_session
    assert web_session is not None
    next = form.values.get("next", "")
    target = safe_next(next) or page.path("signed_in_home")
    if user.totp_enabled_at is None or passed_second_factor(user, web_session.second_factor_at):
        return RedirectResponse(target, status_code=303)
    if form.command is None:
        return _sign_in_page(page, safe_next(next), form.errors, 422)
    code = form.command.code
    ip = client_ip(page.request)
    wait = throttle_wait(page.session, user.email, ip, user)
    if wait is not None:
        record_waiting(page.session, user, user.email, ip, wait)
        message = wait_message(wait, "wrong codes")
        response = _sign_in_page(page, safe_next(next), {"code": message}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if verify_totp(page.session, user, code):
        method = "authenticator app"
    elif use_recovery_code(page.session, user, code):
        method = "recovery code"
    else:
        # Counted with wrong passwords, and under the stricter limit on codes.
        record_wrong_second_factor(page.session, user, ip, channel="web")
        return _sign_in_page(page, safe_next(next), {"code": WRONG_CODE}, 401)
    web_session.second_factor_at = utcnow()
    page.session.add(web_session)
    record_on_user(
        page.session,
        "sign_in",
        user,
        "Signed in with a second factor",
        details={"method": method},
        client_ip=ip,
    )
    return RedirectResponse(target, status_code=303)


# --- Setting up an authenticator app ------------------------------------------------------------


def _already_on(page: Page, principal: Principal) -> Response:
    """Someone with two-factor on never sees a new secret: not before passing it, nor after."""
    assert principal.web_session is not None
    if not passed_second_factor(principal.user, principal.web_session.second_factor_at):
        return page.redirect("two_factor_sign_in")
    return page.redirect("two_factor")


def _set_up_page(
    page: Page, principal: Principal, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    user = principal.user
    assert user.totp_secret is not None
    context = {
        "page_title": "Set up two-factor authentication",
        "required": principal.needs_second_factor,
        "qr_code_svg": _qr_code_svg(provisioning_uri(user, user.totp_secret)),
        "secret_key": _grouped(user.totp_secret),
        "errors": errors or {},
        **page_chrome(page),
    }
    return no_store(page.render("accounts/two_factor_set_up.html", context, status_code=status))


@router.get("/account/two-factor/set-up", name="two_factor_set_up")
def two_factor_set_up_page(page: PageDep, principal: PendingPageUser) -> Response:
    user = principal.user
    if user.totp_enabled_at is not None:
        return _already_on(page, principal)
    if user.totp_secret is None:
        # Kept until confirmed, so reloading the page does not change the code under someone's phone.
        user.totp_secret = new_totp_secret()
        page.session.add(user)
        page.session.flush()
    return _set_up_page(page, principal)


@router.post("/account/two-factor/set-up")
def two_factor_set_up(
    page: PageDep, principal: PendingPageUser, form: PageForm[SecondFactorCode]
) -> Response:
    user, web_session = principal.user, principal.web_session
    assert web_session is not None
    if user.totp_enabled_at is not None:
        return _already_on(page, principal)
    if user.totp_secret is None:
        return page.redirect("two_factor_set_up")
    if form.command is None:
        return _set_up_page(page, principal, form.errors, 422)
    if not verify_totp(page.session, user, form.command.code, secret=user.totp_secret):
        return _set_up_page(page, principal, {"code": WRONG_CODE}, 422)
    codes = two_factor.turn_on(page.session, user, web_session, client_ip=client_ip(page.request))
    return _recovery_codes_page(page, codes, "Two-factor authentication is on")


def _recovery_codes_page(page: Page, codes: list[str], heading: str) -> Response:
    context = {"page_title": "Save your recovery codes", "codes": codes, "banner_heading": heading}
    return no_store(page.render("accounts/two_factor_recovery_codes.html", context))


# --- Managing it --------------------------------------------------------------------------------


def _manage_page(page: Page, principal: Principal, error: str | None = None, status: int = 200) -> Response:
    user = principal.user
    context = {
        "page_title": "Two-factor authentication",
        "enabled": user.totp_enabled_at is not None,
        "enabled_at": user.totp_enabled_at,
        "required": second_factor_required(page.session, user),
        "recovery_codes_left": _unused_recovery_codes(page.session, user) if user.totp_enabled_at else 0,
        "errors": {"turn-off": error} if error else {},
    }
    return page.render("accounts/two_factor.html", context, status_code=status)


@router.get("/account/two-factor", name="two_factor")
def two_factor_page(page: PageDep, principal: PageUser) -> Response:
    return _manage_page(page, principal)


# The two changes that ask for the password or a code first: each one's page, which posts back to
# itself (`action` names its route).
RECOVERY_CODES_PAGE = {
    "page_title": "Get new recovery codes",
    "action": "two_factor_recovery_codes",
    "button_text": "Get new recovery codes",
    "explanation": [
        "New codes replace all your old ones: the old ones stop working. You will see the new ones once.",
    ],
}
TURN_OFF_PAGE = {
    "page_title": "Turn off two-factor authentication",
    "action": "two_factor_turn_off",
    "button_text": "Turn off two-factor authentication",
    "button_variant": "warning",
    "explanation": [
        "Your account will then be protected by your password alone. Your recovery codes will stop working.",
    ],
}


def _confirm_page(page: Page, wording: dict[str, Any], refused: Confirmation | None = None) -> Response:
    """The page asking for the password or a code; again, with why, after a `refused` confirmation."""
    errors = refused.errors if refused else {}
    context = {**wording, "action": page.path(wording["action"]), "errors": errors}
    response = page.render(
        "accounts/two_factor_confirm.html", context, status_code=refused.status_code if refused else 200
    )
    if refused and refused.retry_after is not None:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _cannot_change(page: Page, principal: Principal, wording: dict[str, Any]) -> Response | None:
    """Why the page cannot go ahead: nothing to change (two-factor is off), or a board that requires
    it (turning it off). None: it can."""
    if principal.user.totp_enabled_at is None:
        return page.redirect("two_factor")
    if wording is TURN_OFF_PAGE and second_factor_required(page.session, principal.user):
        return _manage_page(page, principal, CANNOT_TURN_OFF, status=403)
    return None


def _asking(page: Page, principal: Principal, wording: dict[str, Any]) -> Response:
    """The page asking for the password or a code, unless the change cannot go ahead."""
    refused = _cannot_change(page, principal, wording)
    return refused if refused is not None else _confirm_page(page, wording)


def _once_confirmed(
    page: Page,
    principal: Principal,
    form: CommandForm[IdentityCheck],
    wording: dict[str, Any],
    change: Callable[[str], Response],
) -> Response:
    """`change(client_ip)` once the password or a code confirms it is them; else the page again."""
    refused = _cannot_change(page, principal, wording)
    if refused is not None:
        return refused
    check, ip = form.command or IdentityCheck(), client_ip(page.request)
    confirmation = confirm_it_is_them(page.session, principal.user, ip, check.current_password, check.code)
    return change(ip) if confirmation.confirmed else _confirm_page(page, wording, confirmation)


@router.get("/account/two-factor/recovery-codes", name="two_factor_recovery_codes")
def recovery_codes_page(page: PageDep, principal: PageUser) -> Response:
    return _asking(page, principal, RECOVERY_CODES_PAGE)


@router.post("/account/two-factor/recovery-codes")
def renew_recovery_codes(page: PageDep, principal: PageUser, form: PageForm[IdentityCheck]) -> Response:
    def renew(ip: str) -> Response:
        codes = two_factor.renew_recovery_codes(page.session, principal.user, client_ip=ip)
        return _recovery_codes_page(page, codes, "You have new recovery codes")

    return _once_confirmed(page, principal, form, RECOVERY_CODES_PAGE, renew)


@router.get("/account/two-factor/turn-off", name="two_factor_turn_off")
def turn_off_page(page: PageDep, principal: PageUser) -> Response:
    return _asking(page, principal, TURN_OFF_PAGE)


@router.post("/account/two-factor/turn-off")
def turn_off_two_factor(page: PageDep, principal: PageUser, form: PageForm[IdentityCheck]) -> Response:
    def turn_off(ip: str) -> Response:
        two_factor.turn_off(page.session, principal.user, client_ip=ip)
        return page.redirect("two_factor")

    return _once_confirmed(page, principal, form, TURN_OFF_PAGE, turn_off)
