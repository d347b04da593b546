"""Single sign-on pages: off to the provider (/sign-in/oidc) and back (/sign-in/oidc/callback).

Both answer 404 when single sign-on is not configured. Every sign-in and every refusal is audited with
the client address, as password sign-in is.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from api.accounts.models import User
from api.accounts.oidc import (
    REQUEST_LIFETIME,
    STATE_COOKIE,
    OidcProvider,
    ProviderUnavailable,
    SingleSignOnError,
    find_account,
    identity_from_claims,
    provider_for,
    start_sign_in,
    take_sign_in,
)
from api.accounts.sessions import start_web_session
from api.accounts.tokens import same
from api.accounts.views import after_sign_in, safe_next, set_session_cookie
from api.audit.service import record_on_user
from api.client_ip import client_ip
from api.csrf import rotate_csrf_cookie
from api.errors import NotFound
from api.pages import Page, PageDep
from api.settings import Settings

router = APIRouter(include_in_schema=False)

# Refusals that mean "this person has no account here": the page says to ask for an invitation.
NO_ACCOUNT_REASONS = {
    "no_account",
    "linked_to_other_identity",
    "email_domain_refused",
    "email_not_verified",
    "no_email",
}


def _provider(page: Page) -> OidcProvider:
    provider = provider_for(page.request.app.state, page.settings)
    if provider is None:
        raise NotFound("Page not found")
    return provider


def _state_cookie(settings: Settings, response: Response, value: str | None) -> None:
    if value is None:
        response.delete_cookie(
            STATE_COOKIE, path="/sign-in/oidc", secure=settings.secure_cookies, httponly=True
        )
        return
    # Lax: sent on the provider's top-level redirect back to us, not on requests from other sites.
    response.set_cookie(
        STATE_COOKIE,
        value,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/sign-in/oidc",
        max_age=int(REQUEST_LIFETIME.total_seconds()),
    )


def _problem_page(page: Page, status: int, unavailable: bool = False) -> Response:
    label = page.settings.oidc_button_label
    context = {"page_title": "Sign-in did not work", "unavailable": unavailable, "button_label": label}
    return page.render("accounts/oidc_problem.html", context, status_code=status)


def _refuse(page: Page, error: SingleSignOnError, ip: str, user: User | None = None) -> Response:
    email = error.detail if error.reason in NO_ACCOUNT_REASONS and "@" in error.detail else None
    record_on_user(
        page.session,
        "sign_in.failed",
        user,
        "Single sign-on refused",
        details={"method": "single_sign_on", "reason": error.reason, "detail": error.detail[:300]},
        client_ip=ip,
    )
    if error.reason in NO_ACCOUNT_REASONS:
        context = {"page_title": "You do not have an account yet", "email": email}
        response = page.render("accounts/oidc_no_account.html", context, status_code=403)
    else:
        status = 503 if isinstance(error, ProviderUnavailable) else 400
        response = _problem_page(page, status, unavailable=isinstance(error, ProviderUnavailable))
    _state_cookie(page.settings, response, None)
    return response


@router.get("/sign-in/oidc", name="oidc_sign_in")
def oidc_sign_in(page: PageDep, next: str | None = None) -> Response:
    provider = _provider(page)
    state, sign_in_request = start_sign_in(page.session, safe_next(next))
    try:
        url = provider.authorization_url(
            state=state, nonce=sign_in_request.nonce, code_verifier=sign_in_request.code_verifier
        )
    except ProviderUnavailable as exc:
        return _refuse(page, exc, client_ip(page.request))
    response = RedirectResponse(url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    _state_cookie(page.settings, response, state)
    return response


@router.get("/sign-in/oidc/callback", name="oidc_callback")
def oidc_callback(
    page: PageDep, state: str = "", code: str = "", error: str = "", error_description: str = ""
) -> Response:
    provider = _provider(page)
    ip = client_ip(page.request)
    user: User | None = None
    try:
        # The state must be the one this browser was given (login CSRF), and unused (replay).
        browser_state = page.request.cookies.get(STATE_COOKIE, "")
        if not state or not browser_state or not same(state, browser_state):
            raise SingleSignOnError("state_refused", "state missing or not this browser's")
        sign_in_request = take_sign_in(page.session, state)
        if error:
            raise SingleSignOnError("provider_error", f"{error}: {error_description}"[:300])
        if not code:
            raise SingleSignOnError("code_refused", "no code")
        token = provider.exchange_code(code=code, code_verifier=sign_in_request.code_verifier)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SingleSignOnError("id_token_refused", "the token response has no ID token")
        claims = provider.verify_id_token(id_token, nonce=sign_in_request.nonce)
        identity = identity_from_claims(claims, page.settings)
        match = find_account(page.session, identity, page.settings)
    except SingleSignOnError as exc:
        return _refuse(page, exc, ip, user)

    user = match.user
    if match.linked_now:
        record_on_user(
            page.session,
            "sign_in.linked",
            user,
            "Single sign-on linked to this account",
            details={"issuer": identity.issuer, "subject": identity.subject, "email": identity.email},
            client_ip=ip,
        )
    provider_mfa = page.settings.oidc_mfa_satisfies_second_factor and identity.multi_factor
    two_factor_on = user.totp_enabled_at is not None
    # As for a password: someone with our second factor on is asked for it, unless the provider's
    # multi-factor sign-in counts for it here.
    second_factor_done = provider_mfa or not two_factor_on
    _web_session, raw = start_web_session(
        page.session,
        user,
        settings=page.settings,
        client_ip=ip,
        second_factor_done=second_factor_done,
        by_provider=True,
        second_factor_by_provider=provider_mfa,
    )
    if second_factor_done:
        record_on_user(
            page.session,
            "sign_in",
            user,
            "Signed in with single sign-on",
            details={"method": "single_sign_on", "provider_mfa": identity.multi_factor},
            client_ip=ip,
        )
    rotate_csrf_cookie(page.request)
    next_path = safe_next(sign_in_request.next_path)
    response = RedirectResponse(after_sign_in(page, next_path, second_factor_done), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    set_session_cookie(page.settings, response, raw)
    _state_cookie(page.settings, response, None)
    return response
