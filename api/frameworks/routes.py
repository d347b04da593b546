"""JSON API for the questionnaire frameworks (public: the questions are not confidential)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import select

from api.db import SessionDep
from api.errors import NotFound, error_responses
from api.frameworks.models import FrameworkRecord
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document

router = APIRouter(prefix="/api/v1/frameworks", tags=["frameworks"])


class FrameworkSummary(BaseModel):
    key: str
    version: int
    title: str
    sections: int
    criteria: int


class FrameworkPublic(FrameworkDefinition):
    """The whole framework: sections, criteria, level descriptors, evidence prompts, resources."""


@router.get("", response_model=list[FrameworkSummary])
def list_frameworks(session: SessionDep) -> list[FrameworkSummary]:
    rows = session.exec(select(FrameworkRecord).order_by(FrameworkRecord.key)).all()
    summaries = []
    for row in rows:
        doc = framework_document(row)
        summaries.append(
            FrameworkSummary(
                key=row.key,
                version=row.version,
                title=row.title,
                sections=len(doc.sections),
                criteria=sum(len(s.criteria) for s in doc.sections),
            )
        )
    return summaries


@router.get("/{key}", response_model=FrameworkPublic, responses=error_responses(404, 422))
def get_framework(key: str, session: SessionDep) -> FrameworkDefinition:
    row = session.exec(select(FrameworkRecord).where(FrameworkRecord.key == key)).first()
    if row is None:
        raise NotFound(f"No framework with key {key!r}")
    return framework_document(row)
