"""The board report: an A4 PDF ready to drop into a board pack, rendered by WeasyPrint.

The HTML comes from `web/templates/reports/board_report.html`, with its own print stylesheet
(`reports/print.css`): the trust's name and the cycle in the top margin of every page, "Page N of
M" at the foot. Charts are the same server-drawn SVG as the pages (api/charts.py), inlined, and
drawn from figures already rounded for display. Nothing is fetched: every URL WeasyPrint meets is
refused, so a report never reaches the network.

Figures come from the services the pages use: `score_report` (scores, perception gap, evidence
coverage), `benchmark` and `trend` (peer figures already rounded and suppressed), the action plan
and the BAF risk. Nothing here recomputes or adds precision to a peer figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlmodel import Session
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from api.assessments.service import board_progress
from api.assessments.spread import MIN_OTHER_RATERS
from api.baf.matrix import bands
from api.baf.service import LINES
from api.benchmarking.groups import GROUP_KIND_NAMES, GROUP_KINDS
from api.benchmarking.service import Benchmark, benchmark, trend
from api.charts import TrendPoint, peer_chart, trend_chart
from api.db import utcnow
from api.indicators.service import related_indicators
from api.reports.subject import Subject, action_plan, baf_risk_for, long_date, quarter_name
from api.scoring.report import CriterionResult, ScoreReport, SectionResult, score_report
from api.templating import TEMPLATES_DIR, templates

MEDIA_TYPE = "application/pdf"
TEMPLATE = "reports/board_report.html"


class RefusedFetch(ValueError):
    pass


class NoFetch(URLFetcher):
    """WeasyPrint's URL fetcher for the report: it refuses every URL, local or remote.

    The report holds everything it needs inline, so a fetch is always a mistake: WeasyPrint logs
    the refusal and carries on without the resource, and the report never reaches the network.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        raise RefusedFetch(f"the board report fetches nothing (asked for {url[:80]!r})")


def css_string(text: str) -> Markup:
    """Text as a CSS string's content: every character but letters, digits and spaces escaped,
    so a trust's name can never close the string or the style element."""
    # An escape swallows one following space, so every escape ends with its own.
    return Markup(
        "".join(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):x} " for ch in text)
    )


@dataclass(frozen=True)
class PeerGroup:
    name: str
    result: Benchmark
    chart: Markup | None


@dataclass(frozen=True)
class Flag:
    section: SectionResult
    criterion: CriterionResult


def _peer_groups(session: Session, subject: Subject) -> list[PeerGroup]:
    groups = []
    for kind in GROUP_KINDS:
        result = benchmark(session, subject.assessment, kind, subject.k)
        chart = peer_chart(result)
        groups.append(PeerGroup(GROUP_KIND_NAMES[kind], result, chart))
    return groups


def _headline(report: ScoreReport) -> dict[str, Any]:
    """Plain-English pointers for the summary: the strongest and weakest priorities."""
    scored = [s for s in report.priorities if s.score.shown is not None]
    if not scored:
        return {"highest": None, "lowest": None}
    ordered = sorted(scored, key=lambda s: (s.score.shown, s.number))
    highest = [s for s in scored if s.score.shown == ordered[-1].score.shown]
    lowest = [s for s in scored if s.score.shown == ordered[0].score.shown]
    if ordered[0].score.shown == ordered[-1].score.shown:
        return {"highest": None, "lowest": None}
    return {"highest": highest, "lowest": lowest}


def report_context(session: Session, subject: Subject) -> dict[str, Any]:
    assessment = subject.assessment
    report = score_report(session, assessment, subject.viewer_id)
    finished, members = board_progress(session, assessment)
    flagged = [Flag(s, c) for s in report.sections for c in s.criteria if c.disagreement]
    unevidenced = [Flag(s, c) for s in report.sections for c in s.criteria if c.unevidenced]
    points = trend(session, subject.organisation.id or 0, "all", subject.k)
    trend_svg = Markup(
        trend_chart(
            [TrendPoint(p.cycle, p.own, p.peer_median) for p in points],
            "Your board's overall maturity by year, beside the median of all other trusts",
        )
    )
    actions = action_plan(session, assessment)
    running = f"{subject.organisation.name} · {subject.cycle.name} race equality self-assessment"
    return {
        "subject": subject,
        "organisation": subject.organisation,
        "cycle": subject.cycle,
        "framework": subject.framework,
        "doc": subject.doc,
        "report": report,
        "finished": finished,
        "members": members,
        "flagged": flagged,
        "unevidenced": unevidenced,
        "groups": _peer_groups(session, subject),
        "trend": points,
        "trend_svg": trend_svg,
        "actions": actions,
        "overdue": sum(1 for a in actions or [] if a.overdue),
        "baf_risk": baf_risk_for(session, subject),
        "related": related_indicators(session, assessment, subject.doc),
        "baf_lines": LINES,
        "baf_bands": bands(),
        "headline": _headline(report),
        "k": subject.k,
        "min_raters": MIN_OTHER_RATERS,
        "generated_on": long_date(utcnow()),
        "running_header": css_string(running),
        "running_footer": css_string(subject.status_text),
        "quarter_name": quarter_name,
        "long_date": long_date,
        "short_date": lambda day: f"{day.day} {day:%b %Y}",
    }


def render_html(session: Session, subject: Subject) -> str:
    return templates.env.get_template(TEMPLATE).render(report_context(session, subject))


def html_to_pdf(html: str) -> bytes:
    # base_url: a local folder, so a relative URL could only ever mean a local file; the fetcher
    # refuses even those. The template holds everything it needs inline.
    document = HTML(string=html, base_url=str(TEMPLATES_DIR / "reports"), url_fetcher=NoFetch())
    return document.write_pdf()


def build_pdf(session: Session, subject: Subject) -> bytes:
    return html_to_pdf(render_html(session, subject))
