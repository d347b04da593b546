"""Pages for platform admins: the overview, opening a cycle, trusts (and importing them), frameworks
(and checking a new file), and the people with platform roles.

Reopening a submitted assessment is in api/assessments/signoff_views.py; the audit log of every
trust is in api/audit/views.py.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import select
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts import invitations
from api.accounts.models import Membership
from api.accounts.roles import CHAIR
from api.admin import service
from api.admin.schemas import (
    CloseCycleRequest,
    CycleOpen,
    FirstChairInvite,
    FrameworkFileCheck,
    PlatformInvite,
    TrustsImport,
)
from api.assessments.cycles import close_cycle, closed_on, is_closed, open_cycle
from api.assessments.repository import cycle_by_name
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.db import SessionDep, utcnow
from api.errors import Conflict, InputError, NotFound, Unprocessable
from api.forms import CommandForm, FormRead, command_form, file_name_of
from api.organisations.models import Organisation
from api.organisations.types import REGIONS, SIZE_BANDS, TRUST_TYPES
from api.permissions import PlatformAdminPage
from api.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# At most this many bad rows are listed; the rest are counted.
MAX_LISTED_ERRORS = 50
# Messages for the banner after a change, chosen by key so the address cannot carry made-up text.
DONE_MESSAGES = {
    "cycle_opened": ("Cycle opened. Chairs can open their board's assessment for it from the day it opens."),
    "cycle_closed": (
        "Cycle closed. Its figures are final: nothing more can be submitted or changed for that year."
    ),
    "invited": "Invitation sent. The link in it works once and stops working after {days} days.",
    "added": (
        "Role given. They already had an account, so we emailed to tell them. "
        "They must use two-factor authentication when they next sign in."
    ),
    "removed": "Platform role removed. They have been signed out on every device.",
    "erased": (
        "Their name and email address have been erased, and they can no longer sign in. "
        "Their ratings are kept without their name."
    ),
}


def _done(request: Request, done: str | None) -> str:
    return DONE_MESSAGES.get(done or "", "").format(days=request.app.state.settings.invitation_link_days)


def _sentence(message: str) -> str:
    """A service message as the page shows it: capital first letter (the CLI's are lower case)."""
    return message[:1].upper() + message[1:]


# --- Overview ------------------------------------------------------------------------------------


@router.get("/admin", name="admin_home")
def overview(
    request: Request, session: SessionDep, admin: PlatformAdminPage, done: str | None = None
) -> Response:
    return render(
        request,
        "admin/index.html",
        {
            "page_title": "Platform admin",
            "cycles": service.cycle_summaries(session),
            "done": _done(request, done),
        },
    )


# --- Cycles --------------------------------------------------------------------------------------

DATE_PARTS = ("day", "month", "year")
# Where an error on a field of CycleOpen is shown: a date's on its day box.
CYCLE_FIELD_IDS = {"opens_on": "opens_day", "closes_on": "closes_day"}


def _cycle_values(form: FormData) -> FormRead:
    """The new-cycle form as CycleOpen: each date as its three boxes (day, month, year)."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    values: dict[str, Any] = {
        "opens_on": tuple(text(f"opens_{part}") for part in DATE_PARTS),
        "closes_on": tuple(text(f"closes_{part}") for part in DATE_PARTS),
    }
    for name in ("name", "framework"):
        if text(name):
            values[name] = form.get(name)
    return FormRead(values, CYCLE_FIELD_IDS)


def _cycle_form(request: Request, session: SessionDep, status_code: int = 200, **form: object) -> Response:
    frameworks = service.framework_summaries(session)
    form.setdefault("framework", frameworks[0].key if frameworks else "")
    return render(
        request,
        "admin/cycle_new.html",
        {"page_title": "Open a new assessment cycle", "frameworks": frameworks, **form},
        status_code=status_code,
    )


@router.get("/admin/cycles/new", name="admin_new_cycle")
def new_cycle_page(request: Request, session: SessionDep, admin: PlatformAdminPage) -> Response:
    return _cycle_form(request, session, values={})


def _cycle_error_field(message: str) -> str:
    # open_cycle says which rule failed only in words; its last checks are the name and the framework.
    if "framework" in message:
        return "framework"
    if "open before it closes" in message:
        return "closes_day"
    return "name"


@router.post("/admin/cycles/new")
def new_cycle(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    command: Annotated[CommandForm[CycleOpen], Depends(command_form(CycleOpen, read=_cycle_values))],
) -> Response:
    values = {
        f"{prefix}_{part}": command.values.get(f"{prefix}_{part}", "").strip()
        for prefix in ("opens", "closes")
        for part in DATE_PARTS
    }
    name, framework = command.values.get("name", ""), command.values.get("framework", "")
    form = {"name": name, "values": values, "framework": framework}
    if command.command is None:
        return _cycle_form(request, session, 422, errors=command.errors, **form)
    cycle = command.command
    try:
        open_cycle(
            session,
            cycle.name,
            opens_on=cycle.opens_on,
            closes_on=cycle.closes_on,
            framework_key=cycle.framework,
            actor=admin.user,
            client_ip=client_ip(request),
        )
    except InputError as exc:
        message = str(exc)
        return _cycle_form(
            request, session, 422, errors={_cycle_error_field(message): _sentence(message)}, **form
        )
    return RedirectResponse("/admin?done=cycle_opened", status_code=303)


# --- Trusts --------------------------------------------------------------------------------------


def _close_page(
    request: Request, session: SessionDep, cycle_name: str, status_code: int = 200, **extra: object
) -> Response:
    cycle = cycle_by_name(session, cycle_name)
    if cycle is None:
        raise NotFound(f"There is no {cycle_name} cycle")
    summary = next(s for s in service.cycle_summaries(session) if s.cycle.id == cycle.id)
    return render(
        request,
        "admin/cycle_close.html",
        {
            "page_title": f"Close the {cycle.name} year",
            "cycle": cycle,
            "summary": summary,
            "closed": is_closed(cycle, utcnow().date()),
            "closed_on": closed_on(cycle),
            **extra,
        },
        status_code=status_code,
    )


@router.get("/admin/cycles/close", name="admin_close_cycle")
def close_cycle_page(request: Request, session: SessionDep, admin: PlatformAdminPage, cycle: str) -> Response:
    """The confirmation page: closing the year is deliberate and cannot be undone."""
    return _close_page(request, session, cycle)


@router.post("/admin/cycles/close")
def close_cycle_form(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    form: Annotated[CommandForm[CloseCycleRequest], Depends(command_form(CloseCycleRequest))],
) -> Response:
    cycle = form.values.get("cycle", "")
    chosen = cycle_by_name(session, cycle)
    if chosen is None:
        raise NotFound(f"There is no {cycle} cycle")
    try:
        if form.command is None:
            raise Conflict("The page was out of date: check the year and try again")
        close_cycle(
            session,
            chosen,
            version=form.command.version,
            k=request.app.state.settings.k_anonymity,
            actor=admin.user,
            client_ip=client_ip(request),
        )
    except Conflict as refused:
        # Closed already (by someone else, or a second press), or changed since the page was shown.
        return _close_page(request, session, cycle, status_code=409, refusal=refused.message)
    return RedirectResponse("/admin?done=cycle_closed#cycles", status_code=303)


# About 200 trusts with a column per cycle made one very long page: 25 at a time, with the search.
TRUSTS_PER_PAGE = 25


@router.get("/admin/trusts", name="admin_trusts")
def trusts_page(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    q: str = "",
    trust_type: str = "",
    region: str = "",
    page: str = "1",
    done: str = "",
) -> Response:
    # A value not in the lists (an old bookmark, a typed address) means "any".
    search = service.TrustSearch(
        text=q.strip()[:200],
        trust_type=trust_type if trust_type in TRUST_TYPES else "",
        region=region if region in REGIONS else "",
    )
    rows = service.trust_rows(session, search)
    pages = max(1, -(-len(rows) // TRUSTS_PER_PAGE))
    # A page number that is not one (typed, or past the end after a search) shows the nearest page.
    number = min(max(int(page) if page.isdigit() and len(page) < 6 else 1, 1), pages)
    shown = rows[(number - 1) * TRUSTS_PER_PAGE : number * TRUSTS_PER_PAGE]

    def page_href(n: int) -> str:
        query = {"q": search.text, "trust_type": search.trust_type, "region": search.region, "page": n}
        return "/admin/trusts?" + urlencode({k: v for k, v in query.items() if v})

    return render(
        request,
        "admin/trusts.html",
        {
            "page_title": "Trusts",
            "search": search,
            "trusts": shown,
            # Trusts with a chair: the others offer "Invite the chair" (the chair then invites the board).
            "chaired": set(
                session.exec(select(Membership.organisation_id).where(Membership.role == CHAIR)).all()
            ),
            "chair_invited": done == "chair_invited",
            "days": request.app.state.settings.invitation_link_days,
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
            "cycles": service.all_cycles(session),
            "trust_types": TRUST_TYPES,
            "regions": REGIONS,
            "size_bands": SIZE_BANDS,
            "filtered": bool(search.text or search.trust_type or search.region),
        },
    )


def _read_upload(upload: UploadFile | None, what: str) -> tuple[str, str | None]:
    """The uploaded file's text, or ("", what is wrong with it)."""
    if upload is None or not upload.filename:
        return "", f"Select a {what} file"
    content = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if not content:
        return "", f"The selected file is empty. Select a {what} file with something in it"
    if len(content) > MAX_UPLOAD_BYTES:
        return "", f"The selected file must be smaller than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    try:
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return "", f"The selected file must be a {what} file saved as UTF-8 text"


def _import_form(request: Request, status_code: int = 200, **context: object) -> Response:
    return render(
        request,
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
def import_page(request: Request, admin: PlatformAdminPage) -> Response:
    return _import_form(request)


@router.post("/admin/trusts/import")
def import_trusts(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    command: Annotated[
        CommandForm[TrustsImport], Depends(command_form(TrustsImport, read=file_name_of("csv_file")))
    ],
    csv_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if command.command is None:
        return _import_form(request, 422, errors=command.errors)
    text, problem = _read_upload(csv_file, "CSV")
    if problem:
        return _import_form(request, 422, errors={"csv_file": problem})
    file_name = command.command.file_name
    try:
        result = service.import_trusts(
            session, text=text, file_name=file_name, actor=admin.user, client_ip=client_ip(request)
        )
    except InputError as exc:
        problems = [_sentence(line) for line in str(exc).splitlines() if line.strip()]
        listed = problems[:MAX_LISTED_ERRORS]
        if len(problems) > len(listed):
            listed.append(f"And {len(problems) - len(listed)} more problems")
        return _import_form(
            request,
            422,
            errors={
                "csv_file": (
                    f"{file_name} has {len(problems)} problem{'s' if len(problems) != 1 else ''}. "
                    "Nothing has been imported. Correct the file and upload it again"
                )
            },
            row_errors=listed,
            file_name=file_name,
        )
    total = result.added + result.updated
    return render(
        request,
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


# --- Frameworks ----------------------------------------------------------------------------------


def _frameworks_page(
    request: Request, session: SessionDep, status_code: int = 200, **context: object
) -> Response:
    return render(
        request,
        "admin/frameworks.html",
        {"page_title": "Frameworks", "frameworks": service.framework_summaries(session), **context},
        status_code=status_code,
    )


@router.get("/admin/frameworks", name="admin_frameworks")
def frameworks_page(request: Request, session: SessionDep, admin: PlatformAdminPage) -> Response:
    return _frameworks_page(request, session)


@router.post("/admin/frameworks/check", name="admin_check_framework")
def check_framework(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    command: Annotated[
        CommandForm[FrameworkFileCheck],
        Depends(command_form(FrameworkFileCheck, read=file_name_of("framework_file"))),
    ],
    framework_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if command.command is None:
        return _frameworks_page(request, session, 422, errors=command.errors)
    text, problem = _read_upload(framework_file, "YAML")
    if problem:
        return _frameworks_page(request, session, 422, errors={"framework_file": problem})
    file_name = command.command.file_name
    check = service.check_framework(session, text, file_name)
    return render(
        request,
        "admin/framework_check.html",
        {
            "page_title": (
                f"{file_name} is a valid framework file" if check.valid else f"{file_name} has problems"
            ),
            "check": check,
            "errors": None if check.valid else {"framework_file": "Correct the file and check it again"},
            "file_errors": check.errors,
        },
        status_code=200 if check.valid else 422,
    )


# --- People with platform roles ------------------------------------------------------------------


@router.get("/admin/people", name="admin_people")
def people_page(
    request: Request, session: SessionDep, admin: PlatformAdminPage, done: str | None = None
) -> Response:
    return render(
        request,
        "admin/people.html",
        {
            "page_title": "People with platform roles",
            "people": service.platform_people(session),
            "me": admin.user.id,
            "days": request.app.state.settings.invitation_link_days,
            "done": _done(request, done),
        },
    )


def _invite_form(request: Request, status_code: int = 200, **form: object) -> Response:
    return render(
        request,
        "admin/people_invite.html",
        {
            "page_title": "Invite a sector analyst or platform admin",
            "days": request.app.state.settings.invitation_link_days,
            "purposes": service.ROLE_PURPOSES,
            **form,
        },
        status_code=status_code,
    )


@router.get("/admin/people/invite", name="admin_invite_person")
def invite_page(request: Request, admin: PlatformAdminPage) -> Response:
    return _invite_form(request)


@router.post("/admin/people/invite")
def invite(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    form: Annotated[CommandForm[PlatformInvite], Depends(command_form(PlatformInvite))],
) -> Response:
    typed = {name: form.values.get(name, "") for name in ("email", "name", "role")}
    if form.command is None:
        return _invite_form(request, 422, errors=form.errors, **typed)
    try:
        invitation = service.invite_platform_user(
            session,
            request.app.state.settings,
            actor=admin.user,
            email=form.command.email,
            name=form.command.name,
            role=form.command.role,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable) as exc:
        field = exc.extra.get("field", "email")
        return _invite_form(request, exc.status_code, errors={field: exc.message}, **typed)
    done = "invited" if invitation.link_sent else "added"
    return RedirectResponse(f"/admin/people?done={done}", status_code=303)


# --- A trust's first chair -------------------------------------------------------------------------


def _organisation_or_404(session: SessionDep, ods_code: str) -> Organisation:
    organisation = session.exec(select(Organisation).where(Organisation.ods_code == ods_code.upper())).first()
    if organisation is None:
        raise NotFound("No trust with that ODS code")
    return organisation


def _first_chair_form(
    request: Request, organisation: Organisation, status_code: int = 200, **form: object
) -> Response:
    return render(
        request,
        "admin/trust_invite_chair.html",
        {
            "page_title": f"Invite the chair of {organisation.name}",
            "organisation": organisation,
            "days": request.app.state.settings.invitation_link_days,
            **form,
        },
        status_code=status_code,
    )


@router.get("/admin/trusts/{ods_code}/invite-chair", name="admin_invite_chair")
def invite_chair_page(
    request: Request, session: SessionDep, admin: PlatformAdminPage, ods_code: str
) -> Response:
    return _first_chair_form(request, _organisation_or_404(session, ods_code))


@router.post("/admin/trusts/{ods_code}/invite-chair")
def invite_chair(
    request: Request,
    session: SessionDep,
    admin: PlatformAdminPage,
    ods_code: str,
    form: Annotated[CommandForm[FirstChairInvite], Depends(command_form(FirstChairInvite))],
) -> Response:
    organisation = _organisation_or_404(session, ods_code)
    typed = {name: form.values.get(name, "") for name in ("email", "name")}
    if form.command is None:
        return _first_chair_form(request, organisation, 422, errors=form.errors, **typed)
    try:
        invitations.invite_first_chair(
            session,
            request.app.state.settings,
            organisation=organisation,
            actor=admin.user,
            email=form.command.email,
            name=form.command.name,
            client_ip=client_ip(request),
        )
    except (Conflict, Unprocessable) as exc:
        field = exc.extra.get("field", "email")
        return _first_chair_form(request, organisation, exc.status_code, errors={field: exc.message}, **typed)
    return RedirectResponse(f"/admin/trusts?q={organisation.ods_code}&done=chair_invited", status_code=303)


def _remove_page(
    request: Request, person: service.PlatformPerson, status_code: int = 200, **extra: object
) -> Response:
    return render(
        request,
        "admin/people_remove.html",
        {
            "page_title": f"Are you sure you want to remove the {person.role_name.lower()} role from {person.name}?",
            "person": person,
            **extra,
        },
        status_code=status_code,
    )


@router.get("/admin/people/{user_id}/remove", name="admin_remove_person")
def remove_page(request: Request, session: SessionDep, admin: PlatformAdminPage, user_id: int) -> Response:
    _user, person = service.platform_person(session, user_id)
    return _remove_page(request, person, me=admin.user.id)


@router.post("/admin/people/{user_id}/remove")
def remove(request: Request, session: SessionDep, admin: PlatformAdminPage, user_id: int) -> Response:
    user, person = service.platform_person(session, user_id)
    try:
        service.remove_platform_role(session, user=user, actor=admin.user, client_ip=client_ip(request))
    except Conflict as exc:
        return _remove_page(
            request, person, exc.status_code, me=admin.user.id, errors={"remove": exc.message}
        )
    return RedirectResponse("/admin/people?done=removed", status_code=303)
