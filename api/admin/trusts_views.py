"""Admin pages for trusts: the list (searched, 25 a page), importing trusts from CSV, and inviting a
trust's first chair."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Query, UploadFile
from sqlmodel import Session, select
from starlette.responses import Response

from api.accounts import invitations
from api.accounts.members_views import invitation_form
from api.accounts.models import Membership
from api.accounts.roles import CHAIR
from api.admin import service
from api.admin.schemas import (
    FirstChairInvite,
    TrustsImport,
)
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.errors import Conflict, InputError, NotFound, Unprocessable
from api.forms import PageForm, file_name_of, file_problems, text_upload
from api.organisations.models import Organisation
from api.organisations.types import REGIONS, SIZE_BANDS, TRUST_TYPES
from api.pages import Page, PageDep
from api.permissions import PlatformAdminPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# About 200 trusts with a column per cycle made one very long page: 25 at a time, with the search.
TRUSTS_PER_PAGE = 25


@router.get("/admin/trusts", name="admin_trusts")
def trusts_page(
    page: PageDep,
    admin: PlatformAdminPage,
    q: str = "",
    trust_type: str = "",
    region: str = "",
    page_number: Annotated[str, Query(alias="page")] = "1",
    done: str = "",
) -> Response:
    # A value not in the lists (an old bookmark, a typed address) means "any".
    search = service.TrustSearch(
        text=q.strip()[:200],
        trust_type=trust_type if trust_type in TRUST_TYPES else "",
        region=region if region in REGIONS else "",
    )
    rows = service.trust_rows(page.session, search)
    pages = max(1, -(-len(rows) // TRUSTS_PER_PAGE))
    # A page number that is not one (typed, or past the end after a search) shows the nearest page.
    number = min(max(int(page_number) if page_number.isdigit() and len(page_number) < 6 else 1, 1), pages)
    shown = rows[(number - 1) * TRUSTS_PER_PAGE : number * TRUSTS_PER_PAGE]

    def page_href(n: int) -> str:
        query = {"q": search.text, "trust_type": search.trust_type, "region": search.region, "page": n}
        # A search's words as a form sends them (spaces as +), as before.
        return page.path("admin_trusts") + "?" + urlencode({k: v for k, v in query.items() if v})

    return page.render(
        "admin/trusts.html",
        {
            "page_title": "Trusts",
            "search": search,
            "trusts": shown,
            # Trusts with a chair: the others offer "Invite the chair" (the chair then invites the board).
            "chaired": set(
                page.session.exec(select(Membership.organisation_id).where(Membership.role == CHAIR)).all()
            ),
            "chair_invited": done == "chair_invited",
            "days": page.settings.invitation_link_days,
            "total": len(rows),
            "first_shown": (number - 1) * TRUSTS_PER_PAGE + 1,
            "pagination": {
                "items": [
                    {"number": n, "href": page_href(n), "current": n == number} for n in range(1, pages + 1)
                ],
                "previous": {"href": page_href(number - 1)} if number > 1 else {},
                "next": {"href": page_href(number + 1)} if number < pages else {},
            }
            if pages > 1
            else None,
            "cycles": service.all_cycles(page.session),
            "trust_types": TRUST_TYPES,
            "regions": REGIONS,
            "size_bands": SIZE_BANDS,
            "filtered": bool(search.text or search.trust_type or search.region),
        },
    )


def _import_form(page: Page, status_code: int = 200, **context: object) -> Response:
    return page.render(
        "admin/trusts_import.html",
        {
            "page_title": "Import trusts from a CSV file",
            "trust_types": TRUST_TYPES,
            "regions": REGIONS,
            "size_bands": SIZE_BANDS,
            **context,
        },
        status_code=status_code,
    )


@router.get("/admin/trusts/import", name="admin_import_trusts")
def import_page(page: PageDep, admin: PlatformAdminPage) -> Response:
    return _import_form(page)


@router.post("/admin/trusts/import")
def import_trusts(
    page: PageDep,
    admin: PlatformAdminPage,
    form: PageForm[TrustsImport, file_name_of("csv_file")],
    csv_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    upload = text_upload(form, csv_file, "CSV")
    if upload.command is None:
        return _import_form(page, 422, errors=upload.errors)
    file_name = upload.command.file_name
    try:
        result = service.import_trusts(
            page.session,
            text=upload.text,
            file_name=file_name,
            actor=admin.user,
            client_ip=client_ip(page.request),
        )
    except InputError as exc:
        problems = [line for line in str(exc).splitlines() if line.strip()]
        summary, listed = file_problems(file_name, problems, "imported")
        return _import_form(page, 422, errors={"csv_file": summary}, row_errors=listed, file_name=file_name)
    total = result.added + result.updated
    return page.render(
        "admin/trusts_imported.html",
        {
            "page_title": (
                f"{total} organisation{'s' if total != 1 else ''} imported "
                f"({result.added} new, {result.updated} updated)"
            ),
            "result": result,
            "total": total,
            "file_name": file_name,
        },
    )


# --- A trust's first chair -------------------------------------------------------------------------


def _organisation_or_404(session: Session, ods_code: str) -> Organisation:
    organisation = session.exec(select(Organisation).where(Organisation.ods_code == ods_code.upper())).first()
    if organisation is None:
        raise NotFound("No trust with that ODS code")
    return organisation


def _first_chair_form(
    page: Page, organisation: Organisation, status_code: int = 200, **form: object
) -> Response:
    title = f"Invite the chair of {organisation.name}"
    return invitation_form(
        page, "admin/trust_invite_chair.html", title, status_code, organisation=organisation, **form
    )


@router.get("/admin/trusts/{ods_code}/invite-chair", name="admin_invite_chair")
def invite_chair_page(page: PageDep, admin: PlatformAdminPage, ods_code: str) -> Response:
    return _first_chair_form(page, _organisation_or_404(page.session, ods_code))


@router.post("/admin/trusts/{ods_code}/invite-chair")
def invite_chair(
    page: PageDep, admin: PlatformAdminPage, ods_code: str, form: PageForm[FirstChairInvite]
) -> Response:
    organisation = _organisation_or_404(page.session, ods_code)
    typed = {name: form.values.get(name, "") for name in ("email", "name")}
    if form.command is None:
        return _first_chair_form(page, organisation, 422, errors=form.errors, **typed)
    try:
        invitations.invite_first_chair(
            page.session,
            page.settings,
            organisation=organisation,
            actor=admin.user,
            email=form.command.email,
            name=form.command.name,
            client_ip=client_ip(page.request),
        )
    except (Conflict, Unprocessable) as exc:
        field = exc.extra.get("field", "email")
        return _first_chair_form(page, organisation, exc.status_code, errors={field: exc.message}, **typed)
    return page.redirect("admin_trusts", query={"q": organisation.ods_code, "done": "chair_invited"})
