"""JSON API for the board's WRES indicators and EDI improvement plan progress (one record per
assessment). Every board member reads; the chair and the board secretary record and import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.db import SessionDep
from api.errors import FieldError, Unprocessable, error_responses
from api.forms import read_upload
from api.indicators import service
from api.indicators.csv_import import ImportRefused
from api.indicators.schemas import (
    HighImpactActionPublic,
    ImportProblem,
    IndicatorsPublic,
    IndicatorsUpdate,
    MeasurePublic,
)
from api.integers import MAX_INTEGER
from api.permissions import ManagerApi, MemberApi
from api.public import filled

router = APIRouter(prefix="/api/v1", tags=["indicators"], responses=error_responses(401, 403, 404, 422))


def indicators_public(view: service.IndicatorsView) -> IndicatorsPublic:
    return filled(
        IndicatorsPublic,
        view,
        wres=[filled(MeasurePublic, v.measure, value=v.value, text=v.text) for v in view.measures],
        high_impact_actions=[
            filled(HighImpactActionPublic, p.action, status=p.status, status_name=p.status_name, note=p.note)
            for p in view.actions
        ],
    )


@router.get("/assessments/{assessment_id}/indicators", response_model=IndicatorsPublic)
def get_indicators(session: SessionDep, access: MemberApi) -> IndicatorsPublic:
    """The year's WRES figures and high impact action progress; version 0 when nothing is recorded."""
    return indicators_public(service.indicators_view(session, access.assessment))


@router.put(
    "/assessments/{assessment_id}/indicators",
    response_model=IndicatorsPublic,
    responses=error_responses(
        described={
            409: "Stale version (the answer holds the current one)",
            422: "A figure out of range (a relative likelihood must be more than 0 and at most 20, a "
            "percentage 0 to 100, indicator 9 -100 to 100), or an unknown status",
        }
    ),
)
def put_indicators(body: IndicatorsUpdate, session: SessionDep, access: ManagerApi) -> IndicatorsPublic:
    """Replace what is recorded: a field left out is not recorded."""
    view = service.save_indicators(session, access.principal.user, access.assessment, body)
    return indicators_public(view)


@router.post(
    "/assessments/{assessment_id}/indicators/wres-csv",
    response_model=IndicatorsPublic,
    responses=error_responses(
        described={
            409: "Stale version (the answer holds the current one)",
            422: "The file has problems: `problems` lists each with its row and column; nothing was recorded",
        }
    ),
)
def import_wres_csv(
    session: SessionDep,
    access: ManagerApi,
    file: Annotated[
        UploadFile, File(description="CSV with columns indicator, group, value (docs/indicators.md)")
    ],
    version: Annotated[int, Form(ge=0, le=MAX_INTEGER, description="The version you last saw")],
) -> IndicatorsPublic:
    """Record the WRES figures in a CSV file; figures it leaves out keep what was recorded."""
    text, problem = read_upload(file, "CSV")
    if problem:
        raise FieldError("file", problem)
    try:
        view = service.import_wres(
            session, access.principal.user, access.assessment, text=text, version=version
        )
    except ImportRefused as exc:
        raise Unprocessable(
            f"The file has {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}. "
            "Nothing has been recorded",
            problems=[
                ImportProblem(row=p.row, column=p.column, message=p.message).model_dump()
                for p in exc.problems
            ],
        ) from None
    return indicators_public(view)
