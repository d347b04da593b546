"""The workbook (XLSX) of one assessment: a sheet for each part, for boards that work in spreadsheets.

Anonymity: the rating spread is the board's anonymous spread (`board_spread`): counts per level,
median, range and comments in alphabetical order, or only how many have rated when fewer than 3
have. No member's name, email, time or own rating appears anywhere. Peer figures are written
exactly as `benchmark` and `trend` return them (rounded, suppressed, counts in bands).

Every text cell goes through `cell()`: characters a workbook cannot hold are dropped, then text
starting like a formula gets a leading apostrophe (api/spreadsheets.py), so a comment such as
=HYPERLINK(...) stays text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from api.assessments.repository import criteria_of, evidence_of
from api.assessments.service import board_progress
from api.assessments.spread import (
    MIN_OTHER_RATERS,
    board_spread,
    empty_spread,
    rating_closed,
    records_spread,
    spread_hidden_text,
)
from api.benchmarking.groups import GROUP_KINDS
from api.benchmarking.service import benchmark, trend
from api.db import utcnow
from api.indicators.service import related_indicators
from api.reports.subject import (
    CONSENSUS_COLUMNS,
    Subject,
    action_plan,
    consensus_cells,
    consensus_rows,
    long_date,
    quarter_name,
    section_label,
)
from api.scoring.maths import one_decimal
from api.scoring.report import score_report
from api.spreadsheets import safe_cell

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEETS = (
    "Summary",
    "Scores",
    "Consensus",
    "Rating spread",
    "Evidence",
    "Benchmarks",
    "Year on year",
    "Action plan",
    "Framework",
)
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")


def cell(value: Any) -> Any:
    """A value a workbook can hold and never runs: control characters dropped, formulas defused."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return safe_cell(value)


def yes_no(flag: bool | None) -> str:
    return "" if flag is None else ("Yes" if flag else "No")


def _table(
    sheet: Worksheet,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int],
    *,
    wrap: Sequence[int] = (),
    one_decimal_columns: Sequence[int] = (),
) -> None:
    """On a new sheet: a header row in bold, frozen, then the rows; columns in `wrap` (from 1) wrap."""
    start = 1
    sheet.append([cell(h) for h in header])
    for column in range(1, len(header) + 1):
        sheet.cell(row=start, column=column).font = BOLD
    for row in rows:
        sheet.append([cell(v) for v in row])
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for row_cells in sheet.iter_rows(min_row=start + 1):
        for c in row_cells:
            c.alignment = WRAP if c.column in wrap else TOP
            if c.column in one_decimal_columns and isinstance(c.value, float):
                c.number_format = "0.0"
    sheet.freeze_panes = "A2"


@dataclass(frozen=True)
class WorkbookData:
    """Everything the workbook shows, read from the database in the request: plain values only, so
    it can be sent to the export process pool (api/reports/rendering.py) and rendered there."""

    organisation_name: str
    ods_code: str
    cycle_name: str
    status_text: str
    submitted: bool
    k: int
    level_names: dict[int, str]
    framework_key: str
    framework_version: int
    framework_title: str
    framework_label: str
    framework_source_file: str
    framework_loaded_on: str
    framework_content_hash: str
    doc: Any
    report: Any
    finished: int
    members: int
    consensus: list[Any]
    spreads: dict[int, Any]
    closed: bool
    # (section label, criterion id, key, statement), in framework order
    criteria: list[tuple[str, int, str, str]]
    # criterion id -> [(kind, title, url, size in bytes)]
    evidence: dict[int, list[tuple[str, str, str | None, int | None]]]
    benchmarks: list[Any]
    trend: list[Any]
    actions: list[Any]
    downloaded_on: str
    # Section key -> its related indicators (api/indicators/service.py); empty for version 1.
    related: dict[str, list[Any]] = field(default_factory=dict)


def workbook_data(session: Session, subject: Subject) -> WorkbookData:
    assessment = subject.assessment
    report = score_report(session, assessment, subject.viewer_id)
    finished, members = board_progress(session, assessment)
    framework = subject.framework
    evidence = evidence_of(session, assessment.id or 0)
    return WorkbookData(
        organisation_name=subject.organisation.name,
        ods_code=subject.organisation.ods_code,
        cycle_name=subject.cycle.name,
        status_text=subject.status_text,
        submitted=subject.submitted,
        k=subject.k,
        level_names=subject.level_names,
        framework_key=framework.key,
        framework_version=framework.version,
        framework_title=framework.title,
        framework_label=subject.framework_label,
        framework_source_file=framework.source_file,
        framework_loaded_on=long_date(framework.loaded_at),
        framework_content_hash=framework.content_hash,
        doc=subject.doc,
        report=report,
        finished=finished,
        members=members,
        consensus=consensus_rows(session, subject, report),
        spreads=board_spread(session, assessment, subject.viewer_id)
        # A fact item (framework version 2) has no members' spread: "Answered for the board from records".
        | {c.id or 0: records_spread() for _s, c in criteria_of(session, assessment) if not c.member_rated},
        closed=rating_closed(assessment),
        criteria=[
            (section_label(section), criterion.id or 0, criterion.key, criterion.statement)
            for section, criterion in criteria_of(session, assessment)
        ],
        evidence={
            criterion_id: [(item.kind, item.title, item.url, item.size_bytes) for item in items]
            for criterion_id, items in evidence.items()
        },
        benchmarks=[benchmark(session, assessment, kind, subject.k) for kind in GROUP_KINDS],
        trend=trend(session, subject.organisation.id or 0, "all", subject.k),
        actions=action_plan(session, assessment),
        downloaded_on=long_date(utcnow()),
        related=related_indicators(session, assessment, subject.doc),
    )


def render_workbook(data: WorkbookData) -> bytes:
    """The workbook from what `workbook_data` read: no database (runs in the export process pool)."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Summary"
    _summary(summary, data)
    _scores(workbook.create_sheet("Scores"), data.report)
    if data.related:
        _indicators(workbook.create_sheet("Indicators"), data)
    _consensus(workbook.create_sheet("Consensus"), data)
    _spread(workbook.create_sheet("Rating spread"), data)
    _evidence(workbook.create_sheet("Evidence"), data)
    _benchmarks(workbook.create_sheet("Benchmarks"), data)
    _trend(workbook.create_sheet("Year on year"), data.trend)
    _actions(workbook.create_sheet("Action plan"), data.actions)
    _framework(workbook.create_sheet("Framework"), data)
    # The file names no person: the application made it.
    workbook.properties.creator = "Race equality board self-assessment"
    workbook.properties.title = f"{data.organisation_name} {data.cycle_name} race equality workbook"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def build_workbook(session: Session, subject: Subject) -> bytes:
    return render_workbook(workbook_data(session, subject))


# --- Sheets -------------------------------------------------------------------------------------------


def _summary(sheet: Worksheet, subject: WorkbookData) -> None:
    report = subject.report
    finished, members = subject.finished, subject.members
    baf = report.baf.score if report.baf else None
    coverage = report.evidence_coverage
    rows: list[tuple[str, Any]] = [
        ("Trust", subject.organisation_name),
        ("ODS code", subject.ods_code),
        ("Cycle", subject.cycle_name),
        ("Status", subject.status_text),
        ("Framework", subject.framework_title),
        ("Framework version", subject.framework_label),
        ("Overall maturity (0 to 4)", report.overall.shown),
        ("Overall maturity (percent of 4)", report.overall.percent),
        ("Overall band", report.overall.band or ""),
        ("Priorities scored", f"{report.priorities_scored} of {len(report.priorities)}"),
        ("Board assurance framework score (0 to 4)", baf.shown if baf else None),
        ("Board assurance framework band", (baf.band if baf else None) or ""),
        (
            "Evidence coverage (percent of criteria)",
            None if coverage is None else int(coverage * 100 + 0.5),
        ),
        ("Members who have finished rating", f"{finished} of {members}"),
        ("Downloaded on", subject.downloaded_on),
    ]
    _table(sheet, ("Item", "Value"), rows, (42, 70), wrap=(2,), one_decimal_columns=(2,))
    sheet.append([])
    sheet.append([cell("About this workbook")])
    sheet.cell(row=sheet.max_row, column=1).font = BOLD
    for line in (
        "Scores: the board's agreed scores by section, as shown on the results page."
        + (" Provisional until the chair signs off." if not subject.submitted else ""),
        *(
            [
                "Indicators: each priority's related WRES figures and EDI improvement plan progress, as the board recorded them."
            ]
            if subject.related
            else []
        ),
        "Consensus: the board's agreed level, rationale and evidence count for each criterion.",
        f"Rating spread: how members' own ratings are spread, without names or times. Where fewer than "
        f"{MIN_OTHER_RATERS} members other than you have rated a criterion, or while rating is open, only the number who "
        "have rated is shown.",
        "Evidence: the links and files behind the agreed ratings.",
        f"Benchmarks and Year on year: other trusts' submitted scores, never named. Nothing is shown for a "
        f"group of fewer than {subject.k} other trusts; counts are bands; small groups are rounded to halves.",
        "Framework: the questionnaire version this assessment used.",
    ):
        sheet.append([None, cell(line)])
        sheet.cell(row=sheet.max_row, column=2).alignment = WRAP


def _scores(sheet: Worksheet, report: Any) -> None:
    rows: list[list[Any]] = [
        [
            "",
            "Overall maturity",
            "Overall",
            report.overall.shown,
            report.overall.percent,
            report.overall.band or "",
            None,
            None,
            "",
        ]
    ]
    for section in report.sections:
        rows.append(
            [
                section.number if section.kind == "priority" else "",
                section.title,
                "Priority" if section.kind == "priority" else "Board assurance framework",
                section.score.shown,
                section.score.percent,
                section.score.band or "",
                one_decimal(section.members_median),
                one_decimal(section.gap),
                yes_no(section.disagreement),
            ]
        )
    _table(
        sheet,
        (
            "Number",
            "Section",
            "Kind",
            "Score (0 to 4)",
            "Percent of 4",
            "Band",
            "Members' median",
            "Gap (agreed minus members' median)",
            "Flagged for discussion",
        ),
        rows,
        (9, 46, 26, 14, 13, 14, 16, 20, 20),
        wrap=(2,),
        one_decimal_columns=(4, 7, 8),
    )


def _indicators(sheet: Worksheet, data: WorkbookData) -> None:
    """Each priority's related indicators beside its score: the WRES figures and high impact action
    progress the board recorded ("Not recorded" where missing), then the standards named only."""
    rows = []
    for section in data.report.sections:
        for item in data.related.get(section.key, []):
            rows.append(
                [
                    section.number if section.kind == "priority" else "",
                    section.title,
                    section.score.shown,
                    section.score.band or "",
                    item.name,
                    item.value if item.value is not None else "Named for reference (no figure kept here)",
                ]
            )
    _table(
        sheet,
        (
            "Number",
            "Section",
            "Score (0 to 4)",
            "Band",
            "Related indicator",
            f"Recorded for {data.cycle_name}",
        ),
        rows,
        (9, 40, 14, 14, 60, 50),
        wrap=(2, 5, 6),
        one_decimal_columns=(3,),
    )


def _consensus(sheet: Worksheet, subject: WorkbookData) -> None:
    rows = [
        [
            *consensus_cells(subject.level_names, row),
            "From records" if row.from_records else row.rated,
            row.members_median,
            row.gap,
            yes_no(row.disagreement),
        ]
        for row in subject.consensus
    ]
    _table(
        sheet,
        (
            *CONSENSUS_COLUMNS,
            "Members rated",
            "Members' median",
            "Gap (agreed minus members' median)",
            "Flagged for discussion",
        ),
        rows,
        (30, 24, 60, 12, 16, 60, 12, 16, 12, 14, 18, 18),
        wrap=(1, 3, 6),
        one_decimal_columns=(10, 11),
    )


def _spread(sheet: Worksheet, subject: WorkbookData) -> None:
    """Counts per level, median, range and comments (alphabetical): nothing that names a member."""
    spreads = subject.spreads
    closed = subject.closed
    levels = subject.level_names
    rows = []
    widest = 0
    for section, criterion_id, key, statement in subject.criteria:
        data = spreads.get(criterion_id) or empty_spread(closed)
        row: list[Any] = [section, key, statement, data.rated]
        if data.shown and data.counts is not None:
            row += [data.counts.get(level, 0) for level in range(5)]
            row += [data.not_yet_known, data.median, data.low, data.high, yes_no(data.disagreement), ""]
            row += list(data.comments or [])
            widest = max(widest, len(data.comments or []))
        else:
            row += [None] * 5 + [None, None, None, None, ""]
            row.append(spread_hidden_text(data))
        rows.append(row)
    header = [
        "Section",
        "Criterion key",
        "Statement",
        "Members rated",
        *(f"Level {level} {levels.get(level, '')}".strip() for level in range(5)),
        "Not yet known",
        "Median",
        "Lowest level",
        "Highest level",
        "Members 3 or more levels apart",
        "Note",
        *(
            ["Members' comments, in alphabetical order"] + [""] * (widest - 1)
            if widest
            else ["Members' comments, in alphabetical order"]
        ),
    ]
    widths = [30, 24, 60, 10, *([11] * 5), 10, 9, 9, 9, 16, 30, *([50] * max(widest, 1))]
    comment_columns = tuple(range(16, 16 + max(widest, 1)))
    _table(sheet, header, rows, widths, wrap=(1, 3, 15, *comment_columns), one_decimal_columns=(11,))


def _evidence(sheet: Worksheet, subject: WorkbookData) -> None:
    rows = []
    for section, criterion_id, key, statement in subject.criteria:
        for kind, title, url, size_bytes in subject.evidence.get(criterion_id, []):
            if kind == "link":
                where = url or ""
            else:
                size = f", {max(1, round((size_bytes or 0) / 1024))} KB" if size_bytes else ""
                where = f"Uploaded file{size}"
            rows.append([section, key, statement, "Link" if kind == "link" else "File", title, where])
    _table(
        sheet,
        ("Section", "Criterion key", "Statement", "Kind", "Title", "Link or file"),
        rows,
        (30, 24, 60, 8, 50, 60),
        wrap=(1, 3, 5, 6),
    )


def _benchmarks(sheet: Worksheet, subject: WorkbookData) -> None:
    """Exactly the figures `benchmark` returns: rounded, suppressed, counts as bands."""
    rows = []
    for result in subject.benchmarks:
        shown = (
            "Not shown: fewer than " + str(subject.k) + " other trusts have submitted"
            if result.suppressed
            else "Shown"
        )
        rounded = "" if result.precision is None else ("nearest 0.5" if result.precision == 0.5 else "0.1")
        for s in result.sections:
            rows.append(
                [
                    result.group_label,
                    result.peer_count_band,
                    shown,
                    rounded,
                    long_date(result.snapshot_at) if result.snapshot_at else "",
                    s.title,
                    s.own,
                    s.stats.q1,
                    s.stats.median,
                    s.stats.q3,
                    quarter_name(s.quartile),
                ]
            )
    _table(
        sheet,
        (
            "Peer group",
            "Other trusts contributing",
            "Shown",
            "Rounded to",
            "Figures as at",
            "Section",
            "Your board",
            "Lower quartile",
            "Median",
            "Upper quartile",
            "Your quarter of peers",
        ),
        rows,
        (36, 14, 30, 12, 16, 44, 11, 11, 11, 11, 14),
        wrap=(1, 3, 6),
        one_decimal_columns=(7, 8, 9, 10),
    )
    if not subject.submitted:
        sheet.append([])
        sheet.append([cell("Your board's own scores appear here once the chair signs off the assessment.")])


def _trend(sheet: Worksheet, points: list[Any]) -> None:
    rows = [
        [
            p.cycle,
            p.own,
            "Not submitted" if p.own is None else "",
            p.peer_median,
            "Not shown (too few trusts)" if p.suppressed else "",
        ]
        for p in points
    ]
    _table(
        sheet,
        ("Year", "Your board's overall maturity", "Note", "Median of all other trusts", "Note"),
        rows,
        (10, 16, 16, 16, 28),
        one_decimal_columns=(2, 4),
    )


def _actions(sheet: Worksheet, actions: list[Any]) -> None:
    rows = [
        [
            a.title,
            a.section_title or "",
            ", ".join(a.criterion_keys),
            a.owner,
            a.due_date,
            a.status_name,
            yes_no(a.overdue),
            a.description,
            a.carried_from_cycle or "",
        ]
        for a in actions
    ]
    _table(
        sheet,
        (
            "Action",
            "Priority",
            "Criteria",
            "Owner",
            "Due",
            "Status",
            "Overdue",
            "Description",
            "Carried forward from",
        ),
        rows,
        (50, 34, 30, 26, 12, 12, 9, 60, 12),
        wrap=(1, 2, 3, 8),
    )
    for (due,) in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        due.number_format = "d mmm yyyy"


def _framework(sheet: Worksheet, subject: WorkbookData) -> None:
    doc = subject.doc
    _table(
        sheet,
        ("Framework", "Value"),
        [
            ("Key", subject.framework_key),
            ("Version", subject.framework_version),
            ("Title", subject.framework_title),
            ("Description", doc.description),
            ("Source file", subject.framework_source_file),
            ("Loaded on", subject.framework_loaded_on),
            ("Content fingerprint (SHA-256)", subject.framework_content_hash),
            ("Headline question", doc.headline_question),
        ],
        (26, 60),
        wrap=(2,),
    )
    sheet.append([])
    sheet.append([cell("Levels")])
    sheet.cell(row=sheet.max_row, column=1).font = BOLD
    for level in doc.levels:
        sheet.append([level.level, cell(level.name), cell(level.meaning)])
    sheet.append([])
    header = [
        "Section",
        "Source of the wording",
        "Criterion key",
        "Statement",
        "Applies to",
        *(f"Level {n} descriptor" for n in range(5)),
    ]
    sheet.append([cell(h) for h in header])
    header_row = sheet.max_row
    for column in range(1, len(header) + 1):
        sheet.cell(row=header_row, column=column).font = BOLD
    sources = {
        "report": "Race 2.0 report",
        "provisional": "Provisional reading",
        "guidance": "National guidance",
    }
    for section in doc.sections:
        title = f"{section.number}. {section.title}" if section.kind == "priority" else section.title
        for criterion in section.criteria:
            sheet.append(
                [
                    cell(v)
                    for v in (
                        title,
                        sources.get(section.source, section.source),
                        criterion.key,
                        criterion.statement,
                        ", ".join(criterion.applies_to) or "All trusts",
                        *(criterion.descriptors[n] for n in range(5)),
                    )
                ]
            )
    for row_cells in sheet.iter_rows(min_row=header_row + 1):
        for c in row_cells:
            c.alignment = WRAP
    for index, width in enumerate((26, 60, 24, 60, 20, 40, 40, 40, 40, 40), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
