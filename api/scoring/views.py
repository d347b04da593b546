"""The results page: the board's scores, bands, where members disagree, evidence coverage."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.assessments.models import Cycle
from api.assessments.spread import MIN_OTHER_RATERS, board_headline
from api.indicators.service import related_indicators
from api.pages import PageDep
from api.permissions import MemberPage
from api.scoring.maths import DISAGREEMENT_RULE
from api.scoring.report import score_report

router = APIRouter(include_in_schema=False)


@router.get("/assessments/{assessment_id}/results", name="results")
def results_page(page: PageDep, access: MemberPage) -> Response:
    session = page.session
    report = score_report(session, access.assessment, access.principal.user.id)
    cycle = session.get(Cycle, access.assessment.cycle_id)
    flagged = [(s, c) for s in report.sections for c in s.criteria if c.disagreement]
    unevidenced = [(s, c) for s in report.sections for c in s.criteria if c.unevidenced]
    return page.render(
        "results/results.html",
        {
            "page_title": f"Results {cycle.name if cycle else ''}",
            "assessment": access.assessment,
            "membership": access.membership,
            "cycle": cycle,
            "report": report,
            "flagged": flagged,
            "unevidenced": unevidenced,
            "shared": [(s, c) for s in report.sections for c in s.criteria if c.shared],
            "from_records": any(c.from_records for s in report.sections for c in s.criteria),
            "headline": board_headline(session, access.assessment, access.principal.user.id),
            "disagreement_rule": DISAGREEMENT_RULE,
            "min_others": MIN_OTHER_RATERS,
            "related": related_indicators(session, access.assessment),
        },
    )
