"""Pages where the chair and board secretary agree the board's ratings, and the chair signs off.

The spread of members' ratings is shown as counts, median, range and comments only: nothing on
these pages names a member, dates a rating or orders comments by person or time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.models import User
from api.accounts.roles import CHAIR
from api.assessments import carry_forward as carry_forward_service
from api.assessments import evidence as evidence_service
from api.assessments import service
from api.assessments.carry_forward import LastYear, cycle_names, evidence_key, last_years
from api.assessments.cycles import is_closed, late_submission_refusal
from api.assessments.downloads import evidence_file_download
from api.assessments.models import Assessment, ConsensusRating, Cycle, Evidence
from api.assessments.repository import (
    assessment_for_admin,
    by_section,
    consensus_of,
    criteria_of,
    evidence_of,
)
from api.assessments.schemas import (
    ConsensusUpdate,
    EvidenceFileUpload,
    LinkEvidenceCreate,
    ReopenRequest,
    SignOffConfirmation,
)
from api.assessments.signoff import sign_off_checks
from api.assessments.spread import (
    MIN_OTHER_RATERS,
    CriterionSpreadData,
    board_headline,
    board_spread,
    empty_spread,
    rating_closed,
)
from api.csrf import verify_csrf
from api.db import SessionDep, utcnow
from api.deps import SettingsDep
from api.errors import Conflict, FieldError, NotFound, Unprocessable
from api.forms import CommandForm, FormRead, command_form, file_name_of
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document
from api.organisations.models import Organisation
from api.permissions import AssessmentAccess, ChairPage, ManagerPage, MemberPage, PlatformAdminPage
from api.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


MAX_RATIONALE = 5000
STALE_MESSAGE = (
    "Someone else changed this agreed rating while you were editing. Their version is shown below; "
    "your text is kept in the box so you can copy it"
)
# What the success banner says after a form without JavaScript redirects back (?done=...).
DONE_MESSAGES = {
    "saved": "The agreed level has been saved.",
    "link": "The link has been added.",
    "file": "The file has been uploaded.",
    "removed": "The evidence has been removed.",
    "carried": (
        "Last year's rationale and evidence have been copied. "
        "Check they are still true this year and change them if not."
    ),
}
READABLE_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _section_url(assessment_id: int, section_key: str) -> str:
    return f"/assessments/{assessment_id}/consensus/{section_key}"


def _level_names(doc: FrameworkDefinition) -> dict[int, str]:
    return {level.level: level.name for level in doc.levels}


def _framework_doc(session: Session, assessment: Assessment) -> FrameworkDefinition:
    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert framework is not None
    return framework_document(framework)


def _assessment_names(session: Session, assessment: Assessment) -> tuple[Organisation, Cycle]:
    organisation = session.get(Organisation, assessment.organisation_id)
    cycle = session.get(Cycle, assessment.cycle_id)
    assert organisation is not None and cycle is not None
    return organisation, cycle


def _signed_off_by(session: Session, assessment: Assessment) -> User | None:
    return session.get(User, assessment.submitted_by_id) if assessment.submitted_by_id else None


# --- What the section page shows for one criterion ------------------------------------------------


@dataclass(frozen=True)
class EvidenceItem:
    evidence: Evidence
    title: str
    carried_from: str | None

    @property
    def size_text(self) -> str:
        kind = READABLE_TYPES.get(self.evidence.content_type or "", "File")
        size = self.evidence.size_bytes or 0
        shown = f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"
        return f"{kind}, {shown}"


def _evidence_items(rows: list[Evidence], carried_from: dict[int, str]) -> list[EvidenceItem]:
    return [
        EvidenceItem(evidence, evidence.title, carried_from.get(evidence.carried_from_cycle_id or 0))
        for evidence in rows
    ]


@dataclass
class FormState:
    """What the person sent, kept when the page comes back with a problem."""

    level: str | None = None
    rationale: str | None = None
    version: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    evidence_errors: dict[str, str] = field(default_factory=dict)
    stale: bool = False
    link_title: str = ""
    link_url: str = ""
    done: str | None = None


@dataclass
class CriterionView:
    key: str
    number: str
    statement: str
    guidance: str
    descriptors: dict[int, str]
    evidence_prompts: list[str]
    spread: CriterionSpreadData
    consensus: ConsensusRating | None
    evidence: list[EvidenceItem]
    last_year: LastYear | None
    next_href: str
    next_text: str
    state: FormState

    @property
    def agreed(self) -> bool:
        return self.consensus is not None and self.consensus.level is not None

    @property
    def form_level(self) -> str | None:
        if self.state.level is not None:
            return self.state.level
        if self.consensus is not None and self.consensus.level is not None:
            return str(self.consensus.level)
        return None

    @property
    def form_rationale(self) -> str:
        if self.state.rationale is not None:
            return self.state.rationale
        return self.consensus.rationale if self.consensus else ""

    @property
    def form_version(self) -> int:
        if self.state.version is not None:
            return self.state.version
        return self.consensus.version if self.consensus else 0

    @property
    def rationale_is_last_years(self) -> bool:
        return bool(
            self.last_year
            and self.consensus
            and self.last_year.rationale.strip()
            and self.consensus.rationale.strip() == self.last_year.rationale.strip()
        )

    @property
    def can_carry_forward(self) -> bool:
        last = self.last_year
        if last is None:
            return False
        rationale_empty = not (self.consensus and self.consensus.rationale.strip())
        have = {evidence_key(item.evidence) for item in self.evidence}
        return (rationale_empty and bool(last.rationale.strip())) or any(
            evidence_key(e) not in have for e in last.evidence
        )

    @property
    def median_text(self) -> str | None:
        median = self.spread.median
        if median is None:
            return None
        return str(int(median)) if float(median).is_integer() else f"{median:.1f}"

    @property
    def range_text(self) -> str | None:
        low, high = self.spread.low, self.spread.high
        if low is None or high is None:
            return None
        return f"all chose {low}" if low == high else f"from {low} to {high}"


@dataclass
class SectionData:
    section: FrameworkSection
    summary: str
    items: list[CriterionView]
    previous_section: FrameworkSection | None
    next_section: FrameworkSection | None
    agreed: int


def section_data(
    session: Session,
    assessment: Assessment,
    section_key: str,
    viewer_id: int,
    states: dict[str, FormState] | None = None,
) -> SectionData:
    sections = by_section(criteria_of(session, assessment))
    index = next((i for i, (s, _c) in enumerate(sections) if s.key == section_key), None)
    if index is None:
        raise NotFound("No section with that name in this assessment")
    section, criteria = sections[index]
    next_section = sections[index + 1][0] if index + 1 < len(sections) else None
    doc = _framework_doc(session, assessment)
    doc_section = next(s for s in doc.sections if s.key == section.key)
    spreads = board_spread(session, assessment, viewer_id)
    closed = rating_closed(assessment)
    agreed = consensus_of(session, assessment.id)
    evidence = evidence_of(session, assessment.id)
    wanted = {}
    for criterion in criteria:
        doc_criterion = doc.criterion(criterion.key)
        wanted[criterion.key] = [criterion.key, *(doc_criterion.replaces if doc_criterion else [])]
    found_last_years = last_years(session, assessment, wanted)
    carried_from = cycle_names(session, [e for rows in evidence.values() for e in rows])
    states = states or {}
    items = []
    for position, criterion in enumerate(criteria):
        doc_criterion = doc.criterion(criterion.key)
        assert doc_criterion is not None
        if position + 1 < len(criteria):
            next_href, next_text = f"#{criteria[position + 1].key}", "Go to the next statement"
        elif next_section is not None:
            next_href = _section_url(assessment.id, next_section.key)
            next_text = f"Go to the next section: {next_section.title}"
        else:
            next_href, next_text = f"/assessments/{assessment.id}/consensus", "Back to all sections"
        items.append(
            CriterionView(
                key=criterion.key,
                number=f"{section.number}.{position + 1}",
                statement=criterion.statement,
                guidance=doc_criterion.guidance,
                descriptors=doc_criterion.descriptors,
                evidence_prompts=list(doc_criterion.evidence_prompts),
                spread=spreads.get(criterion.id or 0) or empty_spread(closed),
                consensus=agreed.get(criterion.id or 0),
                evidence=_evidence_items(evidence.get(criterion.id or 0, []), carried_from),
                last_year=found_last_years.get(criterion.key),
                next_href=next_href,
                next_text=next_text,
                state=states.get(criterion.key) or FormState(),
            )
        )
    return SectionData(
        section=section,
        summary=doc_section.summary,
        items=items,
        previous_section=sections[index - 1][0] if index > 0 else None,
        next_section=next_section,
        agreed=sum(1 for item in items if item.agreed),
    )


def _render_section(
    request: Request,
    session: SessionDep,
    access: AssessmentAccess,
    section_key: str,
    *,
    states: dict[str, FormState] | None = None,
    status_code: int = 200,
    block: str | None = None,
    only: str | None = None,
) -> Response:
    """The section page, or (for htmx) one criterion's block or its evidence block."""
    assessment = access.assessment
    data = section_data(session, assessment, section_key, access.principal.user.id, states)
    organisation, cycle = _assessment_names(session, assessment)
    items = data.items
    fragment = _is_htmx(request) and block is not None
    if fragment:
        items = [item for item in items if item.key == only]
    page_errors: dict[str, str] = {}
    for item in data.items:
        page_errors.update(item.state.errors)
        page_errors.update(item.state.evidence_errors)
    context: dict[str, Any] = {
        "page_title": f"{data.section.number}. {data.section.title} – agree the board's ratings",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "section": data.section,
        "section_summary": data.summary,
        "items": items,
        "agreed": data.agreed,
        "total": len(data.items),
        "previous_section": data.previous_section,
        "next_section": data.next_section,
        "editable": assessment.status == "in_progress",
        "rating_closed": rating_closed(assessment),
        "is_chair": access.membership.role == CHAIR,
        "min_others": MIN_OTHER_RATERS,
        "level_names": _level_names(_framework_doc(session, assessment)),
        "page_errors": page_errors,
        "error_summary": bool(page_errors),
        "fragment": fragment,
        "done_messages": DONE_MESSAGES,
    }
    if fragment:
        context["item"] = items[0]
    # htmx swaps only 2xx answers: a problem comes back as 200 with the error summary in the fragment.
    return render(
        request,
        "assessments/consensus_section.html",
        context,
        status_code=200 if fragment else status_code,
        block=block,
    )


def _done_redirect(
    request: Request, access: AssessmentAccess, section_key: str, key: str, done: str
) -> Response:
    url = f"{_section_url(access.assessment.id, section_key)}?done={done}&criterion={key}#{key}"
    return RedirectResponse(url, status_code=303)


def _criterion_in_section(session: Session, assessment: Assessment, section_key: str, key: str) -> Criterion:
    for section, criterion in criteria_of(session, assessment):
        if section.key == section_key and criterion.key == key:
            return criterion
    raise NotFound("No statement with that name in this section")


def _answer(
    request: Request,
    session: SessionDep,
    access: AssessmentAccess,
    section_key: str,
    key: str,
    done: str,
    block: str,
) -> Response:
    """After a change: htmx gets the block back; a plain form goes back to the page (303)."""
    if _is_htmx(request):
        states = {key: FormState(done=done)}
        return _render_section(request, session, access, section_key, states=states, block=block, only=key)
    return _done_redirect(request, access, section_key, key, done)


def _signed_off_redirect(request: Request, access: AssessmentAccess, section_key: str) -> Response:
    """A change after sign-off: show the (now read-only) page rather than an error htmx would hide."""
    url = _section_url(access.assessment.id, section_key)
    if _is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# --- Overview ---------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/consensus", name="consensus_overview")
def consensus_overview(request: Request, session: SessionDep, access: ManagerPage) -> Response:
    assessment = access.assessment
    organisation, cycle = _assessment_names(session, assessment)
    agreed = consensus_of(session, assessment.id)
    sections = []
    total = left = 0
    for section, criteria in by_section(criteria_of(session, assessment)):
        done = sum(
            1 for c in criteria if (row := agreed.get(c.id or 0)) is not None and row.level is not None
        )
        sections.append({"section": section, "agreed": done, "total": len(criteria)})
        total += len(criteria)
        left += len(criteria) - done
    finished, members = service.board_progress(session, assessment)
    return render(
        request,
        "assessments/consensus_overview.html",
        {
            "page_title": f"Agree the board's ratings – {cycle.name}",
            "assessment": assessment,
            "organisation": organisation,
            "cycle": cycle,
            "sections": sections,
            "total": total,
            "left": left,
            "members_finished": finished,
            "members": members,
            "not_finished": service.members_not_finished(session, assessment),
            "rating_closed": rating_closed(assessment),
            "min_others": MIN_OTHER_RATERS,
            "is_chair": access.membership.role == CHAIR,
            "signed_off_by": _signed_off_by(session, assessment),
            "headline": board_headline(session, assessment, access.principal.user.id),
            "meeting_href": f"/assessments/{assessment.id}/meeting",
            "finished_meeting": request.query_params.get("done") == "meeting",
        },
    )


# --- One section --------------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}/consensus/{section_key}", name="consensus_section")
def consensus_section(
    request: Request,
    section_key: str,
    session: SessionDep,
    access: ManagerPage,
    done: str | None = None,
    criterion: str | None = None,
) -> Response:
    states = {criterion: FormState(done=done)} if criterion and done in DONE_MESSAGES else None
    return _render_section(request, session, access, section_key, states=states)


@router.post("/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}", name="save_consensus")
def save_consensus(
    request: Request,
    section_key: str,
    criterion_key: str,
    session: SessionDep,
    settings: SettingsDep,
    access: ManagerPage,
    form: Annotated[CommandForm[ConsensusUpdate], Depends(command_form(ConsensusUpdate))],
) -> Response:
    _criterion_in_section(session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = FormState(level=form.values.get("level") or None, rationale=form.values.get("rationale", ""))
    for name, message in form.errors.items():
        state.errors[f"{key}-{'rationale' if name == 'rationale' else 'level'}"] = message
    typed_version = form.values.get("version", "0")
    seen_version = int(typed_version) if typed_version.isdigit() else 0
    if form.command is None:
        state.version = seen_version
        return _render_section(
            request,
            session,
            access,
            section_key,
            states={key: state},
            status_code=422,
            block="criterion",
            only=key,
        )
    command = form.command
    try:
        service.agree_consensus(
            session, access.principal, access.assessment.id, key, command, k_anonymity=settings.k_anonymity
        )
    except FieldError as refused:
        # The board's reason is needed where the level is far from the members' median.
        state.version = seen_version
        state.errors[f"{key}-rationale"] = refused.message
        return _render_section(
            request,
            session,
            access,
            section_key,
            states={key: state},
            status_code=422,
            block="criterion",
            only=key,
        )
    except Conflict as exc:
        if "current" not in exc.extra:
            return _signed_off_redirect(request, access, section_key)
        # Keep what they typed; the next save is against the version now shown to them.
        current = exc.extra["current"] or {}
        state.version = int(current.get("version") or 0)
        state.stale = True
        state.errors[f"{key}-rationale"] = STALE_MESSAGE
        return _render_section(
            request,
            session,
            access,
            section_key,
            states={key: state},
            status_code=409,
            block="criterion",
            only=key,
        )
    return _answer(request, session, access, section_key, key, "saved", "criterion")


# --- Evidence -------------------------------------------------------------------------------------------


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/links", name="add_evidence_link"
)
def add_evidence_link(
    request: Request,
    section_key: str,
    criterion_key: str,
    session: SessionDep,
    access: ManagerPage,
    form: Annotated[CommandForm[LinkEvidenceCreate], Depends(command_form(LinkEvidenceCreate))],
) -> Response:
    _criterion_in_section(session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = FormState(link_title=form.values.get("title", ""), link_url=form.values.get("url", ""))
    for name, message in form.errors.items():
        state.evidence_errors[f"{key}-link-{name}"] = message
    if form.command is None:
        return _render_section(
            request,
            session,
            access,
            section_key,
            states={key: state},
            status_code=422,
            block="evidence",
            only=key,
        )
    try:
        command = form.command
        evidence_service.add_link(
            session, access.principal, access.assessment.id, key, title=command.title, url=command.url
        )
    except Conflict:
        return _signed_off_redirect(request, access, section_key)
    return _answer(request, session, access, section_key, key, "link", "evidence")


def _upload_file_name(form: FormData, path: dict[str, str]) -> FormRead:
    return file_name_of("file", f"{path.get('criterion_key', '')}-file")(form)


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/files", name="add_evidence_file"
)
def add_evidence_file(
    request: Request,
    section_key: str,
    criterion_key: str,
    session: SessionDep,
    access: ManagerPage,
    form: Annotated[
        CommandForm[EvidenceFileUpload], Depends(command_form(EvidenceFileUpload, read=_upload_file_name))
    ],
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _criterion_in_section(session, access.assessment, section_key, criterion_key)
    key = criterion_key
    state = FormState()
    state.evidence_errors.update(form.errors)
    if form.command is not None and file is not None:
        # Synchronous route (thread pool): read at most one byte past the limit.
        data = file.file.read(evidence_service.MAX_UPLOAD_BYTES + 1)
        try:
            evidence_service.add_file(
                session,
                access.principal,
                access.assessment.id,
                key,
                filename=form.command.file_name,
                data=data,
            )
        except FieldError as exc:
            state.evidence_errors[f"{key}-file"] = exc.message
        except Conflict:
            return _signed_off_redirect(request, access, section_key)
    if state.evidence_errors:
        return _render_section(
            request,
            session,
            access,
            section_key,
            states={key: state},
            status_code=422,
            block="evidence",
            only=key,
        )
    return _answer(request, session, access, section_key, key, "file", "evidence")


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/evidence/{evidence_id}/remove",
    name="remove_evidence",
)
def remove_evidence(
    request: Request,
    section_key: str,
    criterion_key: str,
    evidence_id: int,
    session: SessionDep,
    access: ManagerPage,
) -> Response:
    _criterion_in_section(session, access.assessment, section_key, criterion_key)
    try:
        evidence_service.remove_evidence(session, access.principal, access.assessment.id, evidence_id)
    except Conflict:
        return _signed_off_redirect(request, access, section_key)
    return _answer(request, session, access, section_key, criterion_key, "removed", "evidence")


@router.get("/assessments/{assessment_id}/evidence/{evidence_id}/download", name="download_evidence")
def download_evidence(
    request: Request, evidence_id: int, session: SessionDep, access: MemberPage
) -> Response:
    """An uploaded file, for members of its own trust only (anyone else: 404)."""
    evidence = evidence_service.evidence_for(session, access.principal, access.assessment.id, evidence_id)
    return evidence_file_download(request, session, evidence, evidence.title)


# --- Last year's rationale and evidence ---------------------------------------------------------------


@router.post(
    "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/carry-forward",
    name="carry_forward",
)
def carry_forward(
    request: Request,
    section_key: str,
    criterion_key: str,
    session: SessionDep,
    settings: SettingsDep,
    access: ManagerPage,
) -> Response:
    criterion = _criterion_in_section(session, access.assessment, section_key, criterion_key)
    try:
        carry_forward_service.carry_forward(
            session, access.principal, access.assessment.id, criterion.key, k_anonymity=settings.k_anonymity
        )
    except Conflict as exc:
        if "current" not in exc.extra:
            return _signed_off_redirect(request, access, section_key)
        raise
    return _answer(request, session, access, section_key, criterion.key, "carried", "criterion")


# --- Sign-off -------------------------------------------------------------------------------------------


def _submit_context(session: Session, assessment: Assessment, viewer_id: int) -> dict[str, Any]:
    organisation, cycle = _assessment_names(session, assessment)
    missing_ids = {c.id for c in service.missing_consensus(session, assessment)}
    agreed = consensus_of(session, assessment.id)
    level_names = _level_names(_framework_doc(session, assessment))
    sections = []
    missing = []
    for section, criteria in by_section(criteria_of(session, assessment)):
        rows = []
        for position, criterion in enumerate(criteria, start=1):
            number = f"{section.number}.{position}"
            href = f"{_section_url(assessment.id, section.key)}#{criterion.key}"
            if criterion.id in missing_ids:
                missing.append({"number": number, "statement": criterion.statement, "href": href})
            else:
                level = agreed[criterion.id or 0].level
                rows.append(
                    {
                        "number": number,
                        "statement": criterion.statement,
                        "level": level,
                        "level_name": level_names.get(level or 0, ""),
                        "href": href,
                    }
                )
        sections.append({"section": section, "rows": rows})
    return {
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "sections": sections,
        "missing": missing,
        "rating_closed": rating_closed(assessment),
        "checks": sign_off_checks(session, assessment, viewer_id),
        "level_names": level_names,
        "errors": {},
    }


@router.get("/assessments/{assessment_id}/submit", name="submit_assessment")
def submit_page(request: Request, session: SessionDep, access: ChairPage) -> Response:
    assessment = access.assessment
    if assessment.status == "submitted":
        return RedirectResponse(f"/assessments/{assessment.id}/submitted", status_code=303)
    context = _submit_context(session, assessment, access.principal.user.id)
    context["page_title"] = "Check the agreed ratings before you submit"
    context["closed"] = late_submission_refusal(
        session, context["cycle"], assessment.id, request.app.state.settings.k_anonymity, utcnow().date()
    )
    return render(request, "assessments/submit.html", context)


@router.post("/assessments/{assessment_id}/submit")
def submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    access: ChairPage,
    form: Annotated[CommandForm[SignOffConfirmation], Depends(command_form(SignOffConfirmation))],
) -> Response:
    viewer_id = access.principal.user.id
    if access.assessment.status != "submitted":
        context = _submit_context(session, access.assessment, viewer_id)
        context["page_title"] = "Check the agreed ratings before you submit"
        confirmed = form.command is not None and form.command.confirmed
        ready = not context["missing"] and not context["checks"].blocked
        if (
            ready
            and context["checks"].warnings
            and not confirmed
            and not is_closed(context["cycle"], utcnow().date())
        ):
            # The chair signs off with the board's gaps in view, not past them.
            context["errors"] = {"confirmed": SignOffConfirmation.form_messages["confirmed"]}
            context["error_summary"] = True
            return render(request, "assessments/submit.html", context, status_code=422)
    try:
        service.submit(session, access.principal, access.assessment.id, k_anonymity=settings.k_anonymity)
    except Unprocessable:
        # Someone cleared or never agreed a level, or a far level has no reason: show the list again.
        context = _submit_context(session, access.assessment, viewer_id)
        context["page_title"] = "Check the agreed ratings before you submit"
        return render(request, "assessments/submit.html", context, status_code=422)
    except Conflict as refused:
        context = _submit_context(session, access.assessment, viewer_id)
        if not is_closed(context["cycle"], utcnow().date()):
            raise
        context["page_title"] = "Check the agreed ratings before you submit"
        context["closed"] = refused.message
        return render(request, "assessments/submit.html", context, status_code=409)
    return RedirectResponse(f"/assessments/{access.assessment.id}/submitted", status_code=303)


@router.get("/assessments/{assessment_id}/submitted", name="assessment_submitted")
def submitted_page(request: Request, session: SessionDep, access: ManagerPage) -> Response:
    assessment = access.assessment
    if assessment.status != "submitted":
        return RedirectResponse(f"/assessments/{assessment.id}/consensus", status_code=303)
    organisation, cycle = _assessment_names(session, assessment)
    return render(
        request,
        "assessments/submitted.html",
        {
            "page_title": "Assessment submitted",
            "assessment": assessment,
            "organisation": organisation,
            "cycle": cycle,
            "signed_off_by": _signed_off_by(session, assessment),
        },
    )


# --- Reopening (platform admin) -----------------------------------------------------------------------


def _reopen_context(session: Session, assessment: Assessment) -> dict[str, Any]:
    organisation, cycle = _assessment_names(session, assessment)
    return {
        "page_title": f"Reopen the {cycle.name} assessment of {organisation.name}",
        "assessment": assessment,
        "organisation": organisation,
        "cycle": cycle,
        "signed_off_by": _signed_off_by(session, assessment),
    }


@router.get("/admin/assessments/{assessment_id}/reopen", name="reopen_assessment")
def reopen_page(
    request: Request, assessment_id: int, session: SessionDep, admin: PlatformAdminPage
) -> Response:
    assessment = assessment_for_admin(session, assessment_id)
    return render(request, "admin/reopen.html", {**_reopen_context(session, assessment), "reason": ""})


@router.post("/admin/assessments/{assessment_id}/reopen")
def reopen(
    request: Request,
    assessment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    admin: PlatformAdminPage,
    form: Annotated[CommandForm[ReopenRequest], Depends(command_form(ReopenRequest))],
) -> Response:
    assessment = assessment_for_admin(session, assessment_id)
    context = {**_reopen_context(session, assessment), "reason": form.values.get("reason", "")}
    if form.command is None:
        return render(
            request,
            "admin/reopen.html",
            {**context, "errors": form.errors, "error_summary": True},
            status_code=422,
        )
    try:
        service.reopen(session, admin.user, assessment, form.command.reason, k_anonymity=settings.k_anonymity)
    except Conflict:
        # Already reopened (by someone else, or a second press): the page says so.
        return render(request, "admin/reopen.html", context, status_code=409)
    return render(
        request,
        "admin/reopened.html",
        {**context, "page_title": "Assessment reopened", "reason": form.command.reason},
    )
