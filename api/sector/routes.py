"""JSON, CSV and XLSX of the sector heatmap (sector analysts and platform admins only)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from openpyxl import Workbook
from pydantic import BaseModel
from starlette.responses import Response

from api.assessments.models import Cycle
from api.assessments.repository import cycle_by_name
from api.audit.service import record
from api.db import SessionDep
from api.deps import Principal, platform_role
from api.errors import FieldError, error_responses
from api.sector.service import Heatmap, heatmap
from api.spreadsheets import safe_cell

router = APIRouter(
    prefix="/api/v1/sector",
    tags=["sector"],
    responses=error_responses(
        401, described={403: "Only sector analysts and platform admins", 422: "No such cycle, or not valid"}
    ),
)

Analyst = Annotated[Principal, Depends(platform_role("sector_analyst", "platform_admin"))]
ByParam = Annotated[
    Literal["trust_type", "region", "size_band"], Query(description="Columns: peer groups of this kind")
]
CycleParam = Annotated[str, Query(pattern=r"^\d{4}/\d{2}$", description="The financial year, like 2026/27")]


class RowPublic(BaseModel):
    key: str
    title: str


class ColumnPublic(BaseModel):
    key: str
    label: str
    trusts: int
    submitted_band: str
    participation_percent: int | None


class CellPublic(BaseModel):
    section: str
    group: str
    n: str | None
    median: float | None
    q1: float | None
    q3: float | None
    change: float | None
    suppressed: bool
    suppression: str | None


class HeatmapPublic(BaseModel):
    cycle: str
    by: str
    previous_cycle: str | None
    snapshot_at: datetime | None
    rows: list[RowPublic]
    columns: list[ColumnPublic]
    cells: list[CellPublic]


def load_heatmap(request: Request, session: SessionDep, cycle_name: str, by: str) -> Heatmap:
    cycle: Cycle | None = cycle_by_name(session, cycle_name)
    if cycle is None:
        raise FieldError("cycle", f"There is no {cycle_name} cycle", "query")
    return heatmap(session, cycle, by, request.app.state.settings.k_anonymity)


def heatmap_public(result: Heatmap) -> HeatmapPublic:
    return HeatmapPublic(
        cycle=result.cycle,
        by=result.by,
        previous_cycle=result.previous_cycle,
        snapshot_at=result.snapshot_at,  # type: ignore[arg-type]
        rows=[RowPublic(key=k, title=t) for k, t in result.rows],
        columns=[
            ColumnPublic(
                key=c.key,
                label=c.label,
                trusts=c.trusts,
                submitted_band=c.submitted_band,
                participation_percent=c.participation,
            )
            for c in result.columns
        ],
        cells=[
            CellPublic(
                section=c.section,
                group=c.group,
                n=c.n_band,
                median=c.median,
                q1=c.q1,
                q3=c.q3,
                change=c.change,
                suppressed=c.suppressed,
                suppression=c.reason,
            )
            for c in result.cells
        ],
    )


def heatmap_table(result: Heatmap) -> list[list[object]]:
    """One row per section × group, as the CSV and the spreadsheet show it."""
    titles = dict(result.rows)
    labels = {c.key: c.label for c in result.columns}
    table: list[list[object]] = [
        [
            "Cycle",
            "Section",
            "Peer group",
            "Trusts contributing",
            "Median",
            "Lower quartile",
            "Upper quartile",
            "Change since last cycle",
            "Suppressed",
        ]
    ]
    for cell in result.cells:
        table.append(
            [
                result.cycle,
                titles[cell.section],
                labels[cell.group],
                cell.n_band or "",
                cell.median,
                cell.q1,
                cell.q3,
                cell.change,
                "yes" if cell.suppressed else "no",
            ]
        )
    return table


@router.get("/heatmap", response_model=HeatmapPublic)
def get_heatmap(
    request: Request, session: SessionDep, analyst: Analyst, cycle: CycleParam, by: ByParam = "trust_type"
) -> HeatmapPublic:
    return heatmap_public(load_heatmap(request, session, cycle, by))


def _filename(result: Heatmap, extension: str) -> str:
    return f"sector-heatmap-{result.cycle.replace('/', '-')}-by-{result.by}.{extension}"


@router.get("/heatmap.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_heatmap_csv(
    request: Request, session: SessionDep, analyst: Analyst, cycle: CycleParam, by: ByParam = "trust_type"
) -> Response:
    result = load_heatmap(request, session, cycle, by)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in heatmap_table(result):
        writer.writerow([safe_cell(v) if v is not None else "" for v in row])
    record(session, "export.downloaded", actor=analyst.user, summary=f"Sector heatmap {cycle} by {by} (CSV)")
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(result, "csv")}"'},
    )


@router.get(
    "/heatmap.xlsx",
    response_class=Response,
    responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}},
)
def get_heatmap_xlsx(
    request: Request, session: SessionDep, analyst: Analyst, cycle: CycleParam, by: ByParam = "trust_type"
) -> Response:
    result = load_heatmap(request, session, cycle, by)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Heatmap"
    for row in heatmap_table(result):
        sheet.append([safe_cell(v) for v in row])
    notes = workbook.create_sheet("About")
    for line in (
        ["Sector heatmap", f"{result.cycle}, columns by {result.by.replace('_', ' ')}"],
        ["Source", "Submitted board self-assessments, from the batch snapshot of each peer group"],
        [
            "Suppression",
            "Cells with fewer than K trusts are suppressed; where one cell in a row is, the next-smallest is too",
        ],
        ["Counts", "Shown as bands, never exact"],
    ):
        notes.append(line)
    output = io.BytesIO()
    workbook.save(output)
    record(session, "export.downloaded", actor=analyst.user, summary=f"Sector heatmap {cycle} by {by} (XLSX)")
    return Response(
        output.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(result, "xlsx")}"'},
    )
