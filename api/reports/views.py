"""The same downloads for a signed-in board member (session cookie), linked from the results page.

GET /assessments/{id}/download/board-report.pdf
GET /assessments/{id}/download/workbook.xlsx
GET /assessments/{id}/download/consensus.csv
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.pages import PageDep
from api.permissions import MemberPage
from api.reports.routes import BOARD_REPORT, CONSENSUS_CSV, WORKBOOK, download

router = APIRouter(include_in_schema=False)


@router.get("/assessments/{assessment_id}/download/board-report.pdf", name="download_board_report")
def download_board_report(page: PageDep, access: MemberPage) -> Response:
    return download(page.request, page.session, page.settings, access, BOARD_REPORT)


@router.get("/assessments/{assessment_id}/download/workbook.xlsx", name="download_workbook")
def download_workbook(page: PageDep, access: MemberPage) -> Response:
    return download(page.request, page.session, page.settings, access, WORKBOOK)


@router.get("/assessments/{assessment_id}/download/consensus.csv", name="download_consensus_csv")
def download_consensus_csv(page: PageDep, access: MemberPage) -> Response:
    return download(page.request, page.session, page.settings, access, CONSENSUS_CSV)
