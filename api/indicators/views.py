"""The page of the board's WRES indicators and EDI improvement plan progress for the assessment's year.

Every board member reads it; the chair and the board secretary see it as a form (and a CSV upload).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.roles import MANAGER_ROLES
from api.csrf import verify_csrf
from api.errors import Conflict
from api.forms import FormRead, PageForm, file_problems, text_upload
from api.indicators import service
from api.indicators.csv_import import ImportRefused
from api.indicators.definitions import HIA_STATUSES, NOTE_MAX, number_text
from api.indicators.schemas import IndicatorsUpdate, WresImport
from api.pages import Page, PageDep
from api.permissions import AssessmentAccess, ManagerPage, MemberPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

STALE_MESSAGE = (
    "Someone else saved the indicators while you were editing. What you typed is kept below: check it "
    "against what they saved, then save again"
)
DONE = {
    "saved": "The indicators have been saved.",
    "imported": "The WRES figures in the file have been recorded.",
}


def _typed(view: service.IndicatorsView) -> dict[str, str]:
    """The form's boxes as the saved record fills them."""
    typed = {
        field: ("" if value is None else number_text(value) if isinstance(value, float) else str(value))
        for field, value in view.values.items()
    }
    typed["version"] = str(view.version)
    return typed


def _page(
    page: Page,
    access: AssessmentAccess,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row_errors: list[str] | None = None,
    stale: bool = False,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    view = service.indicators_view(page.session, access.assessment)
    return page.render(
        "indicators/indicators.html",
        {
            "page_title": f"WRES indicators and EDI improvement plan {view.cycle}",
            "assessment": access.assessment,
            "membership": access.membership,
            "is_manager": access.membership.role in MANAGER_ROLES,
            "view": view,
            "form": typed if typed is not None else _typed(view),
            "errors": errors or {},
            "row_errors": row_errors or [],
            "stale": view if stale else None,
            "statuses": HIA_STATUSES,
            "note_max": NOTE_MAX,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


@router.get("/assessments/{assessment_id}/indicators", name="indicators")
def indicators_page(page: PageDep, access: MemberPage, done: str = "") -> Response:
    return _page(page, access, done=done[:20])


def _saved(page: Page, access: AssessmentAccess, done: str) -> Response:
    return page.redirect("indicators", assessment_id=access.assessment.id, query={"done": done})


@router.post("/assessments/{assessment_id}/indicators", name="save_indicators")
def save_indicators_page(
    page: PageDep,
    access: ManagerPage,
    form: PageForm[IndicatorsUpdate],
) -> Response:
    typed = dict(form.values)
    if form.command is None:
        return _page(page, access, typed=typed, errors=form.errors, status_code=422)
    try:
        service.save_indicators(page.session, access.principal.user, access.assessment, form.command)
    except Conflict as exc:
        current = exc.extra.get("current") or {}
        typed["version"] = str(
            current.get("version") or service.indicators_view(page.session, access.assessment).version
        )
        errors = {"wres_1_bme_workforce": STALE_MESSAGE}
        return _page(page, access, typed=typed, errors=errors, stale=True, status_code=409)
    return _saved(page, access, "saved")


def _upload_values(form: FormData) -> FormRead:
    upload = form.get("csv_file")
    version = form.get("version")
    return FormRead(
        {
            "file_name": getattr(upload, "filename", None) or "",
            "version": version if isinstance(version, str) else "",
        },
        {"file_name": "csv_file", "version": "csv_file"},
    )


@router.post("/assessments/{assessment_id}/indicators/import", name="import_indicators")
def import_indicators_page(
    page: PageDep,
    access: ManagerPage,
    form: PageForm[WresImport, _upload_values],
    csv_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    upload = text_upload(form, csv_file, "CSV")
    if upload.command is None:
        return _page(page, access, errors=upload.errors, status_code=422)
    try:
        service.import_wres(
            page.session,
            access.principal.user,
            access.assessment,
            text=upload.text,
            version=upload.command.version,
        )
    except ImportRefused as exc:
        summary, listed = file_problems(upload.command.file_name, [str(p) for p in exc.problems], "recorded")
        return _page(page, access, errors={"csv_file": summary}, row_errors=listed, status_code=422)
    except Conflict:
        errors = {
            "csv_file": "Someone else saved the indicators since you opened this page. Check them, then upload the file again"
        }
        return _page(page, access, errors=errors, stale=True, status_code=409)
    return _saved(page, access, "imported")
