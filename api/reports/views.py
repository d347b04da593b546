"""The same downloads for a signed-in board member (session cookie), linked from the results page.

GET /assessments/{id}/download/board-report.pdf
GET /assessments/{id}/download/workbook.xlsx
GET /assessments/{id}/download/consensus.csv
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.db import SessionDep
from api.deps import SettingsDep
from api.permissions import MemberPage
from api.reports.routes import BOARD_REPORT, CONSENSUS_CSV, WORKBOOK, download

router = APIRouter(include_in_schema=False)


@router.get("/assessments/{assessment_id}/download/board-report.pdf", name="download_board_report")
def download_board_report(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberPage
) -> Response:
    return download(request, session, settings, access, BOARD_REPORT)


@router.get("/assessments/{assessment_id}/download/workbook.xlsx", name="download_workbook")
def download_workbook(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberPage
) -> Response:
    return download(request, session, settings, access, WORKBOOK)


@router.get("/assessments/{assessment_id}/download/consensus.csv", name="download_consensus_csv")
def download_consensus_csv(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberPage
) -> Response:
    return download(request, session, settings, access, CONSENSUS_CSV)
