"""JSON API for the audit log: a trust's log for its chair and secretary, the whole log for admins."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.audit.repository import (
    KINDS,
    PER_PAGE,
    PLATFORM_KINDS,
    LogEntry,
    LogFilters,
    LogPage,
    log_page,
    platform_log_statement,
    trust_log_statement,
)
from api.db import SessionDep
from api.errors import FieldError, error_responses
from api.permissions import PlatformAdminApi, TrustLogReaderApi

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=error_responses(401, 403, 404, 422))

KindParam = Literal[tuple(KINDS)]  # type: ignore[valid-type]
PlatformKindParam = Literal[tuple(PLATFORM_KINDS)]  # type: ignore[valid-type]


class AuditActor(BaseModel):
    name: str
    email: str


class AuditEntryPublic(BaseModel):
    id: int | None = Field(description="None on a day's count of members' own-rating updates")
    occurred_at: datetime | None = Field(description="None on a day's count: the time is not shown")
    date: dt.date = Field(description="The UK date")
    action: str
    description: str = Field(description="What happened, in plain English")
    actor: AuditActor | None
    organisation: str | None
    summary: str
    details: dict[str, Any]
    count: int | None = Field(description="On a day's count: how many own-rating updates board members made")


class AdminAuditEntryPublic(AuditEntryPublic):
    client_ip: str | None


class AuditLogPublic(BaseModel):
    items: list[AuditEntryPublic]
    page: int
    per_page: int = PER_PAGE
    total: int
    pages: int


class AdminAuditLogPublic(AuditLogPublic):
    items: list[AdminAuditEntryPublic]  # type: ignore[assignment]


def _filters(kind: str | None, date_from: date | None, date_to: date | None) -> LogFilters:
    if date_from and date_to and date_to < date_from:
        raise FieldError("date_to", "date_to must be the same as or after date_from", "query")
    return LogFilters(kind, date_from, date_to)


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.event_id,
        "occurred_at": entry.occurred_at,
        "date": entry.day,
        "action": entry.action,
        "description": entry.description,
        "actor": {"name": entry.who, "email": entry.actor_email} if entry.actor_email else None,
        "organisation": entry.organisation_name,
        "summary": entry.summary,
        "details": entry.details,
        "count": entry.updates,
        "client_ip": entry.client_ip,
    }


def _page(log: LogPage) -> dict[str, Any]:
    return {
        "items": [_entry(entry) for entry in log.entries],
        "page": log.page,
        "total": log.total,
        "pages": log.pages,
    }


@router.get("/organisations/{ods_code}/audit", response_model=AuditLogPublic)
def trust_audit_log(
    session: SessionDep,
    access: TrustLogReaderApi,
    kind: Annotated[
        KindParam | None, Query(description="Sign-ins, membership, assessment or exports")
    ] = None,
    date_from: Annotated[date | None, Query(description="From this UK date")] = None,
    date_to: Annotated[date | None, Query(description="To this UK date, inclusive")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> dict[str, Any]:
    """The trust's log, newest first, 50 a page. Members' own-rating updates are counted per day,
    without who or when: each member's ratings are confidential. Sign-ins are the reader's own only."""
    statement = trust_log_statement(
        session,
        access.organisation.id,  # type: ignore[arg-type]
        _filters(kind, date_from, date_to),
        access.principal.user.id,  # type: ignore[arg-type]
    )
    return _page(log_page(session, statement, page))


@router.get("/admin/audit", response_model=AdminAuditLogPublic)
def admin_audit_log(
    session: SessionDep,
    principal: PlatformAdminApi,
    kind: Annotated[
        PlatformKindParam | None,
        Query(description="Sign-ins, membership, assessment, exports or failed sign-ins"),
    ] = None,
    date_from: Annotated[date | None, Query(description="From this UK date")] = None,
    date_to: Annotated[date | None, Query(description="To this UK date, inclusive")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> dict[str, Any]:
    """Every trust's log and every account event, newest first, 50 a page, as recorded."""
    statement = platform_log_statement(session, _filters(kind, date_from, date_to))
    return _page(log_page(session, statement, page))
