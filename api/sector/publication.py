"""The sector view as published in files: one table of every figure the page shows (heatmap,
participation, maturity bands, headline figures against 2022, board-level measures, role view),
each row with its base, its suppression mark and the framework version, as CSV and as a workbook.

Nothing here works a figure out: every value is the page's own (api/sector/service.py), already
suppressed and rounded, so a download says no more than the page. docs/sector-method.md.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from openpyxl import Workbook
from sqlmodel import Session

from api.assessments.cycles import closed_on
from api.assessments.models import Cycle
from api.frameworks.models import FrameworkRecord
from api.sector.service import ROLE_MINIMUM, ROLE_MIX_2022, Headlines, Heatmap, headlines, heatmap
from api.spreadsheets import safe_cell

HEADER = [
    "Table",
    "Cycle",
    "Framework",
    "Measure",
    "Group",
    "Value",
    "Lower quartile",
    "Upper quartile",
    "Change since last cycle",
    "Base: people",
    "Base: trusts",
    "2022",
    "Weighted to the 2022 role mix",
    "Suppressed",
]
HEATMAP = "Heatmap: median section score (0 to 4)"
PARTICIPATION = "Participation"
BANDS = "Overall maturity bands"
PEOPLE = "Board members' answers to the 0 to 10 question (as asked in 2022)"
BOARDS = "Boards' agreed levels (this service's own measure, not asked in 2022)"
ROLES = "By respondent role"
SHEETS = {
    HEATMAP: "Heatmap",
    PARTICIPATION: "Participation",
    BANDS: "Maturity bands",
    PEOPLE: "Headline figures",
    BOARDS: "Headline figures",
    ROLES: "Role view",
}


@dataclass(frozen=True)
class Publication:
    cycle: Cycle
    framework: str  # "race-equality-board-v1, version 1"
    heatmap: Heatmap
    headlines: Headlines
    k: int

    @property
    def final(self) -> bool:
        return self.headlines.batch.final


def load_publication(session: Session, cycle: Cycle, by: str, k: int) -> Publication:
    framework = session.get(FrameworkRecord, cycle.framework_id)
    assert framework is not None
    return Publication(
        cycle=cycle,
        framework=f"{framework.key}, version {framework.version}",
        heatmap=heatmap(session, cycle, by, k),
        headlines=headlines(session, cycle, k),
        k=k,
    )


def _mark(suppressed: bool, reason: str | None, k: int, people: bool = False) -> str:
    if not suppressed:
        return "no"
    if reason == "secondary":
        return "yes: hidden so that another hidden figure cannot be worked out"
    return f"yes: fewer than {ROLE_MINIMUM} people or {k} trusts" if people else f"yes: fewer than {k} trusts"


def rows(publication: Publication) -> list[list[object]]:
    """Every published figure, one a row (HEADER's columns)."""
    result, cycle, framework, k = (
        publication.heatmap,
        publication.cycle.name,
        publication.framework,
        publication.k,
    )
    titles = dict(result.rows)
    labels = {c.key: c.label for c in result.columns}
    table: list[list[object]] = []

    def add(name: str, measure: str, group: str, value: object, **more: object) -> None:
        table.append(
            [
                name,
                cycle,
                framework,
                measure,
                group,
                value,
                more.get("q1"),
                more.get("q3"),
                more.get("change"),
                more.get("people"),
                more.get("trusts"),
                more.get("baseline"),
                more.get("reweighted"),
                more.get("suppressed", "no"),
            ]
        )

    for cell in result.cells:
        add(
            HEATMAP,
            titles[cell.section],
            labels[cell.group],
            cell.median,
            q1=cell.q1,
            q3=cell.q3,
            change=cell.change,
            trusts=cell.n_band,
            suppressed=_mark(cell.suppressed, cell.reason, k),
        )
    for column in result.columns:
        add(
            PARTICIPATION,
            f"Boards that submitted, of {column.trusts} (percent, to the nearest 10)",
            column.label,
            column.participation,
            trusts=column.submitted_band,
        )
    for name, percent in result.bands:
        add(
            BANDS,
            f"{name} (percent of boards that submitted)",
            "All trusts",
            percent,
            suppressed=_mark(percent is None, None, k),
        )
    head = publication.headlines
    for figure in head.people:
        unit = "" if figure.unit == "mean" else " (percent of respondents)"
        add(
            PEOPLE,
            f"{figure.label}{unit}",
            "All respondents",
            figure.value,
            people=figure.base.respondents,
            trusts=figure.base.trusts,
            baseline=figure.baseline_2022,
            reweighted=figure.reweighted,
            suppressed=_mark(figure.value is None, None, k, people=True),
        )
    for share in head.shares:
        add(
            BOARDS,
            f"{share.label} (percent of boards)",
            "All trusts",
            share.percent,
            trusts=share.base.trusts,
            suppressed=_mark(share.percent is None, None, k),
        )
    for row in head.roles:
        add(
            ROLES,
            "Mean answer to the 0 to 10 question",
            row.role,
            row.headline_mean,
            people=row.base.respondents,
            trusts=row.base.trusts,
            baseline=row.baseline_2022,
            suppressed=_mark(row.headline_mean is None, None, k, people=True),
        )
        for key, value in row.cells:
            add(
                ROLES,
                f"{titles[key]}: median of members' own ratings (0 to 4)",
                row.role,
                value,
                suppressed=_mark(value is None, None, k, people=True),
            )
    return table


def about(publication: Publication) -> list[list[str]]:
    """What a reader of the files needs to know, as the workbook's "About" sheet."""
    batch = publication.headlines.batch
    mix = ", ".join(f"{role.replace('_', ' ')} {share}%" for role, share in ROLE_MIX_2022.items())
    k = publication.k
    return [
        ["State of the sector", f"Race equality across trust boards, {publication.cycle.name}"],
        ["Framework", publication.framework],
        [
            "Figures",
            (
                f"Final: the year closed on {closed_on(publication.cycle):%-d %B %Y}"
                if batch.final
                else f"Include the {batch.boards} boards that had signed off by {batch.taken_at:%-d %B %Y}; "
                f"they next change when at least {k} more boards have signed off"
                if batch.taken_at
                else "No figures yet"
            ),
        ],
        ["Boards", f"{batch.boards} boards' submissions (a range, never an exact count)"],
        [
            "Suppression",
            f"No figure from fewer than {k} trusts; figures about people need {ROLE_MINIMUM} people from {k} trusts; where one cell in a row is hidden, the next-smallest is too",
        ],
        [
            "Rounding",
            "Shares to 1 point from a base of 100, 5 from 20 to 99, 10 from 10 to 19, 20 from 5 to 9; medians and means to 0.5 below twice the minimum, else 0.1",
        ],
        [
            "Compared with 2022",
            f"Only individuals' answers to the 0 to 10 question; the weighted column uses the 2022 role mix ({mix})",
        ],
        ["Method", "docs/sector-method.md"],
    ]


def filename(publication: Publication, extension: str) -> str:
    return f"sector-{publication.cycle.name.replace('/', '-')}-by-{publication.heatmap.by}.{extension}"


def csv_text(publication: Publication) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [HEADER, *rows(publication)]:
        writer.writerow([safe_cell(v) if v is not None else "" for v in row])
    return buffer.getvalue()


def xlsx_bytes(publication: Publication) -> bytes:
    workbook = Workbook()
    sheets = {}
    first = workbook.active
    for index, title in enumerate(dict.fromkeys(SHEETS.values())):
        sheet = first if index == 0 else workbook.create_sheet()
        sheet.title = title
        sheet.append(HEADER)
        sheets[title] = sheet
    for row in rows(publication):
        sheets[SHEETS[str(row[0])]].append([safe_cell(v) for v in row])
    notes = workbook.create_sheet("About")
    for line in about(publication):
        notes.append(line)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
