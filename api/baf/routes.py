"""JSON API for the trust's race-equality risk on its board assurance framework.

GET answers 404 with "No race equality risk recorded yet" until the board records one (the same
status as another trust's code: the detail tells them apart only for the trust's own members).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.baf import service
from api.baf.schemas import (
    Assurance,
    BafRiskContent,
    BafRiskPublic,
    BafRiskUpdate,
    BafRiskVersionPublic,
    GapPublic,
    LinkedAction,
)
from api.db import SessionDep
from api.errors import NotFound, error_responses
from api.permissions import TrustManagerApi, TrustMemberApi
from api.public import filled

router = APIRouter(
    prefix="/api/v1", tags=["board assurance framework"], responses=error_responses(401, 403, 404, 422)
)


def risk_public(ods_code: str, view: service.BafRiskView) -> BafRiskPublic:
    appetite = view.appetite
    return filled(
        BafRiskPublic,
        view,
        organisation_code=ods_code,
        current_cycle=view.is_current_cycle,
        **{
            f"{stage}_{name}": getattr(position, name) if position is not None else None
            for stage, position in (
                ("inherent", view.inherent),
                ("residual", view.residual),
                ("target", view.target),
            )
            for name in ("likelihood", "consequence", "score", "rating")
        },
        appetite_level=appetite.level if appetite else None,
        appetite_low=appetite.low if appetite else None,
        appetite_high=appetite.high if appetite else None,
        appetite=appetite.text if appetite else None,
        assurances=[filled(Assurance, a) for a in view.assurances],
        gaps=[
            filled(GapPublic, gap, actions=[filled(LinkedAction, a) for a in gap.actions])
            for gap in view.gaps
        ],
    )


@router.get(
    "/organisations/{ods_code}/baf-risk",
    response_model=BafRiskPublic,
    responses=error_responses(described={404: "Not one of your trusts, or no risk recorded yet"}),
)
def get_baf_risk(session: SessionDep, access: TrustMemberApi) -> BafRiskPublic:
    view = service.current_baf_risk(session, access.organisation.id)
    if view is None:
        raise NotFound("No race equality risk recorded yet")
    return risk_public(access.organisation.ods_code, view)


@router.put(
    "/organisations/{ods_code}/baf-risk",
    response_model=BafRiskPublic,
    responses=error_responses(
        described={
            409: "Stale version (the answer holds the current one), or no cycle has started",
            422: "A likelihood or consequence outside 1–5, an appetite range outside 1–25 or upside down, "
            "no rationale or date to reach target when out of appetite, or another trust's action in a gap",
        }
    ),
)
def put_baf_risk(body: BafRiskUpdate, session: SessionDep, access: TrustManagerApi) -> BafRiskPublic:
    row = service.save_baf_risk(session, access.principal.user, access.organisation, body)
    return risk_public(access.organisation.ods_code, service.risk_view(session, row))


@router.get("/organisations/{ods_code}/baf-risk/history", response_model=list[BafRiskVersionPublic])
def get_baf_risk_history(session: SessionDep, access: TrustMemberApi) -> list[BafRiskVersionPublic]:
    """Every version, newest cycle first and newest version first within it (the current one marked)."""
    return [_version_public(entry) for entry in service.risk_history(session, access.organisation.id)]


def _version_public(entry: service.HistoryEntry) -> BafRiskVersionPublic:
    texts = {key: entry.content[key] for key in ("description", "strategic_objective", "lead")}
    # Inherent scores are optional (None when not recorded).
    positions = {
        f"{name}_{part}": getattr(position, part) if position is not None else None
        for name in ("inherent", "residual", "target")
        for part in ("score", "rating")
        for position in (getattr(entry, name),)
    }
    content = BafRiskContent.model_validate(entry.content)
    return filled(
        BafRiskVersionPublic,
        entry,
        **texts,
        **positions,
        appetite=entry.appetite.text if entry.appetite else None,
        in_appetite=None if entry.appetite_status is None else entry.appetite_status == "within",
        content=content,
    )
