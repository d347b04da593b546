"""JSON API for a board's scores (members of that trust only)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.db import SessionDep
from api.errors import error_responses
from api.permissions import MemberApi
from api.public import filled
from api.scoring.maths import DISAGREEMENT_RULE
from api.scoring.report import CriterionResult, Score, SectionResult, score_report

router = APIRouter(prefix="/api/v1", tags=["scores"], responses=error_responses(401, 404, 422))


class ScorePublic(BaseModel):
    score: float | None = Field(description="Mean agreed level, 0 to 4, to one decimal")
    percent: int | None = Field(description="The score as a percent of the maximum (4)")
    band: str | None = Field(description="Not started, Emerging, Developing, Established or Embedded")


class CriterionScorePublic(BaseModel):
    key: str
    consensus: int | None
    members_median: float | None = Field(description="To one decimal, as the results page shows it")
    members_iqr: float | None = Field(description="To one decimal")
    gap: float | None = Field(description="Agreed level minus the members' median as shown, to one decimal")
    disagreement: bool = Field(description="Flagged for discussion: " + DISAGREEMENT_RULE)
    unevidenced: bool = Field(description="Agreed at level 3 or 4 with no evidence")
    answered_from_records: bool = Field(
        False,
        description="A fact item (framework version 2): answered once for the board from its records, so "
        "no members' figures; scored like any agreed level",
    )
    shared: bool = Field(
        False,
        description="Shared with other trusts (framework version 2's optional flag; never changes the level)",
    )


class SectionScorePublic(ScorePublic):
    key: str
    title: str
    members_median: float | None = Field(description="Median of members' own section means, to one decimal")
    members_iqr: float | None = Field(description="To one decimal")
    gap: float | None = Field(
        description="Section score minus the members' median, both as shown; where some statements are "
        "fact items (framework version 2), the mean agreed level of the statements members rated"
    )
    disagreement: bool
    criteria: list[CriterionScorePublic]


class ScoresPublic(BaseModel):
    overall: ScorePublic
    priorities_scored: int = Field(description="How many of the ten priorities have a score")
    sections: list[SectionScorePublic]
    baf: SectionScorePublic | None
    evidence_coverage: float | None = Field(description="Share of criteria whose agreed rating has evidence")
    provisional: bool = Field(description="True while the assessment is a draft")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _score(score: Score) -> dict[str, object]:
    return {"score": score.shown, "percent": score.percent, "band": score.band}


def _criterion(result: CriterionResult) -> CriterionScorePublic:
    return filled(CriterionScorePublic, result, answered_from_records=result.from_records)


def section_public(result: SectionResult) -> SectionScorePublic:
    return filled(
        SectionScorePublic, result, **_score(result.score), criteria=[_criterion(c) for c in result.criteria]
    )


@router.get("/assessments/{assessment_id}/scores", response_model=ScoresPublic)
def get_scores(session: SessionDep, access: MemberApi) -> ScoresPublic:
    report = score_report(session, access.assessment, access.principal.user.id)
    return ScoresPublic(
        overall=ScorePublic(**_score(report.overall)),
        priorities_scored=report.priorities_scored,
        sections=[section_public(s) for s in report.sections if s.kind == "priority"],
        baf=section_public(report.baf) if report.baf else None,
        evidence_coverage=_round(report.evidence_coverage),
        provisional=report.provisional,
    )
