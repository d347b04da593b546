"""Who is asking: the signed-in person, their memberships, and the role checks routes declare.

API routes take a bearer token; pages take the session cookie. Role requirements are dependencies
that carry `allowed_roles`, so the route-walking test can find every route's rule by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam
from sqlmodel import Session, select

from api.accounts.models import ApiToken, Membership, User, WebSession
from api.accounts.principal import Principal, TrustMembership
from api.accounts.sessions import load_web_session
from api.accounts.tokens import secret_hash
from api.db import SessionDep, UTCDateTime, utcnow
from api.errors import DomainError
from api.organisations.models import Organisation
from api.settings import Settings
from api.urls import path_to


class NotSignedIn(DomainError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}


class SecondFactorNeeded(DomainError):
    """A token issued on a password alone, for someone who now has or needs a second factor."""

    status_code = 401
    code = "second_factor_required"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class SecondFactorNotSetUp(DomainError):
    """Someone whose role or board now requires a second factor they have not set up."""

    status_code = 403
    code = "second_factor_not_set_up"


class RedirectTo(Exception):
    """A page that needs the person elsewhere first (sign in, second factor)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def passed_second_factor(user: User, second_factor_at: datetime | None) -> bool:
    """Whether a session or token passed the person's current second factor: one passed before they
    turned it on (or on again) does not count."""
    if user.totp_enabled_at is None:
        return second_factor_at is not None
    return second_factor_at is not None and second_factor_at >= user.totp_enabled_at


# What a membership row contributes to a TrustMembership, in its field order.
_MEMBERSHIP_COLUMNS = (
    Organisation.id,
    Organisation.ods_code,
    Organisation.name,
    Membership.role,
    Membership.board_role,
    Organisation.require_two_factor,
)


def load_memberships(session: Session, user_id: int) -> list[TrustMembership]:
    rows = session.exec(
        select(*_MEMBERSHIP_COLUMNS)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id)
        .order_by(Organisation.name)
    ).all()
    return [TrustMembership(*row) for row in rows]


def _principal_for(session: Session, user_id: int, web_session: WebSession | None = None) -> Principal | None:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return Principal(user=user, memberships=load_memberships(session, user.id), web_session=web_session)


# --- The app's settings -------------------------------------------------------------------------


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was built with (create_app's; tests build apps with their own).

    Routes pass what a service needs from them as arguments: a service never reads the process
    environment (get_settings), so a page and its API route cannot disagree.
    """
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


# --- API: bearer tokens -------------------------------------------------------------------------


# Built once: every API request runs it (autosave included), and building a statement costs more
# Python time than running this one.
_TOKEN_PRINCIPAL = (
    select(User, ApiToken.second_factor_at, *_MEMBERSHIP_COLUMNS)
    .join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organisation, Organisation.id == Membership.organisation_id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.expires_at > bindparam("now", type_=UTCDateTime),  # type: ignore[arg-type]
        User.is_active,  # type: ignore[arg-type]
    )
    .order_by(Organisation.name)
)


def _token_principal(session: Session, raw: str) -> Principal | None:
    """The active person holding this unexpired token, with their memberships, in one query.

    The second-factor rule is checked here, on every request, from the same rows: a token issued
    before the person became a platform admin or analyst, before a board of theirs required a
    second factor, or before they turned theirs on, stops working."""
    rows = session.execute(_TOKEN_PRINCIPAL, {"token_hash": secret_hash(raw), "now": utcnow()}).all()
    if not rows:
        return None
    memberships = [TrustMembership(*row[2:]) for row in rows if row[2] is not None]
    principal = Principal(user=rows[0][0], memberships=memberships)
    refusal = token_second_factor_refusal(
        principal.user.totp_enabled_at, rows[0][1], needs_second_factor=principal.needs_second_factor
    )
    if refusal is not None:
        raise refusal
    return principal


def token_second_factor_refusal(
    totp_enabled_at: datetime | None, second_factor_at: datetime | None, *, needs_second_factor: bool
) -> DomainError | None:
    """The error for a token its holder's second-factor rule no longer accepts, else None.

    Used by _token_principal and by the one-statement autosave (api/permissions.py), which reads the
    same facts in its own statement."""
    if totp_enabled_at is not None:
        if second_factor_at is None or second_factor_at < totp_enabled_at:
            return SecondFactorNeeded(
                "This token was issued without your current two-factor code, which your account now "
                "needs: request a new token with your code in the otp field",
                code=SecondFactorNeeded.code,
            )
    elif needs_second_factor:
        return SecondFactorNotSetUp(
            "Your role, or a board you sit on, now requires two-factor authentication: set it up "
            "in the web service, then request a new token with your code in the otp field",
            code=SecondFactorNotSetUp.code,
        )
    return None


TOKEN_REFUSED = "The token is not valid or has expired: request a new one"


def bearer_token(request: Request) -> str:
    """The raw bearer token the request carries (401 if it carries none); not yet checked."""
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise NotSignedIn("Not signed in: send Authorization: Bearer <token>")
    return raw.strip()


def get_api_principal(request: Request, session: SessionDep) -> Principal:
    principal = _token_principal(session, bearer_token(request))
    if principal is None:
        raise NotSignedIn(TOKEN_REFUSED)
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_api_principal)]


# --- Pages: the session cookie ------------------------------------------------------------------


def _sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return path_to(request, "sign_in", query={"next": target})


def get_session_principal(request: Request, session: SessionDep) -> Principal | None:
    """The person behind the cookie, whatever stage of sign-in they are at; None if nobody."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    settings = request.app.state.settings
    raw = request.cookies.get(settings.session_cookie_name)
    web_session = load_web_session(session, raw, settings) if raw else None
    principal = _principal_for(session, web_session.user_id, web_session) if web_session else None
    request.state.principal = principal
    return principal


def get_pending_principal(request: Request, session: SessionDep) -> Principal:
    """Signed in with a password; the second factor may still be to do (the two-factor pages)."""
    principal = get_session_principal(request, session)
    if principal is None:
        raise RedirectTo(_sign_in_url(request))
    return principal


def get_page_principal(request: Request, session: SessionDep) -> Principal:
    """Fully signed in: password, and the second factor when the person has or needs one."""
    principal = get_pending_principal(request, session)
    assert principal.web_session is not None
    if principal.user.totp_enabled_at is not None:
        if not passed_second_factor(principal.user, principal.web_session.second_factor_at):
            raise RedirectTo(path_to(request, "two_factor_sign_in"))
    elif principal.needs_second_factor and not principal.web_session.second_factor_by_provider:
        # The provider's multi-factor sign-in (single sign-on, when the deployment counts it) stands
        # for a second factor the person has not set up here.
        raise RedirectTo(path_to(request, "two_factor_set_up"))
    return principal


PageUser = Annotated[Principal, Depends(get_page_principal)]
PendingPageUser = Annotated[Principal, Depends(get_pending_principal)]
MaybePageUser = Annotated[Principal | None, Depends(get_session_principal)]
