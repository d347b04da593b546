"""What every export of an assessment shares: the assessment with its trust, cycle and framework
version (`Subject`), the file names, and the parts other features own (the action plan, the BAF risk).

Every figure comes from the services the pages use, never recomputed: scores from
`score_report`, the spread from `board_spread`, peer figures from `benchmark` and `trend`
(already rounded and suppressed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from api.accounts.models import User
from api.actions.service import ActionView, actions_for_assessment
from api.assessments.models import Assessment, Cycle
from api.assessments.repository import consensus_of, criteria_of, evidence_of
from api.baf.models import BafRisk
from api.baf.service import BafRiskView, risk_view
from api.frameworks.models import FrameworkRecord, FrameworkSection
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document
from api.organisations.models import Organisation
from api.scoring.maths import one_decimal
from api.scoring.report import ScoreReport
from api.templating import local

PROVISIONAL = "Provisional: not yet signed off"


def long_date(value: Any) -> str:
    """A date as the UK writes it ("3 March 2026"); times are shown in UK time."""
    if value is None:
        return ""
    if hasattr(value, "tzinfo"):
        value = local(value)
    return f"{value.day} {value:%B %Y}"


@dataclass(frozen=True)
class Subject:
    """The assessment an export is about, with what every export names."""

    assessment: Assessment
    organisation: Organisation
    cycle: Cycle
    framework: FrameworkRecord
    doc: FrameworkDefinition
    signed_off_by: str | None
    k: int
    # Who the export is for: members' spreads and medians are shown as this person may see them.
    viewer_id: int | None = None

    @property
    def submitted(self) -> bool:
        return self.assessment.status == "submitted"

    @property
    def status_text(self) -> str:
        if not self.submitted:
            return PROVISIONAL
        when = long_date(self.assessment.submitted_at)
        who = f" by {self.signed_off_by}" if self.signed_off_by else ""
        return f"Signed off{who} on {when}" if when else f"Signed off{who}"

    @property
    def framework_label(self) -> str:
        return f"{self.framework.key} version {self.framework.version}"

    @property
    def level_names(self) -> dict[int, str]:
        return {level.level: level.name for level in self.doc.levels}

    def level_text(self, level: int | None) -> str:
        return "" if level is None else f"{level} {self.level_names.get(level, '')}".strip()

    def filename(self, what: str, extension: str) -> str:
        """Like RCF-2026-27-race-equality-board-report.pdf: the trust's code and the cycle first."""
        return f"{self.organisation.ods_code}-{self.cycle.name.replace('/', '-')}-race-equality-{what}.{extension}"


def load_subject(session: Session, assessment: Assessment, k: int, viewer_id: int | None = None) -> Subject:
    organisation = session.get(Organisation, assessment.organisation_id)
    cycle = session.get(Cycle, assessment.cycle_id)
    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert organisation is not None and cycle is not None and framework is not None
    signer = session.get(User, assessment.submitted_by_id) if assessment.submitted_by_id else None
    return Subject(
        assessment=assessment,
        organisation=organisation,
        cycle=cycle,
        framework=framework,
        doc=framework_document(framework),
        signed_off_by=signer.name if signer and signer.name else None,
        k=k,
        viewer_id=viewer_id,
    )


# --- Shared rows and words ------------------------------------------------------------------------------


def section_label(section: FrameworkSection) -> str:
    """ "1. Encourage accountability" for a priority; the BAF section by its title alone."""
    return f"{section.number}. {section.title}" if section.kind == "priority" else section.title


QUARTERS = ("lowest", "second", "third", "highest")


def quarter_name(quartile: int | None) -> str:
    return QUARTERS[quartile - 1] if quartile else ""


@dataclass(frozen=True)
class ConsensusRow:
    """One criterion's agreed rating, as the CSV and the workbook's Consensus sheet show it."""

    section: str
    criterion_key: str
    statement: str
    level: int | None
    rationale: str
    evidence_count: int
    unevidenced: bool
    rated: int
    members_median: float | None
    gap: float | None
    disagreement: bool
    # A fact item (framework version 2): answered for the board from its records, not rated by members.
    from_records: bool = False


# The columns of a consensus row, in the CSV and the workbook's consensus sheet alike.
CONSENSUS_COLUMNS = (
    "Section",
    "Criterion key",
    "Statement",
    "Agreed level",
    "Level name",
    "Rationale",
    "Evidence items",
    "Level 3 or 4 without evidence",
)


def consensus_cells(level_names: dict[int, str], row: ConsensusRow) -> list[Any]:
    """A consensus row's cells under CONSENSUS_COLUMNS."""
    level_name = level_names.get(row.level, "") if row.level is not None else "Not agreed yet"
    evidence = [row.evidence_count, "Yes" if row.unevidenced else "No"]
    return [row.section, row.criterion_key, row.statement, row.level, level_name, row.rationale, *evidence]


def consensus_rows(session: Session, subject: Subject, report: ScoreReport) -> list[ConsensusRow]:
    """Every criterion that applies to the trust, in framework order, agreed or not yet."""
    assessment_id = subject.assessment.id or 0
    agreed = consensus_of(session, assessment_id)
    evidence = evidence_of(session, assessment_id)
    results = {c.key: c for s in report.sections for c in s.criteria}
    rows = []
    for section, criterion in criteria_of(session, subject.assessment):
        consensus = agreed.get(criterion.id or 0)
        result = results.get(criterion.key)
        rows.append(
            ConsensusRow(
                section=section_label(section),
                criterion_key=criterion.key,
                statement=criterion.statement,
                level=consensus.level if consensus else None,
                rationale=consensus.rationale if consensus else "",
                evidence_count=len(evidence.get(criterion.id or 0, [])),
                unevidenced=bool(result and result.unevidenced),
                rated=result.rated if result else 0,
                members_median=result.members_median if result else None,
                gap=one_decimal(result.gap) if result else None,
                disagreement=bool(result and result.disagreement),
                from_records=not criterion.member_rated,
            )
        )
    return rows


# --- Parts other features own ---------------------------------------------------------------------------


def action_plan(session: Session, assessment: Assessment) -> list[ActionView]:
    """The assessment's action plan: open actions first by due date, then done ones."""
    return actions_for_assessment(session, assessment)


def baf_risk_for(session: Session, subject: Subject) -> BafRiskView | None:
    """The trust's race-equality BAF risk for the report's cycle, else the latest earlier one
    (a later cycle's risk is not what the board had then); None if it has never recorded one."""
    row = session.exec(
        select(BafRisk)
        .join(Cycle, col(Cycle.id) == BafRisk.cycle_id)
        .where(
            BafRisk.organisation_id == subject.organisation.id, col(Cycle.opens_on) <= subject.cycle.opens_on
        )
        .order_by(col(Cycle.opens_on).desc())
    ).first()
    return risk_view(session, row) if row is not None else None
