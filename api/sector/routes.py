"""JSON of the sector heatmap; CSV and XLSX of every sector figure (sector analysts and platform admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from api.assessments.models import Cycle
from api.assessments.repository import cycle_by_name
from api.audit.service import record
from api.db import SessionDep
from api.errors import FieldError, error_responses
from api.permissions import AnalystApi
from api.response_cache import keep, lookup
from api.sector.publication import Publication, csv_text, filename, load_publication, xlsx_bytes
from api.sector.service import Heatmap, heatmap

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(
    prefix="/api/v1/sector",
    tags=["sector"],
    responses=error_responses(
        401, described={403: "Only sector analysts and platform admins", 422: "No such cycle, or not valid"}
    ),
)

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


@router.get("/heatmap", response_model=HeatmapPublic)
def get_heatmap(
    request: Request, session: SessionDep, analyst: AnalystApi, cycle: CycleParam, by: ByParam = "trust_type"
) -> Response:
    """Kept in the database by the snapshots it came from (api/response_cache.py): between snapshot
    refreshes a read is one statement after the access check. The same for every analyst."""
    found = lookup(session, f"heatmap|{cycle}|{by}|{request.app.state.settings.k_anonymity}")
    if found.body is None:
        body = heatmap_public(load_heatmap(request, session, cycle, by)).model_dump_json()
        keep(session, found, body)
    else:
        body = found.body
    return Response(body, media_type="application/json")


def load_publication_named(request: Request, session: SessionDep, cycle_name: str, by: str) -> Publication:
    cycle: Cycle | None = cycle_by_name(session, cycle_name)
    if cycle is None:
        raise FieldError("cycle", f"There is no {cycle_name} cycle", "query")
    return load_publication(session, cycle, by, request.app.state.settings.k_anonymity)


def csv_download(session: SessionDep, publication: Publication, actor: object) -> Response:
    """The CSV download, audited: the API's and the page's are the same file."""
    record(
        session,
        "export.downloaded",
        actor=actor,
        summary=f"Sector figures {publication.cycle.name} by {publication.heatmap.by} (CSV)",
    )
    return Response(
        csv_text(publication),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename(publication, "csv")}"'},
    )


def xlsx_download(session: SessionDep, publication: Publication, actor: object) -> Response:
    record(
        session,
        "export.downloaded",
        actor=actor,
        summary=f"Sector figures {publication.cycle.name} by {publication.heatmap.by} (XLSX)",
    )
    return Response(
        xlsx_bytes(publication),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename(publication, "xlsx")}"'},
    )


@router.get("/heatmap.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_heatmap_csv(
    request: Request, session: SessionDep, analyst: AnalystApi, cycle: CycleParam, by: ByParam = "trust_type"
) -> Response:
    """Every figure of the sector view (heatmap, participation, headline figures, role view)."""
    return csv_download(session, load_publication_named(request, session, cycle, by), analyst.user)


@router.get("/heatmap.xlsx", response_class=Response, responses={200: {"content": {XLSX_TYPE: {}}}})
def get_heatmap_xlsx(
    request: Request, session: SessionDep, analyst: AnalystApi, cycle: CycleParam, by: ByParam = "trust_type"
) -> Response:
    return xlsx_download(session, load_publication_named(request, session, cycle, by), analyst.user)
