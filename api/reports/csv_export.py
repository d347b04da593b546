"""The board's agreed (consensus) ratings as CSV: one row per criterion, the framework version on each.

Every row names the framework key and version, the cycle and the trust, so rows from several
files can be stacked and still be read against the right questionnaire. Text written by people
(the rationale) goes through `safe_cell`: a cell starting with =, +, -, @, a tab or a carriage
return gets a leading apostrophe, so a spreadsheet shows it and never runs it.
"""

from __future__ import annotations

import csv
import io

from sqlmodel import Session

from api.reports.subject import CONSENSUS_COLUMNS, Subject, consensus_cells, consensus_rows
from api.scoring.report import score_report
from api.spreadsheets import safe_cell

MEDIA_TYPE = "text/csv; charset=utf-8"
HEADER = (
    "Framework key",
    "Framework version",
    "Cycle",
    "ODS code",
    "Trust",
    "Status",
    *CONSENSUS_COLUMNS,
)


def build_csv(session: Session, subject: Subject) -> bytes:
    report = score_report(session, subject.assessment, subject.viewer_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    status = "Signed off" if subject.submitted else "Provisional"
    for row in consensus_rows(session, subject, report):
        values = (
            subject.framework.key,
            subject.framework.version,
            subject.cycle.name,
            subject.organisation.ods_code,
            subject.organisation.name,
            status,
            *consensus_cells(subject.level_names, row),
        )
        writer.writerow(["" if v is None else safe_cell(v) for v in values])
    # A byte order mark, so a spreadsheet opens the file as UTF-8 (trust names, dashes, accents).
    return buffer.getvalue().encode("utf-8-sig")
