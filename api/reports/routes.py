"""Downloads of a trust's assessment through the JSON API (bearer token; any member of that trust).

GET /api/v1/assessments/{id}/export.xlsx   the workbook
GET /api/v1/assessments/{id}/export.csv    the consensus ratings
GET /api/v1/assessments/{id}/report.pdf    the board report

Another trust's assessment answers 404 (never 403), as every assessment route does. Each download
records an `export.downloaded` audit event in the request's transaction, and is sent with
Cache-Control: private, no-store so no shared cache keeps a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import Response

from api.audit.service import record
from api.client_ip import client_ip
from api.db import SessionDep
from api.errors import error_responses
from api.permissions import AssessmentAccess, MemberApi
from api.reports import csv_export, pdf, workbook
from api.reports.subject import Subject, load_subject

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=error_responses(401, 404, 422))


@dataclass(frozen=True)
class ExportKind:
    key: str
    label: str
    file_stem: str
    extension: str
    media_type: str
    build: Callable[[Session, Subject], bytes]


WORKBOOK = ExportKind(
    "workbook", "Workbook", "workbook", "xlsx", workbook.MEDIA_TYPE, workbook.build_workbook
)
CONSENSUS_CSV = ExportKind(
    "consensus_csv", "Consensus ratings", "consensus", "csv", csv_export.MEDIA_TYPE, csv_export.build_csv
)
BOARD_REPORT = ExportKind(
    "board_report", "Board report", "board-report", "pdf", pdf.MEDIA_TYPE, pdf.build_pdf
)


def download(request: Request, session: Session, access: AssessmentAccess, kind: ExportKind) -> Response:
    """Build the file, record who downloaded what (same transaction), and send it as an attachment."""
    subject = load_subject(
        session, access.assessment, request.app.state.settings.k_anonymity, access.principal.user.id
    )
    body = kind.build(session, subject)
    filename = subject.filename(kind.file_stem, kind.extension)
    record(
        session,
        "export.downloaded",
        actor=access.principal.user,
        organisation_id=access.assessment.organisation_id,
        object_type="assessment",
        object_id=access.assessment.id,
        summary=f"Downloaded the {kind.label.lower()} ({kind.extension.upper()}) for {subject.cycle.name}",
        details={
            "kind": kind.key,
            "format": kind.extension,
            "cycle": subject.cycle.name,
            "filename": filename,
        },
        client_ip=client_ip(request),
    )
    return Response(
        body,
        media_type=kind.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


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
def export_workbook(request: Request, session: SessionDep, access: MemberApi) -> Response:
    """Scores, consensus, the anonymous rating spread, evidence, benchmarks, the action plan and the
    framework version, one sheet each."""
    return download(request, session, access, WORKBOOK)


@router.get(
    "/assessments/{assessment_id}/export.csv",
    response_class=Response,
    responses=_file_response("text/csv", "One row per criterion, the framework key and version on each"),
)
def export_consensus_csv(request: Request, session: SessionDep, access: MemberApi) -> Response:
    """The board's agreed ratings with rationale, the framework key and version on every row."""
    return download(request, session, access, CONSENSUS_CSV)


@router.get(
    "/assessments/{assessment_id}/report.pdf",
    response_class=Response,
    responses=_file_response(pdf.MEDIA_TYPE, "The board report, A4"),
)
def board_report(request: Request, session: SessionDep, access: MemberApi) -> Response:
    """The board report: summary, section scores, peer comparison, perception gap, trend, action
    plan, BAF risk and methods."""
    return download(request, session, access, BOARD_REPORT)
