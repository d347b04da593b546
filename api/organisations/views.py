"""Pages for a person's boards: the list (trust switcher) and each trust's home page."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends, Request
from sqlmodel import select
from starlette.responses import Response

from api.accounts.schemas import TrustSwitch
from api.assessments.models import Assessment, Cycle
from api.csrf import verify_csrf
from api.db import SessionDep
from api.deps import PageUser, SettingsDep
from api.errors import NotFound
from api.forms import PageForm
from api.home.service import BoardYear, board_year
from api.organisations.types import PEER_TYPES, SIZE_BANDS, TRUST_TYPES
from api.permissions import TrustMemberPage
from api.templating import render
from api.urls import path_to, redirect_to

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def _linked(request: Request, year: BoardYear) -> BoardYear:
    """The year's next step with the path of the page it names."""
    step = year.next_step
    if step is not None and step.route:
        year.next_step = replace(step, href=path_to(request, step.route, assessment_id=step.assessment_id))
    return year


@router.get("/trusts", name="trusts")
def your_trusts(
    request: Request, session: SessionDep, settings: SettingsDep, principal: PageUser
) -> Response:
    """The board chooser (and trust switcher): each board with what waits there for this person."""
    k = settings.k_anonymity
    boards = [
        _linked(request, board_year(session, m, principal.user.id, k=k, full=False))
        for m in principal.memberships
    ]
    return render(request, "organisations/trusts.html", {"page_title": "Your boards", "boards": boards})


@router.post("/trusts/switch", name="switch_trust")
def switch_trust(
    request: Request,
    session: SessionDep,
    principal: PageUser,
    form: PageForm[TrustSwitch],
) -> Response:
    membership = principal.membership_by_code(form.command.ods_code if form.command else "")
    if membership is None:
        raise NotFound("No trust with that code among your boards")
    assert principal.web_session is not None
    principal.web_session.active_organisation_id = membership.organisation_id
    session.add(principal.web_session)
    return redirect_to(request, "trust_home", ods_code=membership.ods_code)


@router.get("/trusts/{ods_code}", name="trust_home")
def trust_home(
    request: Request, session: SessionDep, settings: SettingsDep, access: TrustMemberPage
) -> Response:
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
    year = _linked(
        request, board_year(session, access.membership, access.principal.user.id, k=settings.k_anonymity)
    )
    return render(
        request,
        "organisations/trust_home.html",
        {
            "year": year,
            "page_title": organisation.name,
            "organisation": organisation,
            "membership": access.membership,
            "cycles": rows,
            "trust_type_name": TRUST_TYPES.get(organisation.trust_type, organisation.trust_type),
            "peer_type_name": PEER_TYPES.get(organisation.peer_type, organisation.peer_type),
            "size_band_name": SIZE_BANDS.get(organisation.size_band or "", "Not known"),
        },
    )
