"""Audit log pages and CSV downloads: a trust's log for its chair and secretary, the whole log for admins."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.datastructures import QueryParams
from starlette.responses import Response

from api.audit.repository import (
    KINDS,
    PLATFORM_KINDS,
    Kind,
    LogEntry,
    LogFilters,
    LogPage,
    all_entries,
    log_page,
    platform_log_statement,
    trust_log_statement,
)
from api.audit.service import record
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.db import utcnow
from api.errors import Unprocessable
from api.pages import Page, PageDep
from api.permissions import PlatformAdminPage, TrustLogReaderPage
from api.spreadsheets import safe_cell

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

NO_STORE = {"Cache-Control": "no-store"}
FILTER_FIELDS = ("kind", "from_day", "from_month", "from_year", "to_day", "to_month", "to_year")


# --- Filters -------------------------------------------------------------------------------------


@dataclass
class FilterForm:
    """The filter form as typed (to show it again), what it means, and what is wrong with it."""

    values: dict[str, str]
    filters: LogFilters = field(default_factory=LogFilters)
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, **extra: Any) -> str:
        """The query string for a link that keeps these filters."""
        pairs = {name: value for name, value in self.values.items() if value}
        pairs.update({name: str(value) for name, value in extra.items()})
        return urlencode(pairs)


def _date_from_parts(values: dict[str, str], prefix: str, label: str, errors: dict[str, str]) -> date | None:
    parts = [values[f"{prefix}_{part}"] for part in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(part) for part in parts)
        if year < 1000:
            raise ValueError
        return date(year, month, day)
    except ValueError:
        errors[f"{prefix}_day"] = f"{label} date must be a real date, for example 27 3 2026"
        return None


def read_filters(query: QueryParams, kinds: dict[str, Kind] = KINDS) -> FilterForm:
    values = {name: query.get(name, "").strip() for name in FILTER_FIELDS}
    errors: dict[str, str] = {}
    kind = values["kind"] or None
    if kind is not None and kind not in kinds:
        errors["kind"] = "Select what kind of activity to show"
        kind = None
    date_from = _date_from_parts(values, "from", "From", errors)
    date_to = _date_from_parts(values, "to", "To", errors)
    if date_from and date_to and date_to < date_from:
        errors["to_day"] = "To date must be the same as or after the from date"
    return FilterForm(values, LogFilters(kind, date_from, date_to), errors)


def _page_number(query: QueryParams) -> int:
    value = query.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


# --- Showing entries -----------------------------------------------------------------------------


def _clock(moment: datetime) -> str:
    """NHS style: 9am, 2:05pm, midday, midnight."""
    if moment.minute == 0 and moment.hour in (0, 12):
        return "midnight" if moment.hour == 0 else "midday"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def table_rows(entries: list[LogEntry]) -> list[dict[str, str]]:
    rows = []
    for entry in entries:
        local = entry.local_time
        rows.append(
            {
                "date": _long_date(entry.day),
                "time": _clock(local) if local else "",
                "who": entry.who,
                "what": entry.description,
                "trust": entry.organisation_name or "",
                "client_ip": entry.client_ip or "",
            }
        )
    return rows


def pagination_items(log: LogPage, base_url: str, form: FilterForm) -> list[dict[str, Any]]:
    """Numbered links: first, last, and the pages either side of this one, with gaps between."""
    shown = sorted({1, log.pages, log.page - 1, log.page, log.page + 1} & set(range(1, log.pages + 1)))
    items: list[dict[str, Any]] = []
    for number in shown:
        if items and number > items[-1]["number"] + 1:
            items.append({"ellipsis": True, "number": 0})
        items.append(
            {"number": number, "href": f"{base_url}?{form.query(page=number)}", "current": number == log.page}
        )
    return items


def _render_log(
    page: Page,
    *,
    form: FilterForm,
    log: LogPage | None,
    base_url: str,
    heading: str,
    caption: str | None,
    show_trust: bool,
    kinds: dict[str, Kind] = KINDS,
) -> Response:
    context: dict[str, Any] = {
        "page_title": heading,
        "heading": heading,
        "caption": caption,
        "show_trust": show_trust,
        # Where failed sign-ins came from, for platform admins looking for someone guessing.
        "show_address": show_trust and form.filters.kind == "failed_sign_ins",
        "form": form,
        "values": form.values,
        "errors": form.errors,
        "error_summary": bool(form.errors),
        "kind_items": [{"value": "", "text": "All activity"}]
        + [{"value": key, "text": kind.label} for key, kind in kinds.items()],
        "base_url": base_url,
        "csv_url": f"{base_url}.csv" + (f"?{form.query()}" if form.query() else ""),
        "log": log,
        "rows": table_rows(log.entries) if log else [],
    }
    if log and log.pages > 1:
        context["pagination"] = {
            "items": pagination_items(log, base_url, form),
            "previous": {"href": f"{base_url}?{form.query(page=log.page - 1)}"} if log.page > 1 else {},
            "next": {"href": f"{base_url}?{form.query(page=log.page + 1)}"} if log.page < log.pages else {},
        }
    status_code = 422 if form.errors else 200
    response = page.render("audit/log.html", context, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


# --- CSV -----------------------------------------------------------------------------------------

TRUST_COLUMNS = ["Date", "Time (UK)", "Who", "Email", "Action", "What happened"]
PLATFORM_COLUMNS = [
    "Date",
    "Time (UK)",
    "Trust",
    "Who",
    "Email",
    "Action",
    "What happened",
    "Summary as recorded",
    "Client address",
]


def _csv_row(entry: LogEntry, *, platform: bool) -> list[Any]:
    local = entry.local_time
    cells: list[Any] = [entry.day.isoformat(), local.strftime("%H:%M") if local else ""]
    if platform:
        cells.append(entry.organisation_name or "")
    cells += [entry.who, entry.actor_email or "", entry.action, entry.description]
    if platform:
        cells += [entry.summary, entry.client_ip or ""]
    return [safe_cell(cell) for cell in cells]


def csv_download(entries: list[LogEntry], filename: str, *, platform: bool) -> Response:
    buffer = io.StringIO()
    # A byte order mark, so Excel reads names with accents as UTF-8.
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(PLATFORM_COLUMNS if platform else TRUST_COLUMNS)
    writer.writerows(_csv_row(entry, platform=platform) for entry in entries)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


def _export_details(form: FilterForm, rows: int) -> dict[str, Any]:
    filters = form.filters
    return {
        "export": "audit_log",
        "rows": rows,
        "kind": filters.kind,
        "from": filters.date_from.isoformat() if filters.date_from else None,
        "to": filters.date_to.isoformat() if filters.date_to else None,
    }


def _valid_filters(page: Page, kinds: dict[str, Kind] = KINDS) -> FilterForm:
    form = read_filters(page.request.query_params, kinds)
    if form.errors:
        raise Unprocessable(" ".join(form.errors.values()))
    return form


# --- Routes --------------------------------------------------------------------------------------


@router.get("/trusts/{ods_code}/audit", name="trust_audit_log_page")
def trust_audit_log(page: PageDep, access: TrustLogReaderPage) -> Response:
    form = read_filters(page.request.query_params)
    organisation = access.organisation
    log = None
    if not form.errors:
        statement = trust_log_statement(page.session, organisation.id, form.filters, access.principal.user.id)  # type: ignore[arg-type]
        log = log_page(page.session, statement, _page_number(page.request.query_params))
    return _render_log(
        page,
        form=form,
        log=log,
        base_url=page.path("trust_audit_log_page", ods_code=organisation.ods_code),
        heading="Audit log",
        caption=organisation.name,
        show_trust=False,
    )


@router.get("/trusts/{ods_code}/audit.csv", name="trust_audit_log_csv")
def trust_audit_log_csv(page: PageDep, access: TrustLogReaderPage) -> Response:
    form = _valid_filters(page)
    organisation = access.organisation
    entries = all_entries(
        page.session,
        trust_log_statement(page.session, organisation.id, form.filters, access.principal.user.id),  # type: ignore[arg-type]
    )
    record(
        page.session,
        "export.downloaded",
        actor=access.principal.user,
        organisation_id=organisation.id,
        object_type="audit_log",
        summary="Downloaded the audit log as a CSV file",
        details=_export_details(form, len(entries)),
        client_ip=client_ip(page.request),
    )
    filename = f"audit-log-{organisation.ods_code}-{utcnow():%Y-%m-%d}.csv"
    return csv_download(entries, filename, platform=False)


@router.get("/admin/audit", name="admin_audit_log_page")
def admin_audit_log(page: PageDep, principal: PlatformAdminPage) -> Response:
    form = read_filters(page.request.query_params, PLATFORM_KINDS)
    log = None
    if not form.errors:
        statement = platform_log_statement(page.session, form.filters)
        log = log_page(page.session, statement, _page_number(page.request.query_params))
    return _render_log(
        page,
        form=form,
        log=log,
        base_url=page.path("admin_audit_log_page"),
        heading="Audit log for all trusts",
        caption=None,
        show_trust=True,
        kinds=PLATFORM_KINDS,
    )


@router.get("/admin/audit.csv", name="admin_audit_log_csv")
def admin_audit_log_csv(page: PageDep, principal: PlatformAdminPage) -> Response:
    form = _valid_filters(page, PLATFORM_KINDS)
    entries = all_entries(page.session, platform_log_statement(page.session, form.filters))
    record(
        page.session,
        "export.downloaded",
        actor=principal.user,
        object_type="audit_log",
        summary="Downloaded the audit log for all trusts as a CSV file",
        details=_export_details(form, len(entries)),
        client_ip=client_ip(page.request),
    )
    return csv_download(entries, f"audit-log-all-trusts-{utcnow():%Y-%m-%d}.csv", platform=True)
