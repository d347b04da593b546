"""Downloads of a trust's assessment through the JSON API (bearer token; any member of that trust).

GET /api/v1/assessments/{id}/export.xlsx   the workbook
GET /api/v1/assessments/{id}/export.csv    the consensus ratings
GET /api/v1/assessments/{id}/report.pdf    the board report

Another trust's assessment answers 404 (never 403), as every assessment route does. Each download
records an `export.downloaded` audit event in the request's transaction, and is sent with
Cache-Control: private, no-store so no shared cache keeps a copy.

The board report and the workbook are rendered in the export process pool (rendering.py) and
kept in the database under a key of everything they show (cache.py): a repeated download of an
unchanged assessment is a read. One export renders at a time per person: a second answers 429.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import PlainTextResponse, Response

from api.audit.service import record_about
from api.client_ip import client_ip
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import DomainError, error_responses
from api.permissions import AssessmentAccess, MemberApi
from api.reports import csv_export, pdf, workbook
from api.reports.cache import ExportKey, cached_body, export_key, release_lock, store, take_lock
from api.reports.subject import Subject, load_subject
from api.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=error_responses(401, 404, 422, 429))


@dataclass(frozen=True)
class ExportKind:
    key: str
    label: str
    file_stem: str
    extension: str
    media_type: str
    # A cheap file (CSV) is built in the request. A heavy one reads what it shows in the request
    # (`gather`, plain values) and is rendered in the export process pool (`render`), once per key.
    build: Callable[[Session, Subject], bytes] | None = None
    gather: Callable[[Session, Subject], Any] | None = None
    render: Callable[[Any], bytes] | None = None


WORKBOOK = ExportKind(
    "workbook",
    "Workbook",
    "workbook",
    "xlsx",
    workbook.MEDIA_TYPE,
    gather=workbook.workbook_data,
    render=workbook.render_workbook,
)
CONSENSUS_CSV = ExportKind(
    "consensus_csv",
    "Consensus ratings",
    "consensus",
    "csv",
    csv_export.MEDIA_TYPE,
    build=csv_export.build_csv,
)
BOARD_REPORT = ExportKind(
    "board_report",
    "Board report",
    "board-report",
    "pdf",
    pdf.MEDIA_TYPE,
    gather=pdf.render_html,
    render=pdf.html_to_pdf,
)

# A render usually takes a second or two; ask a second export to wait a little longer than that.
RETRY_AFTER_SECONDS = 5


class ExportInProgress(DomainError):
    """This person already has an export rendering (on any instance of the service)."""

    status_code = 429
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _attachment(body: bytes, kind: ExportKind, filename: str) -> Response:
    return Response(
        body,
        media_type=kind.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


class RenderedAttachment(Response):
    """The answer to a download that has to be rendered: the request's transaction (the audit
    event and the person's export lock) is committed when the route returns, before this runs;
    then the file is rendered in the export process pool, kept under its key, the lock let go, and
    the file sent. Nothing here holds a database connection or a place at the connection gate
    while the file renders."""

    def __init__(
        self,
        state: Any,
        kind: ExportKind,
        payload: Any,
        key: ExportKey,
        user_id: int,
        token: str,
        filename: str,
    ) -> None:
        super().__init__(status_code=200)
        self.state, self.kind, self.payload, self.key = state, kind, payload, key
        self.user_id, self.token, self.filename = user_id, token, filename

    def _finish(self, body: bytes | None) -> None:
        with Session(self.state.engine) as session:
            if body is not None and self.state.settings.export_cache:
                store(session, self.key, body)
            release_lock(session, self.user_id, self.token)
            session.commit()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.kind.render is not None
        body: bytes | None = None
        try:
            body = await self.state.render_pool.run(self.kind.render, self.payload)
        except Exception:
            logger.exception("export.render_failed", extra={"kind": self.kind.key})
        finally:
            async with self.state.connection_gate.semaphore():
                await to_thread.run_sync(self._finish, body)
        if body is None:
            response: Response = PlainTextResponse(
                "Sorry, there is a problem with the service. Try again later.", status_code=500
            )
        else:
            response = _attachment(body, self.kind, self.filename)
        await response(scope, receive, send)


def download(
    request: Request, session: Session, settings: Settings, access: AssessmentAccess, kind: ExportKind
) -> Response:
    """Record who downloaded what (same transaction), and send the file as an attachment: built
    here (CSV), read from the rendered files kept in the database, or rendered in the export
    process pool, one at a time per person (a second answers 429 with Retry-After)."""
    user_id = access.principal.user.id or 0
    subject = load_subject(session, access.assessment, settings.k_anonymity, user_id)
    filename = subject.filename(kind.file_stem, kind.extension)
    record_about(
        session,
        "export.downloaded",
        access.assessment,
        f"Downloaded the {kind.label.lower()} ({kind.extension.upper()}) for {subject.cycle.name}",
        actor=access.principal.user,
        details={
            "kind": kind.key,
            "format": kind.extension,
            "cycle": subject.cycle.name,
            "filename": filename,
        },
        client_ip=client_ip(request),
    )
    if kind.build is not None:
        return _attachment(kind.build(session, subject), kind, filename)
    assert kind.gather is not None
    key = export_key(session, subject, kind.key)
    body = cached_body(session, key) if settings.export_cache else None
    if body is not None:
        return _attachment(body, kind, filename)
    token = take_lock(session, user_id, timedelta(seconds=settings.export_lock_seconds))
    if token is None:
        raise ExportInProgress("Your report is being prepared. Wait a few seconds and try again.")
    payload = kind.gather(session, subject)
    return RenderedAttachment(request.app.state, kind, payload, key, user_id, token, filename)


def _file_response(media_type: str, description: str) -> dict[int | str, dict[str, object]]:
    return {
        200: {"content": {media_type: {}}, "description": description},
        **error_responses(described={404: "No assessment with that id among your boards"}),
    }


@router.get(
    "/assessments/{assessment_id}/export.xlsx",
    response_class=Response,
    responses=_file_response(workbook.MEDIA_TYPE, "The workbook: one sheet per part of the assessment"),
)
def export_workbook(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberApi
) -> Response:
    """Scores, consensus, the anonymous rating spread, evidence, benchmarks, the action plan and the
    framework version, one sheet each."""
    return download(request, session, settings, access, WORKBOOK)


@router.get(
    "/assessments/{assessment_id}/export.csv",
    response_class=Response,
    responses=_file_response("text/csv", "One row per criterion, the framework key and version on each"),
)
def export_consensus_csv(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberApi
) -> Response:
    """The board's agreed ratings with rationale, the framework key and version on every row."""
    return download(request, session, settings, access, CONSENSUS_CSV)


@router.get(
    "/assessments/{assessment_id}/report.pdf",
    response_class=Response,
    responses=_file_response(pdf.MEDIA_TYPE, "The board report, A4"),
)
def board_report(request: Request, session: SessionDep, settings: SettingsDep, access: MemberApi) -> Response:
    """The board report: summary, section scores, peer comparison, perception gap, trend, action
    plan, BAF risk and methods."""
    return download(request, session, settings, access, BOARD_REPORT)
