"""JSON routes for platform admins that belong to no trust: closing a cycle early."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.admin.schemas import CloseCycleRequest
from api.assessments.cycles import close_cycle
from api.assessments.models import Cycle
from api.assessments.repository import cycle_by_name
from api.benchmarking.service import figures_final
from api.client_ip import client_ip
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import FieldError, error_responses
from api.permissions import PlatformAdminApi
from api.public import filled

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin"],
    responses=error_responses(401, 403, 409, 422, described={403: "Only platform admins"}),
)


class CyclePublic(BaseModel):
    name: str
    opens_on: date
    closes_on: date
    closed_at: datetime | None
    version: int
    figures_final: bool


@router.post(
    "/cycles/close",
    response_model=CyclePublic,
    responses={409: {"description": "Already closed, not open yet, or a stale version (`current`)"}},
)
def close_cycle_route(
    request: Request,
    body: CloseCycleRequest,
    session: SessionDep,
    settings: SettingsDep,
    admin: PlatformAdminApi,
) -> CyclePublic:
    """Close the year now: the final figures are taken, and every later change is refused."""
    cycle: Cycle | None = cycle_by_name(session, body.cycle)
    if cycle is None:
        raise FieldError("cycle", f"There is no {body.cycle} cycle")
    close_cycle(
        session,
        cycle,
        version=body.version,
        k=settings.k_anonymity,
        actor=admin.user,
        client_ip=client_ip(request),
    )
    return filled(CyclePublic, cycle, figures_final=figures_final(session, cycle))
