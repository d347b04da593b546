"""The sector heatmap page for analysts: priority × peer group, headline figures beside 2022."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session, select
from starlette.responses import Response

from api.assessments.cycles import closed_on
from api.assessments.models import Cycle
from api.errors import NotFound
from api.pages import Page, PageDep
from api.permissions import AnalystPage
from api.sector.publication import Publication, load_publication
from api.sector.publication_pdf import build_pdf
from api.sector.routes import csv_download, export_download, xlsx_download
from api.sector.service import (
    BASELINE_2022,
    BASELINE_2022_RESPONSES,
    BY_OPTIONS,
    ROLE_MINIMUM,
    ROLE_MIX_2022,
    headlines,
    heatmap,
)

router = APIRouter(include_in_schema=False)


def heat_step(score: float | None) -> int:
    """Which of the four colour steps (app.css .app-heat-0 to -3) a median falls in."""
    return 0 if score is None else min(3, int(score))


def _chosen(session: Session, cycle: str | None) -> tuple[list[Cycle], Cycle]:
    cycles = list(session.exec(select(Cycle).order_by(Cycle.opens_on.desc())).all())  # type: ignore[attr-defined]
    if not cycles:
        raise NotFound("No assessment cycles yet")
    chosen = next((c for c in cycles if c.name == cycle), None) if cycle else cycles[0]
    if chosen is None:
        raise NotFound(f"There is no {cycle} cycle")
    return cycles, chosen


@dataclass
class SectorQuery:
    """The page's choices in its query string: a cycle (the latest when none) and a breakdown."""

    cycle: str | None = None
    by: str = "trust_type"


SectorQueryDep = Annotated[SectorQuery, Depends()]


def _publication(page: Page, query: SectorQuery) -> Publication:
    _cycles, chosen = _chosen(page.session, query.cycle)
    by = query.by if query.by in BY_OPTIONS else "trust_type"
    return load_publication(page.session, chosen, by, page.settings.k_anonymity)


@router.get("/sector/heatmap.csv", name="sector_csv")
def sector_csv(page: PageDep, analyst: AnalystPage, query: SectorQueryDep) -> Response:
    """The page's CSV download, with the browser session (the same file as the API's)."""
    return csv_download(page.session, _publication(page, query), analyst.user)


@router.get("/sector/heatmap.xlsx", name="sector_xlsx")
def sector_xlsx(page: PageDep, analyst: AnalystPage, query: SectorQueryDep) -> Response:
    return xlsx_download(page.session, _publication(page, query), analyst.user)


@router.get("/sector/report.pdf", name="sector_pdf")
def sector_pdf(page: PageDep, analyst: AnalystPage, query: SectorQueryDep) -> Response:
    """The "state of the sector" report, A4, audited as every download."""
    publication = _publication(page, query)
    content = build_pdf(publication)
    return export_download(
        page.session, publication, analyst.user, title="State of the sector", kind="pdf", content=content
    )


@router.get("/sector", name="sector_heatmap")
def sector_page(page: PageDep, analyst: AnalystPage, query: SectorQueryDep) -> Response:
    cycles, chosen = _chosen(page.session, query.cycle)
    by = query.by if query.by in BY_OPTIONS else "trust_type"
    k = page.settings.k_anonymity
    result = heatmap(page.session, chosen, by, k)
    return page.render(
        "sector/heatmap.html",
        {
            "page_title": f"Sector view {chosen.name}",
            "cycles": cycles,
            "cycle": chosen,
            "by": by,
            "by_options": BY_OPTIONS,
            "heatmap": result,
            "headlines": headlines(page.session, chosen, k),
            "baseline": BASELINE_2022,
            "baseline_responses": BASELINE_2022_RESPONSES,
            "role_mix": ROLE_MIX_2022,
            "closed_on": closed_on(chosen),
            "heat_step": heat_step,
            "k": k,
            "role_minimum": ROLE_MINIMUM,
        },
    )
