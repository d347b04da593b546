"""The evidence behind an agreed rating, on the consensus pages: links, files, removal, download,
and carrying last year's rationale and evidence forward."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from starlette.datastructures import FormData
from starlette.responses import Response

from api.assessments import carry_forward as carry_forward_service
from api.assessments import evidence as evidence_service
from api.assessments.consensus_form import FormState
from api.assessments.consensus_page import (
    answer_after_change,
    criterion_in_section,
    render_statement,
    signed_off_redirect,
)
from api.assessments.downloads import evidence_file_download
from api.assessments.schemas import (
    EvidenceFileUpload,
    LinkEvidenceCreate,
)
from api.csrf import verify_csrf
from api.errors import Conflict, FieldError
from api.forms import FormRead, PageForm, file_name_of
from api.pages import PageDep
from api.permissions import ManagerPage, MemberPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# --- Evidence -------------------------------------------------------------------------------------------


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/links", name="add_evidence_link"
)
def add_evidence_link(
    page: PageDep,
    access: ManagerPage,
    section_key: str,
    criterion_key: str,
    form: PageForm[LinkEvidenceCreate],
) -> Response:
    criterion_in_section(page.session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = FormState(link_title=form.values.get("title", ""), link_url=form.values.get("url", ""))
    for name, message in form.errors.items():
        state.evidence_errors[f"{key}-link-{name}"] = message
    if form.command is None:
        return render_statement(page, access, section_key, key, state, status_code=422, block="evidence")
    try:
        command = form.command
        evidence_service.add_link(
            page.session, access.principal, access.assessment.id, key, title=command.title, url=command.url
        )
    except Conflict:
        return signed_off_redirect(page, access, section_key)
    return answer_after_change(page, access, section_key, key, "link", "evidence")


def _upload_file_name(form: FormData, path: dict[str, str]) -> FormRead:
    return file_name_of("file", f"{path.get('criterion_key', '')}-file")(form)


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/files", name="add_evidence_file"
)
def add_evidence_file(
    page: PageDep,
    access: ManagerPage,
    section_key: str,
    criterion_key: str,
    form: PageForm[EvidenceFileUpload, _upload_file_name],
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    criterion_in_section(page.session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = FormState()
    state.evidence_errors.update(form.errors)
    if form.command is not None and file is not None:
        # Synchronous route (thread pool): read at most one byte past the limit.
        data = file.file.read(evidence_service.MAX_UPLOAD_BYTES + 1)
        try:
            evidence_service.add_file(
                page.session,
                access.principal,
                access.assessment.id,
                key,
                filename=form.command.file_name,
                data=data,
            )
        except FieldError as exc:
            state.evidence_errors[f"{key}-file"] = exc.message
        except Conflict:
            return signed_off_redirect(page, access, section_key)
    if state.evidence_errors:
        return render_statement(page, access, section_key, key, state, status_code=422, block="evidence")
    return answer_after_change(page, access, section_key, key, "file", "evidence")


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/evidence/{evidence_id}/remove",
    name="remove_evidence",
)
def remove_evidence(
    page: PageDep, access: ManagerPage, section_key: str, criterion_key: str, evidence_id: int
) -> Response:
    criterion_in_section(page.session, access.assessment, section_key, criterion_key)
    try:
        evidence_service.remove_evidence(page.session, access.principal, access.assessment.id, evidence_id)
    except Conflict:
        return signed_off_redirect(page, access, section_key)
    return answer_after_change(page, access, section_key, criterion_key, "removed", "evidence")


@router.get("/assessments/{assessment_id}/evidence/{evidence_id}/download", name="download_evidence_file")
def download_evidence(page: PageDep, access: MemberPage, evidence_id: int) -> Response:
    """An uploaded file, for members of its own trust only (anyone else: 404)."""
    evidence = evidence_service.evidence_for(
        page.session, access.principal, access.assessment.id, evidence_id
    )
    return evidence_file_download(page.request, page.session, evidence, evidence.title)


# --- Last year's rationale and evidence ---------------------------------------------------------------


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/carry-forward",
    name="carry_forward",
)
def carry_forward(page: PageDep, access: ManagerPage, section_key: str, criterion_key: str) -> Response:
    criterion = criterion_in_section(page.session, access.assessment, section_key, criterion_key)
    try:
        carry_forward_service.carry_forward(
            page.session,
            access.principal,
            access.assessment.id,
            criterion.key,
            k_anonymity=page.settings.k_anonymity,
        )
    except Conflict as exc:
        if "current" not in exc.extra:
            return signed_off_redirect(page, access, section_key)
        raise
    return answer_after_change(page, access, section_key, criterion.key, "carried", "criterion")
