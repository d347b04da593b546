"""JSON API for the public reference list of NHS trusts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import select

from api.db import SessionDep
from api.errors import error_responses
from api.organisations.models import Organisation
from api.organisations.types import REGIONS, TRUST_TYPES

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"])

TrustTypeParam = Literal[tuple(TRUST_TYPES)]  # type: ignore[valid-type]
RegionParam = Literal[tuple(REGIONS)]  # type: ignore[valid-type]


class OrganisationPublic(BaseModel):
    """Public reference data only: nothing about a trust's assessment."""

    ods_code: str
    name: str
    trust_type: str
    region: str


@router.get("", response_model=list[OrganisationPublic], responses=error_responses(422))
def list_organisations(
    session: SessionDep,
    trust_type: Annotated[TrustTypeParam | None, Query(description="A fine trust type")] = None,
    region: Annotated[RegionParam | None, Query(description="An NHS England region")] = None,
) -> list[OrganisationPublic]:
    statement = select(Organisation).order_by(Organisation.name)
    if trust_type:
        statement = statement.where(Organisation.trust_type == trust_type)
    if region:
        statement = statement.where(Organisation.region == region)
    return [
        OrganisationPublic(ods_code=o.ods_code, name=o.name, trust_type=o.trust_type, region=o.region)
        for o in session.exec(statement).all()
    ]
