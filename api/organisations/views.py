"""Pages for a person's boards: the list (trust switcher) and each trust's home page."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends
from sqlmodel import select
from starlette.responses import Response

from api.accounts.schemas import TrustSwitch
from api.assessments.models import Assessment, Cycle
from api.csrf import verify_csrf
from api.deps import PageUser
from api.errors import NotFound
from api.forms import PageForm
from api.home.service import BoardYear, board_year
from api.organisations.types import PEER_TYPES, SIZE_BANDS, TRUST_TYPES
from api.pages import Page, PageDep
from api.permissions import TrustMemberPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def _linked(page: Page, year: BoardYear) -> BoardYear:
    """The year's next step with the path of the page it names."""
    step = year.next_step
    if step is not None and step.route:
        year.next_step = replace(step, href=page.path(step.route, assessment_id=step.assessment_id))
    return year


@router.get("/trusts", name="trusts")
def your_trusts(page: PageDep, principal: PageUser) -> Response:
    """The board chooser (and trust switcher): each board with what waits there for this person."""
    k = page.settings.k_anonymity
    boards = [
        _linked(page, board_year(page.session, m, principal.user.id, k=k, full=False))
        for m in principal.memberships
    ]
    return page.render("organisations/trusts.html", {"page_title": "Your boards", "boards": boards})


@router.post("/trusts/switch", name="switch_trust")
def switch_trust(page: PageDep, principal: PageUser, form: PageForm[TrustSwitch]) -> Response:
    membership = principal.membership_by_code(form.command.ods_code if form.command else "")
    if membership is None:
        raise NotFound("No trust with that code among your boards")
    assert principal.web_session is not None
    principal.web_session.active_organisation_id = membership.organisation_id
    page.session.add(principal.web_session)
    return page.redirect("trust_home", ods_code=membership.ods_code)


@router.get("/trusts/{ods_code}", name="trust_home")
def trust_home(page: PageDep, access: TrustMemberPage) -> Response:
    organisation = access.organisation
    # Remember the trust the person is looking at, for the header links.
    web_session = access.principal.web_session
    if web_session is not None and web_session.active_organisation_id != organisation.id:
        web_session.active_organisation_id = organisation.id
        page.session.add(web_session)
    rows = page.session.exec(
        select(Cycle, Assessment)
        .outerjoin(
            Assessment,
            (Assessment.cycle_id == Cycle.id) & (Assessment.organisation_id == organisation.id),  # type: ignore[arg-type]
        )
        .order_by(Cycle.opens_on.desc())  # type: ignore[attr-defined]
    ).all()
    year = _linked(
        page,
        board_year(page.session, access.membership, access.principal.user.id, k=page.settings.k_anonymity),
    )
    return page.render(
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
