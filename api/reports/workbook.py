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
    spread_hidden_text,
)
from api.benchmarking.groups import GROUP_KINDS
from api.benchmarking.service import benchmark, trend
from api.db import utcnow
from api.reports.subject import Subject, action_plan, consensus_rows, long_date, quarter_name, section_label
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


def build_workbook(session: Session, subject: Subject) -> bytes:
    assessment = subject.assessment
    report = score_report(session, assessment, subject.viewer_id)
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Summary"
    _summary(session, summary, subject, report)
    _scores(workbook.create_sheet("Scores"), report)
    _consensus(workbook.create_sheet("Consensus"), session, subject, report)
    _spread(workbook.create_sheet("Rating spread"), session, subject)
    _evidence(workbook.create_sheet("Evidence"), session, subject)
    _benchmarks(workbook.create_sheet("Benchmarks"), session, subject)
    _trend(workbook.create_sheet("Year on year"), session, subject)
    _actions(workbook.create_sheet("Action plan"), action_plan(session, assessment))
    _framework(workbook.create_sheet("Framework"), subject)
    # The file names no person: the application made it.
    workbook.properties.creator = "Race equality board self-assessment"
    workbook.properties.title = f"{subject.organisation.name} {subject.cycle.name} race equality workbook"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# --- Sheets -------------------------------------------------------------------------------------------


def _summary(session: Session, sheet: Worksheet, subject: Subject, report: Any) -> None:
    finished, members = board_progress(session, subject.assessment)
    baf = report.baf.score if report.baf else None
    coverage = report.evidence_coverage
    rows: list[tuple[str, Any]] = [
        ("Trust", subject.organisation.name),
        ("ODS code", subject.organisation.ods_code),
        ("Cycle", subject.cycle.name),
        ("Status", subject.status_text),
        ("Framework", subject.framework.title),
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
        ("Downloaded on", long_date(utcnow())),
    ]
    _table(sheet, ("Item", "Value"), rows, (42, 70), wrap=(2,), one_decimal_columns=(2,))
    sheet.append([])
    sheet.append([cell("About this workbook")])
    sheet.cell(row=sheet.max_row, column=1).font = BOLD
    for line in (
        "Scores: the board's agreed scores by section, as shown on the results page."
        + (" Provisional until the chair signs off." if not subject.submitted else ""),
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


def _consensus(sheet: Worksheet, session: Session, subject: Subject, report: Any) -> None:
    rows = [
        [
            row.section,
            row.criterion_key,
            row.statement,
            row.level,
            subject.level_names.get(row.level, "") if row.level is not None else "Not agreed yet",
            row.rationale,
            row.evidence_count,
            yes_no(row.unevidenced),
            row.rated,
            row.members_median,
            row.gap,
            yes_no(row.disagreement),
        ]
        for row in consensus_rows(session, subject, report)
    ]
    _table(
        sheet,
        (
            "Section",
            "Criterion key",
            "Statement",
            "Agreed level",
            "Level name",
            "Rationale",
            "Evidence items",
            "Level 3 or 4 without evidence",
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


def _spread(sheet: Worksheet, session: Session, subject: Subject) -> None:
    """Counts per level, median, range and comments (alphabetical): nothing that names a member."""
    spreads = board_spread(session, subject.assessment, subject.viewer_id)
    closed = rating_closed(subject.assessment)
    levels = subject.level_names
    rows = []
    widest = 0
    for section, criterion in criteria_of(session, subject.assessment):
        data = spreads.get(criterion.id or 0) or empty_spread(closed)
        row: list[Any] = [section_label(section), criterion.key, criterion.statement, data.rated]
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


def _evidence(sheet: Worksheet, session: Session, subject: Subject) -> None:
    evidence = evidence_of(session, subject.assessment.id or 0)
    rows = []
    for section, criterion in criteria_of(session, subject.assessment):
        for item in evidence.get(criterion.id or 0, []):
            if item.kind == "link":
                where = item.url or ""
            else:
                size = f", {max(1, round((item.size_bytes or 0) / 1024))} KB" if item.size_bytes else ""
                where = f"Uploaded file{size}"
            rows.append(
                [
                    section_label(section),
                    criterion.key,
                    criterion.statement,
                    "Link" if item.kind == "link" else "File",
                    item.title,
                    where,
                ]
            )
    _table(
        sheet,
        ("Section", "Criterion key", "Statement", "Kind", "Title", "Link or file"),
        rows,
        (30, 24, 60, 8, 50, 60),
        wrap=(1, 3, 5, 6),
    )


def _benchmarks(sheet: Worksheet, session: Session, subject: Subject) -> None:
    """Exactly the figures `benchmark` returns: rounded, suppressed, counts as bands."""
    rows = []
    for kind in GROUP_KINDS:
        result = benchmark(session, subject.assessment, kind, subject.k)
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
    if subject.assessment.status != "submitted":
        sheet.append([])
        sheet.append([cell("Your board's own scores appear here once the chair signs off the assessment.")])


def _trend(sheet: Worksheet, session: Session, subject: Subject) -> None:
    points = trend(session, subject.organisation.id or 0, "all", subject.k)
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


def _framework(sheet: Worksheet, subject: Subject) -> None:
    framework, doc = subject.framework, subject.doc
    _table(
        sheet,
        ("Framework", "Value"),
        [
            ("Key", framework.key),
            ("Version", framework.version),
            ("Title", framework.title),
            ("Description", doc.description),
            ("Source file", framework.source_file),
            ("Loaded on", long_date(framework.loaded_at)),
            ("Content fingerprint (SHA-256)", framework.content_hash),
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
