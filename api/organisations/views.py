"""Pages for a person's boards: the list (trust switcher) and each trust's home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select
from starlette.responses import Response

from api.accounts.schemas import TrustSwitch
from api.assessments.cycles import is_open
from api.assessments.models import Assessment, Cycle
from api.csrf import verify_csrf
from api.db import SessionDep, utcnow
from api.deps import PageUser, TrustAccess, trust_role
from api.errors import NotFound
from api.forms import CommandForm, command_form
from api.organisations.types import PEER_TYPES, SIZE_BANDS, TRUST_TYPES
from api.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

TrustMember = Annotated[TrustAccess, Depends(trust_role(page=True))]


@router.get("/trusts", name="trusts")
def your_trusts(request: Request, principal: PageUser) -> Response:
    return render(request, "organisations/trusts.html", {"page_title": "Your boards"})


@router.post("/trusts/switch", name="switch_trust")
def switch_trust(
    session: SessionDep,
    principal: PageUser,
    form: Annotated[CommandForm[TrustSwitch], Depends(command_form(TrustSwitch))],
) -> Response:
    membership = principal.membership_by_code(form.command.ods_code if form.command else "")
    if membership is None:
        raise NotFound("No trust with that code among your boards")
    assert principal.web_session is not None
    principal.web_session.active_organisation_id = membership.organisation_id
    session.add(principal.web_session)
    return RedirectResponse(f"/trusts/{membership.ods_code}", status_code=303)


@router.get("/trusts/{ods_code}", name="trust_home")
def trust_home(request: Request, session: SessionDep, access: TrustMember) -> Response:
    organisation = access.organisation
    # Remember the trust the person is looking at, for the header links.
    web_session = access.principal.web_session
    if web_session is not None and web_session.active_organisation_id != organisation.id:
        web_session.active_organisation_id = organisation.id
        session.add(web_session)
    rows = session.exec(
        select(Cycle, Assessment)
        .outerjoin(
            Assessment,
            (Assessment.cycle_id == Cycle.id) & (Assessment.organisation_id == organisation.id),  # type: ignore[arg-type]
        )
        .order_by(Cycle.opens_on.desc())  # type: ignore[attr-defined]
    ).all()
    today = utcnow().date()
    open_cycle = next(
        (cycle for cycle, assessment in rows if is_open(cycle, today) and assessment is None), None
    )
    return render(
        request,
        "organisations/trust_home.html",
        {
            "open_cycle": open_cycle,
            "can_open": access.membership.role in ("chair", "board_secretary"),
            "page_title": organisation.name,
            "organisation": organisation,
            "membership": access.membership,
            "cycles": rows,
            "trust_type_name": TRUST_TYPES.get(organisation.trust_type, organisation.trust_type),
            "peer_type_name": PEER_TYPES.get(organisation.peer_type, organisation.peer_type),
            "size_band_name": SIZE_BANDS.get(organisation.size_band or "", "Not known"),
        },
    )
