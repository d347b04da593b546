"""The "state of the sector" report: an A4 PDF of the sector view, rendered by WeasyPrint as the
board report is (api/reports/pdf.py: nothing fetched, charts as inline server-drawn SVG with a table
beside each). Every figure is the page's own (api/sector/publication.py), already suppressed and
rounded; nothing here works one out. The method appendix is written for a reader of a national
report (docs/sector-method.md states the same rules).
"""

from __future__ import annotations

from markupsafe import Markup

from api.charts import BenchmarkRow, benchmark_chart
from api.db import utcnow
from api.reports.pdf import html_to_pdf
from api.sector.publication import Publication
from api.sector.service import (
    BASELINE_2022_RESPONSES,
    BASELINE_2022_TRUSTS,
    ROLE_MINIMUM,
    ROLE_MIX_2022,
)
from api.templating import templates

MEDIA_TYPE = "application/pdf"
TEMPLATE = "sector/report.html"


def _sector_chart(publication: Publication) -> Markup | None:
    """The all-trusts column of the heatmap: each priority's median and middle half."""
    result = publication.heatmap
    rows = []
    for key, title in result.rows:
        cell = result.cell(key, "all")
        rows.append(BenchmarkRow(title, None, cell.q1, cell.median, cell.q3))
    if all(row.median is None for row in rows):
        return None
    return Markup(benchmark_chart(rows, f"Median section score across all trusts, {result.cycle}"))  # noqa: S704 (our own SVG, labels escaped)


def render_html(publication: Publication) -> str:
    return templates.env.get_template(TEMPLATE).render(
        {
            "publication": publication,
            "cycle": publication.cycle,
            "heatmap": publication.heatmap,
            "headlines": publication.headlines,
            "k": publication.k,
            "role_minimum": ROLE_MINIMUM,
            "role_mix": ROLE_MIX_2022,
            "baseline_responses": BASELINE_2022_RESPONSES,
            "baseline_trusts": BASELINE_2022_TRUSTS,
            "chart": _sector_chart(publication),
            "generated": utcnow(),
            "report_label": "State of the sector",
            "running_header": f"Race equality across trust boards {publication.cycle.name}",
            "running_footer": "NHS Providers · anonymised sector figures",
        }
    )


def build_pdf(publication: Publication) -> bytes:
    return html_to_pdf(render_html(publication))
