"""JSON of the sector heatmap; CSV and XLSX of every sector figure (sector analysts and platform admins only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.responses import Response

from api.assessments.models import Cycle
from api.assessments.repository import cycle_by_name
from api.audit.service import record
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import FieldError, error_responses
from api.permissions import AnalystApi
from api.public import filled
from api.response_cache import keep, lookup
from api.sector.publication import Publication, csv_text, filename, load_publication, xlsx_bytes
from api.sector.publication_pdf import MEDIA_TYPE as PDF_TYPE
from api.sector.service import Heatmap, heatmap
from api.settings import Settings

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE, "pdf": PDF_TYPE}

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


def cycle_named(session: SessionDep, cycle_name: str) -> Cycle:
    """The cycle the query names; an unknown one is the query's 422."""
    cycle: Cycle | None = cycle_by_name(session, cycle_name)
    if cycle is None:
        raise FieldError("cycle", f"There is no {cycle_name} cycle", "query")
    return cycle


def heatmap_public(result: Heatmap) -> HeatmapPublic:
    return filled(
        HeatmapPublic,
        result,
        rows=[RowPublic(key=k, title=t) for k, t in result.rows],
        columns=[filled(ColumnPublic, c, participation_percent=c.participation) for c in result.columns],
        cells=[filled(CellPublic, c, n=c.n_band, suppression=c.reason) for c in result.cells],
    )


@dataclass
class SectorQueryApi:
    """The sector answers' query: the cycle (required) and the kind of peer group for the columns."""

    cycle: CycleParam
    by: ByParam = "trust_type"


SectorQueryApiDep = Annotated[SectorQueryApi, Depends()]


@router.get("/heatmap", response_model=HeatmapPublic)
def get_heatmap(
    session: SessionDep, settings: SettingsDep, analyst: AnalystApi, query: SectorQueryApiDep
) -> Response:
    """Kept in the database by the snapshots it came from (api/response_cache.py): between snapshot
    refreshes a read is one statement after the access check. The same for every analyst."""
    k = settings.k_anonymity
    found = lookup(session, f"heatmap|{query.cycle}|{query.by}|{k}")
    if found.body is None:
        body = heatmap_public(
            heatmap(session, cycle_named(session, query.cycle), query.by, k)
        ).model_dump_json()
        keep(session, found, body)
    else:
        body = found.body
    return Response(body, media_type="application/json")


def export_download(
    session: SessionDep,
    publication: Publication,
    actor: object,
    *,
    title: str,
    kind: str,
    content: str | bytes,
) -> Response:
    """A sector download (CSV, XLSX or PDF), audited: the API's and the page's are the same file."""
    record(
        session,
        "export.downloaded",
        actor=actor,
        summary=f"{title} {publication.cycle.name} by {publication.heatmap.by} ({kind.upper()})",
    )
    return Response(
        content,
        media_type=MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{filename(publication, kind)}"'},
    )


def csv_download(session: SessionDep, publication: Publication, actor: object) -> Response:
    return export_download(
        session, publication, actor, title="Sector figures", kind="csv", content=csv_text(publication)
    )


def xlsx_download(session: SessionDep, publication: Publication, actor: object) -> Response:
    return export_download(
        session, publication, actor, title="Sector figures", kind="xlsx", content=xlsx_bytes(publication)
    )


def _publication(session: SessionDep, settings: Settings, query: SectorQueryApi) -> Publication:
    return load_publication(session, cycle_named(session, query.cycle), query.by, settings.k_anonymity)


@router.get("/heatmap.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_heatmap_csv(
    session: SessionDep, settings: SettingsDep, analyst: AnalystApi, query: SectorQueryApiDep
) -> Response:
    """Every figure of the sector view (heatmap, participation, headline figures, role view)."""
    return csv_download(session, _publication(session, settings, query), analyst.user)


@router.get("/heatmap.xlsx", response_class=Response, responses={200: {"content": {XLSX_TYPE: {}}}})
def get_heatmap_xlsx(
    session: SessionDep, settings: SettingsDep, analyst: AnalystApi, query: SectorQueryApiDep
) -> Response:
    return xlsx_download(session, _publication(session, settings, query), analyst.user)
