"""Sign-in and sign-out pages, the trust switcher and the account page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from api.accounts import email_change
from api.accounts.oidc import provider_for
from api.accounts.reauth import confirm_it_is_them
from api.accounts.roles import ANALYST_ROLES
from api.accounts.schemas import EmailChange, SignIn
from api.accounts.sessions import end_all_sessions, start_web_session
from api.accounts.signin import check_password, wait_message
from api.audit.service import record_on_user
from api.client_ip import client_ip
from api.csrf import rotate_csrf_cookie, verify_csrf
from api.deps import MaybePageUser, PageUser, get_session_principal, passed_second_factor
from api.errors import Conflict, Unprocessable
from api.forms import PageForm
from api.pages import Page, PageDep
from api.settings import Settings
from api.urls import path_to

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never `//elsewhere` or an absolute URL (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def landing_page(request: Request, principal: object) -> str:
    """Where signing in (and `/`) takes someone: several boards, the chooser showing what waits on
    each; one board, its home; else the sector view or their account."""
    if len(principal.memberships) > 1:  # type: ignore[attr-defined]
        return path_to(request, "trusts")
    membership = principal.active_membership  # type: ignore[attr-defined]
    if membership is not None:
        return path_to(request, "trust_home", ods_code=membership.ods_code)
    if principal.user.platform_role in ANALYST_ROLES:  # type: ignore[attr-defined]
        return path_to(request, "sector_heatmap")
    return path_to(request, "account")


def after_sign_in(page: Page, next_path: str | None, second_factor_done: bool) -> str:
    """Where a password (or single sign-on) takes someone: the second factor first when it is still
    to do, carrying the page they were going to; else that page, or their home."""
    if not second_factor_done:
        return page.path("two_factor_sign_in", query={"next": next_path})
    return next_path or page.path("signed_in_home")


def set_session_cookie(settings: Settings, response: Response, raw: str) -> None:
    response.set_cookie(
        settings.session_cookie_name,
        raw,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
        max_age=settings.session_absolute_hours * 3600,
    )


def clear_session_cookie(settings: Settings, response: Response) -> None:
    response.delete_cookie(
        settings.session_cookie_name, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


@router.get("/sign-in", name="sign_in")
def sign_in_page(page: PageDep, principal: MaybePageUser, next: str | None = None) -> Response:
    if (
        principal is not None
        and principal.web_session is not None
        and passed_second_factor(principal.user, principal.web_session.second_factor_at)
    ):
        return RedirectResponse(safe_next(next) or landing_page(page.request, principal), status_code=303)
    return page.render("accounts/sign_in.html", {"page_title": "Sign in", "next": safe_next(next)})


@router.post("/sign-in")
def sign_in(page: PageDep, form: PageForm[SignIn]) -> Response:
    next = form.values.get("next", "")
    context = {
        "page_title": "Sign in",
        "next": safe_next(next),
        "email": form.values.get("email", ""),
        "errors": form.errors,
    }
    if form.command is None:
        return page.render("accounts/sign_in.html", context, status_code=422)
    email, password = form.command.email, form.command.password
    ip = client_ip(page.request)
    admins_only = page.settings.password_sign_in == "platform_admins"
    outcome = check_password(page.session, email, password, ip, only_platform_admins=admins_only)
    if outcome.throttled:
        assert outcome.retry_after is not None
        # The same words for an account that does not exist: the wait is kept by the email typed.
        context["errors"] = {"email": wait_message(outcome.retry_after)}
        response = page.render("accounts/sign_in.html", context, status_code=429)
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.user is None:
        context["errors"] = {"email": "The email address or password is not right"}
        return page.render("accounts/sign_in.html", context, status_code=401)

    user = outcome.user
    two_factor_on = user.totp_enabled_at is not None
    _web_session, raw = start_web_session(
        page.session, user, settings=page.settings, client_ip=ip, second_factor_done=not two_factor_on
    )
    if not two_factor_on:
        record_on_user(page.session, "sign_in", user, "Signed in", client_ip=ip)
    rotate_csrf_cookie(page.request)
    response = RedirectResponse(after_sign_in(page, safe_next(next), not two_factor_on), status_code=303)
    set_session_cookie(page.settings, response, raw)
    return response


@router.post("/sign-out", name="sign_out")
def sign_out(page: PageDep) -> Response:
    """Ends every session and API token of the person, on every device."""
    principal = get_session_principal(page.request, page.session)
    target = page.path("signed_out")
    if principal is not None:
        by_provider = principal.web_session is not None and principal.web_session.signed_in_by_provider
        end_all_sessions(page.session, principal.user.id)
        record_on_user(
            page.session, "sign_out", principal.user, "Signed out", client_ip=client_ip(page.request)
        )
        if by_provider and page.settings.oidc_enabled:
            # The signed-out page then offers signing out at the provider too (RP-initiated logout).
            # A link, not a redirect from here: the pages' Content-Security-Policy (form-action
            # 'self') stops a form's submission from ending up at another site.
            target = page.path("signed_out", query={"provider": 1})
    rotate_csrf_cookie(page.request)
    response = RedirectResponse(target, status_code=303)
    clear_session_cookie(page.settings, response)
    return response


@router.get("/signed-out", name="signed_out")
def signed_out(page: PageDep, provider: bool = False) -> Response:
    single_sign_on = provider_for(page.request.app.state, page.settings) if provider else None
    # The provider sends people back here after signing them out, without `provider`.
    end_session_url = (
        single_sign_on.end_session_url(page.settings.base_url.rstrip("/") + page.path("signed_out"))
        if single_sign_on
        else None
    )
    context = {"page_title": "You have signed out", "end_session_url": end_session_url}
    return page.render("accounts/signed_out.html", context)


@router.get("/home", name="signed_in_home")
def signed_in_home(page: PageDep, principal: PageUser) -> Response:
    return RedirectResponse(landing_page(page.request, principal), status_code=303)


@router.get("/account", name="account")
def account_page(page: PageDep, principal: PageUser) -> Response:
    from api.audit.repository import own_sign_ins

    recent = own_sign_ins(page.session, principal.user.id)  # type: ignore[arg-type]
    return page.render("accounts/account.html", {"page_title": "Your account", "recent": recent})


# --- Changing the email address ------------------------------------------------------------------


def _email_page(
    page: Page, email: str = "", errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    context = {"page_title": "Change your email address", "email": email, "errors": errors or {}}
    return page.render("accounts/email_change.html", context, status_code=status)


@router.get("/account/email", name="change_email")
def change_email_page(page: PageDep, principal: PageUser) -> Response:
    return _email_page(page)


@router.post("/account/email")
def change_email(page: PageDep, principal: PageUser, form: PageForm[EmailChange]) -> Response:
    user = principal.user
    ip = client_ip(page.request)
    email = form.values.get("email", "")
    errors = dict(form.errors)
    status = 422
    if form.command is not None and form.command.email == user.email:
        errors["email"] = "That is already your email address"
    if not errors:
        assert form.command is not None
        confirmation = confirm_it_is_them(
            page.session, user, ip, form.command.current_password, form.command.code
        )
        errors, status = confirmation.errors, confirmation.status_code
    if not errors:
        try:
            email_change.change_email(page.session, page.settings, user, form.command.email, ip)
        except (Conflict, Unprocessable) as exc:
            errors, status = {"email": exc.message}, exc.status_code
    if errors:
        response = _email_page(page, email, errors, status)
        if status == 429:
            response.headers["Retry-After"] = str(confirmation.retry_after)
        return response
    # Every session has ended, this one too: the page is shown signed out, and they sign in again
    # with the new address.
    page.request.state.principal = None
    rotate_csrf_cookie(page.request)
    response = page.render(
        "accounts/email_changed.html",
        {"page_title": "Your email address has been changed", "email": user.email},
    )
    clear_session_cookie(page.settings, response)
    return response
