"""The benchmark page: one chart per peer group, with a table beside it, and the trend over years."""

from __future__ import annotations

from fastapi import APIRouter
from markupsafe import Markup
from starlette.responses import Response

from api.assessments.models import Cycle
from api.benchmarking.groups import GROUP_KIND_NAMES, GROUP_KINDS
from api.benchmarking.service import benchmark, trend
from api.charts import TrendPoint, peer_chart, trend_chart
from api.pages import PageDep
from api.permissions import MemberPage

router = APIRouter(include_in_schema=False)


@router.get("/assessments/{assessment_id}/benchmarks", name="benchmarks")
def benchmarks_page(page: PageDep, access: MemberPage, group: str = "") -> Response:
    session = page.session
    k = page.settings.k_anonymity
    cycle = session.get(Cycle, access.assessment.cycle_id)
    groups = []
    for kind in GROUP_KINDS:
        result = benchmark(session, access.assessment, kind, k)
        chart = peer_chart(result)
        groups.append({"kind": kind, "name": GROUP_KIND_NAMES[kind], "result": result, "chart": chart})
    # One chart with its table, for the group the reader picks (four near-identical charts, one
    # under the other, were hard to tell apart): all trusts unless another is asked for.
    chosen = next((g for g in groups if g["kind"] == group), groups[0])
    points = trend(session, access.assessment.organisation_id, "all", k)
    trend_svg = Markup(
        trend_chart(
            [TrendPoint(p.cycle, p.own, p.peer_median) for p in points],
            "Your board's overall maturity by year, beside the median of all trusts",
        )
    )
    return page.render(
        "results/benchmarks.html",
        {
            "page_title": "Compare with other trusts",
            "assessment": access.assessment,
            "membership": access.membership,
            "cycle": cycle,
            "groups": groups,
            "chosen": chosen,
            "trend": points,
            "trend_svg": trend_svg,
            "k": k,
        },
    )
