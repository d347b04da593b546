"""A trust's rule for its board: whether every member must use two-factor authentication."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.responses import Response

from api.accounts.models import Membership, User
from api.accounts.schemas import TrustSettings
from api.audit.service import record_about
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.errors import FieldError
from api.forms import PageForm
from api.pages import PageDep
from api.permissions import TrustManagerPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# --- A trust's rule for its board ---------------------------------------------------------------


def _members_without_two_factor(session: Session, organisation_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)  # type: ignore[arg-type]
        .where(
            Membership.organisation_id == organisation_id,
            User.is_active.is_(True),  # type: ignore[attr-defined]
            User.totp_enabled_at.is_(None),  # type: ignore[union-attr]
        )
    ).one()


@router.get("/trusts/{ods_code}/settings", name="trust_settings")
def trust_settings_page(page: PageDep, access: TrustManagerPage, saved: bool = False) -> Response:
    organisation = access.organisation
    context = {
        "page_title": f"Settings for {organisation.name}",
        "organisation": organisation,
        "saved": saved,
        "members_without_two_factor": _members_without_two_factor(page.session, organisation.id),
    }
    return page.render("organisations/settings.html", context)


@router.post("/trusts/{ods_code}/settings")
def save_trust_settings(page: PageDep, access: TrustManagerPage, form: PageForm[TrustSettings]) -> Response:
    organisation = access.organisation
    if form.command is None:
        raise FieldError("require_two_factor", "Select whether everyone on the board must use two-factor")
    required = form.command.require_two_factor
    if organisation.require_two_factor != required:
        organisation.require_two_factor = required
        page.session.add(organisation)
        record_about(
            page.session,
            "trust.two_factor_required" if required else "trust.two_factor_optional",
            organisation,
            "Required two-factor authentication for everyone on the board"
            if required
            else "Made two-factor authentication optional for the board",
            actor=access.principal.user,
            organisation_id=organisation.id,
            client_ip=client_ip(page.request),
        )
    return page.redirect("trust_settings", ods_code=organisation.ods_code, query={"saved": "true"})
