"""Pages for platform admins: the overview, opening and closing a cycle, frameworks (and checking a
new file), and what the other admin pages share. Trusts are in trusts_views.py, people with platform
roles in people_views.py; reopening a submitted assessment is in api/assessments/signoff_views.py;
the audit log of every trust is in api/audit/views.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.datastructures import FormData
from starlette.responses import Response

from api.admin import service
from api.admin.schemas import (
    CloseCycleRequest,
    CycleOpen,
    FrameworkFileCheck,
)
from api.assessments.cycles import close_cycle, closed_on, is_closed, open_cycle
from api.assessments.repository import cycle_by_name
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.db import utcnow
from api.errors import Conflict, InputError, NotFound
from api.forms import FormRead, PageForm, as_sentence, file_name_of, text_upload
from api.pages import Page, PageDep
from api.permissions import PlatformAdminPage
from api.settings import Settings

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


# At most this many bad rows are listed; the rest are counted.
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


def done_message(settings: Settings, done: str | None) -> str:
    return DONE_MESSAGES.get(done or "", "").format(days=settings.invitation_link_days)


def admin_page(page: Page, template: str, title: str, done: str | None, **context: Any) -> Response:
    """An admin overview page: its title, what was just done (`?done=`) in words, and `context`."""
    return page.render(template, {"page_title": title, **context, "done": done_message(page.settings, done)})


# --- Overview ------------------------------------------------------------------------------------


@router.get("/admin", name="admin_home")
def overview(page: PageDep, admin: PlatformAdminPage, done: str | None = None) -> Response:
    cycles = service.cycle_summaries(page.session)
    return admin_page(page, "admin/index.html", "Platform admin", done, cycles=cycles)


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


def _cycle_form(page: Page, status_code: int = 200, **form: object) -> Response:
    frameworks = service.framework_summaries(page.session)
    form.setdefault("framework", frameworks[0].key if frameworks else "")
    return page.render(
        "admin/cycle_new.html",
        {"page_title": "Open a new assessment cycle", "frameworks": frameworks, **form},
        status_code=status_code,
    )


@router.get("/admin/cycles/new", name="admin_new_cycle")
def new_cycle_page(page: PageDep, admin: PlatformAdminPage) -> Response:
    return _cycle_form(page, values={})


def _cycle_error_field(message: str) -> str:
    # open_cycle says which rule failed only in words; its last checks are the name and the framework.
    if "framework" in message:
        return "framework"
    if "open before it closes" in message:
        return "closes_day"
    return "name"


@router.post("/admin/cycles/new")
def new_cycle(
    page: PageDep, admin: PlatformAdminPage, command: PageForm[CycleOpen, _cycle_values]
) -> Response:
    values = {
        f"{prefix}_{part}": command.values.get(f"{prefix}_{part}", "").strip()
        for prefix in ("opens", "closes")
        for part in DATE_PARTS
    }
    name, framework = command.values.get("name", ""), command.values.get("framework", "")
    form = {"name": name, "values": values, "framework": framework}
    if command.command is None:
        return _cycle_form(page, 422, errors=command.errors, **form)
    cycle = command.command
    try:
        open_cycle(
            page.session,
            cycle.name,
            opens_on=cycle.opens_on,
            closes_on=cycle.closes_on,
            framework_key=cycle.framework,
            actor=admin.user,
            client_ip=client_ip(page.request),
        )
    except InputError as exc:
        message = str(exc)
        return _cycle_form(page, 422, errors={_cycle_error_field(message): as_sentence(message)}, **form)
    return page.redirect("admin_home", query={"done": "cycle_opened"})


def _close_page(page: Page, cycle_name: str, status_code: int = 200, **extra: object) -> Response:
    cycle = cycle_by_name(page.session, cycle_name)
    if cycle is None:
        raise NotFound(f"There is no {cycle_name} cycle")
    summary = next(s for s in service.cycle_summaries(page.session) if s.cycle.id == cycle.id)
    return page.render(
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
def close_cycle_page(page: PageDep, admin: PlatformAdminPage, cycle: str) -> Response:
    """The confirmation page: closing the year is deliberate and cannot be undone."""
    return _close_page(page, cycle)


@router.post("/admin/cycles/close")
def close_cycle_form(page: PageDep, admin: PlatformAdminPage, form: PageForm[CloseCycleRequest]) -> Response:
    cycle = form.values.get("cycle", "")
    chosen = cycle_by_name(page.session, cycle)
    if chosen is None:
        raise NotFound(f"There is no {cycle} cycle")
    try:
        if form.command is None:
            raise Conflict("The page was out of date: check the year and try again")
        close_cycle(
            page.session,
            chosen,
            version=form.command.version,
            k=page.settings.k_anonymity,
            actor=admin.user,
            client_ip=client_ip(page.request),
        )
    except Conflict as refused:
        # Closed already (by someone else, or a second press), or changed since the page was shown.
        return _close_page(page, cycle, status_code=409, refusal=refused.message)
    return page.redirect("admin_home", query={"done": "cycle_closed"}, fragment="cycles")


# --- Frameworks ----------------------------------------------------------------------------------


def _frameworks_page(page: Page, status_code: int = 200, **context: object) -> Response:
    return page.render(
        "admin/frameworks.html",
        {"page_title": "Frameworks", "frameworks": service.framework_summaries(page.session), **context},
        status_code=status_code,
    )


@router.get("/admin/frameworks", name="admin_frameworks")
def frameworks_page(page: PageDep, admin: PlatformAdminPage) -> Response:
    return _frameworks_page(page)


@router.post("/admin/frameworks/check", name="admin_check_framework")
def check_framework(
    page: PageDep,
    admin: PlatformAdminPage,
    form: PageForm[FrameworkFileCheck, file_name_of("framework_file")],
    framework_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    upload = text_upload(form, framework_file, "YAML")
    if upload.command is None:
        return _frameworks_page(page, 422, errors=upload.errors)
    file_name = upload.command.file_name
    check = service.check_framework(page.session, upload.text, file_name)
    return page.render(
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
