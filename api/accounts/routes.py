"""JSON API for sign-in: the OAuth2 password flow, who am I, and revoking tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.responses import Response

from api.accounts.sessions import end_all_sessions, issue_api_token
from api.accounts.signin import check_password, record_wrong_second_factor, wait_message
from api.accounts.two_factor import SET_UP_FIRST, second_factor_required, verify_second_factor
from api.audit.service import record_on_user
from api.client_ip import client_ip
from api.db import SessionDep, utcnow
from api.deps import CurrentUser, SettingsDep
from api.errors import error_responses
from api.public import filled

router = APIRouter(prefix="/api/v1", tags=["accounts"])

INVALID = "The email address or password is not right"


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MembershipPublic(BaseModel):
    organisation_code: str
    organisation_name: str
    role: str
    board_role: str


class Me(BaseModel):
    email: str
    name: str
    platform_role: str | None
    two_factor: bool
    memberships: list[MembershipPublic]


def _unauthorised(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


@router.post(
    "/auth/token",
    response_model=Token,
    responses=error_responses(
        422, 429, described={401: "Wrong email or password, or the two-factor code is missing or wrong"}
    ),
)
def issue_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(description="Your email address")],
    password: Annotated[str, Form()],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
    otp: Annotated[str | None, Form(description="Your two-factor code, if you use one")] = None,
) -> Response:
    """OAuth2 password flow. Failures are answered (not raised) so the attempt is kept for throttling.

    A wrong `otp` is counted and audited as a wrong code on the two-factor page is, and meets the
    same delays."""
    ip = client_ip(request)
    admins_only = settings.password_sign_in == "platform_admins"
    outcome = check_password(session, username, password, ip, channel="api", only_platform_admins=admins_only)
    if outcome.throttled:
        assert outcome.retry_after is not None
        return JSONResponse(
            {"detail": wait_message(outcome.retry_after)},
            status_code=429,
            headers={"Retry-After": str(outcome.retry_after)},
        )
    user = outcome.user
    if user is None:
        return _unauthorised(INVALID)
    second_factor_at = None
    if user.totp_enabled_at is None:
        if second_factor_required(session, user):
            return _unauthorised(SET_UP_FIRST)
    else:
        if not otp or not otp.strip():
            return _unauthorised("Send your two-factor code in the otp field")
        if not verify_second_factor(session, user, otp):
            record_wrong_second_factor(session, user, ip, channel="api")
            return _unauthorised("The two-factor code is not right")
        second_factor_at = utcnow()
    _token, raw = issue_api_token(session, user, settings, second_factor_at=second_factor_at)
    record_on_user(
        session,
        "sign_in",
        user,
        "API token issued",
        details={"second_factor": second_factor_at is not None},
        client_ip=ip,
    )
    return JSONResponse(Token(access_token=raw, expires_in=settings.api_token_minutes * 60).model_dump())


@router.post("/auth/revoke", status_code=204, responses=error_responses(401))
def revoke_tokens(request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    """Sign out everywhere: this token, every other token and every browser session stop working."""
    end_all_sessions(session, principal.user.id)
    record_on_user(session, "sign_out", principal.user, "Signed out (API)", client_ip=client_ip(request))
    return Response(status_code=204)


@router.get("/me", response_model=Me, responses=error_responses(401))
def me(principal: CurrentUser) -> Me:
    return Me(
        email=principal.user.email,
        name=principal.user.name,
        platform_role=principal.user.platform_role,
        two_factor=principal.user.totp_enabled_at is not None,
        memberships=[
            filled(MembershipPublic, m, organisation_code=m.ods_code) for m in principal.memberships
        ],
    )
