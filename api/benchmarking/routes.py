"""JSON API for peer benchmarks and the year-on-year trend (members of that trust only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from api.benchmarking.service import Benchmark, benchmark, trend
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import error_responses
from api.permissions import MemberApi
from api.public import filled
from api.response_cache import keep, lookup

router = APIRouter(prefix="/api/v1", tags=["benchmarks"], responses=error_responses(401, 404, 422))

GroupParam = Annotated[
    Literal["all", "trust_type", "region", "size_band"],
    Query(description="The peer group: all trusts, same broad type, same region or same size band"),
]


class SectionBenchmarkPublic(BaseModel):
    key: str
    title: str
    own: float | None = Field(description="Your board's submitted score (none while a draft)")
    median: float | None
    q1: float | None
    q3: float | None
    quartile: int | None = Field(description="1 (lowest quarter of peers) to 4 (highest); none while a draft")
    suppressed: bool


class BenchmarkPublic(BaseModel):
    group: str
    group_label: str
    peer_count_band: str = Field(description="How many peer trusts, as a band; never an exact count")
    suppressed: bool
    snapshot_at: datetime | None
    precision: float | None = Field(
        description="Figures are rounded to this step: 0.5 with few peers, else 0.1"
    )
    sections: list[SectionBenchmarkPublic]


class TrendPointPublic(BaseModel):
    cycle: str
    own: float | None
    peer_median: float | None
    suppressed: bool


class TrendPublic(BaseModel):
    group: str
    points: list[TrendPointPublic]


@router.get("/assessments/{assessment_id}/benchmark", response_model=BenchmarkPublic)
def get_benchmark(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberApi, group: GroupParam = "all"
) -> Response:
    """Kept in the database by the snapshots it came from (api/response_cache.py): between snapshot
    refreshes a read is one statement after the access check."""
    k = settings.k_anonymity
    assessment_id = access.assessment.id or 0
    found = lookup(session, f"benchmark|{assessment_id}|{group}|{k}", assessment_id)
    if found.body is None:
        body = benchmark_public(benchmark(session, access.assessment, group, k)).model_dump_json()
        keep(session, found, body)
    else:
        body = found.body
    return Response(body, media_type="application/json")


def benchmark_public(result: Benchmark) -> BenchmarkPublic:
    sections = [filled(SectionBenchmarkPublic, s, **_stats(s.stats)) for s in result.sections]
    return filled(BenchmarkPublic, result, sections=sections)


def _stats(stats: object) -> dict[str, object]:
    return {name: getattr(stats, name) for name in ("median", "q1", "q3", "suppressed")}


@router.get("/assessments/{assessment_id}/trend", response_model=TrendPublic)
def get_trend(
    request: Request, session: SessionDep, settings: SettingsDep, access: MemberApi, group: GroupParam = "all"
) -> TrendPublic:
    points = trend(session, access.assessment.organisation_id, group, settings.k_anonymity)
    return TrendPublic(
        group=group,
        points=[
            TrendPointPublic(cycle=p.cycle, own=p.own, peer_median=p.peer_median, suppressed=p.suppressed)
            for p in points
        ],
    )
