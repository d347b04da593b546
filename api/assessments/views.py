"""Pages for each member's own ratings: the task list and one section per page (the headline question
is in headline_views.py).

Autosave: each criterion posts itself (htmx, on change) and gets back its new version and a
"Saved at HH:MM" status. Without JavaScript the section's "Save and continue" button saves the lot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.roles import CHAIR, MANAGER_ROLES, RATER_ROLES
from api.assessments import service
from api.assessments.models import Cycle, Rating
from api.assessments.repository import criteria_of, my_ratings, rated_criteria_of
from api.assessments.routes import save_member_rating
from api.assessments.schemas import (
    RATING_FORM_MESSAGES,
    AssessmentCreate,
    RatingUpdate,
    SectionAnswer,
    SectionRatings,
)
from api.assessments.spread import MIN_OTHER_RATERS, rating_closed
from api.csrf import verify_csrf
from api.db import utcnow
from api.errors import Conflict, FieldError, NotFound
from api.forms import FormRead, PageForm
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document
from api.pages import PageDep
from api.permissions import AssessmentAccess, MemberPage, RaterPage, RaterSavingPage, TrustManagerPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

NOT_YET_KNOWN = "unknown"


@dataclass
class SectionStatus:
    section: FrameworkSection
    criteria: list[Criterion]
    answered: int

    @property
    def status(self) -> str:
        if self.answered == 0:
            return "Not started"
        return "Completed" if self.answered >= len(self.criteria) else "In progress"


def _sections(session: Any, access: AssessmentAccess) -> list[SectionStatus]:
    """The sections with statements each member rates: a section whose statements are all fact
    items (framework version 2, answered once for the board from its records) is not a member's."""
    answered = {r.criterion_id for r in my_ratings(session, access.assessment.id, access.principal.user.id)}
    grouped: dict[int, SectionStatus] = {}
    for section, criterion in rated_criteria_of(session, access.assessment):
        entry = grouped.setdefault(section.id, SectionStatus(section, [], 0))
        entry.criteria.append(criterion)
        entry.answered += criterion.id in answered
    return list(grouped.values())


def assessment_context(session: Any, access: AssessmentAccess) -> dict[str, Any]:
    assessment = access.assessment
    cycle = session.get(Cycle, assessment.cycle_id)
    framework = session.get(FrameworkRecord, assessment.framework_id)
    closed = rating_closed(assessment)
    return {
        "assessment": assessment,
        "cycle": cycle,
        "doc": framework_document(framework),
        "membership": access.membership,
        "is_rater": access.membership.role in RATER_ROLES,
        "is_manager": access.membership.role in MANAGER_ROLES,
        "is_chair": access.membership.role == CHAIR,
        # Members' answers can no longer change: signed off, or rating has closed.
        "locked": assessment.status != "in_progress" or closed,
        "submitted": assessment.status != "in_progress",
        "rating_closed": closed,
        "min_others": MIN_OTHER_RATERS,
    }


# --- Opening from the trust's home page ------------------------------------------------------------


@router.post("/trusts/{ods_code}/assessments", name="open_assessment_page")
def open_assessment_page(
    page: PageDep, access: TrustManagerPage, form: PageForm[AssessmentCreate]
) -> Response:
    if form.command is None:
        # The button sends the open cycle's name: only a changed form gets here. Shown as an error page.
        field, message = next(iter(form.errors.items()))
        raise FieldError(field, message)
    try:
        assessment = service.open_assessment(
            page.session, access.organisation, form.command.cycle, access.principal.user
        )
    except Conflict as exc:
        # Someone else opened it a moment ago: take the person to it.
        return page.redirect("assessment_overview", assessment_id=exc.extra["assessment_id"])
    return page.redirect("assessment_overview", assessment_id=assessment.id)


# --- The task list ----------------------------------------------------------------------------------


@router.get("/assessments/{assessment_id}", name="assessment_overview")
def overview(page: PageDep, access: MemberPage) -> Response:
    context = assessment_context(page.session, access)
    sections = _sections(page.session, access) if context["is_rater"] else []
    headline, _version = service.my_headline(page.session, access.assessment.id, access.principal.user.id)
    finished, members = service.board_progress(page.session, access.assessment)
    not_finished = (
        service.members_not_finished(page.session, access.assessment) if context["is_manager"] else []
    )
    answered = sum(s.answered for s in sections)
    total = sum(len(s.criteria) for s in sections)
    next_section = next((s for s in sections if s.status != "Completed"), None)
    from_records = sum(
        1 for _s, criterion in criteria_of(page.session, access.assessment) if not criterion.member_rated
    )
    context.update(
        from_records=from_records,
        page_title=f"{context['cycle'].name} assessment",
        sections=sections,
        headline=headline,
        answered=answered,
        total=total,
        next_section=next_section,
        board_finished=finished,
        board_members=members,
        not_finished=not_finished,
        board_changes=service.board_changes(page.session, access.assessment),
    )
    return page.render("assessments/overview.html", context)


# --- One section per page -------------------------------------------------------------------------------


def _section_or_404(sections: list[SectionStatus], section_key: str) -> tuple[int, SectionStatus]:
    for index, entry in enumerate(sections):
        if entry.section.key == section_key:
            return index, entry
    raise NotFound("No such section in this assessment")


def _section_context(
    session: Any, access: AssessmentAccess, section_key: str, answers: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    context = assessment_context(session, access)
    sections = _sections(session, access)
    index, entry = _section_or_404(sections, section_key)
    doc: FrameworkDefinition = context["doc"]
    stored = {r.criterion_id: r for r in my_ratings(session, access.assessment.id, access.principal.user.id)}
    items = []
    for criterion in entry.criteria:
        rating: Rating | None = stored.get(criterion.id)
        typed = (answers or {}).get(criterion.id)
        items.append(
            {
                "criterion": criterion,
                "definition": doc.criterion(criterion.key),
                "level": typed["level"] if typed else _level_value(rating),
                "comment": typed["comment"] if typed else (rating.comment if rating else ""),
                "version": rating.version if rating else 0,
                "saved_at": rating.updated_at if rating else None,
            }
        )
    context.update(
        from_records=sum(
            1
            for section, criterion in criteria_of(session, access.assessment)
            if section.id == entry.section.id and not criterion.member_rated
        ),
        page_title=entry.section.title,
        section=entry.section,
        section_doc=next(s for s in doc.sections if s.key == entry.section.key),
        items=items,
        position=index + 1,
        count=len(sections),
        previous_section=sections[index - 1].section if index > 0 else None,
        next_section=sections[index + 1].section if index + 1 < len(sections) else None,
    )
    return context


def _level_value(rating: Rating | None) -> str | None:
    if rating is None:
        return None
    return NOT_YET_KNOWN if rating.level is None else str(rating.level)


@router.get("/assessments/{assessment_id}/sections/{section_key}", name="rate_section")
def section_page(page: PageDep, access: RaterPage, section_key: str) -> Response:
    return page.render("assessments/section.html", _section_context(page.session, access, section_key))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


ANSWER_FIELDS = ("level", "comment", "version")


def _section_values(form: FormData) -> FormRead:
    """The section form as SectionRatings: `level__<criterion key>` and its comment and version are
    one answer; each answer's errors are shown on its own radios or comment box."""
    answers: dict[str, dict[str, str]] = {}
    for name, value in form.multi_items():
        field, _, key = name.partition("__")
        if field in ANSWER_FIELDS and key and isinstance(value, str) and value != "":
            answers.setdefault(key, {})[field] = value
    field_ids = {}
    for key in answers:
        field_ids |= {
            f"answers.{key}.level": f"level__{key}",
            f"answers.{key}.version": f"level__{key}",
            f"answers.{key}.comment": f"comment__{key}",
        }
    return FormRead({"answers": answers, "action": _field(form, "action")}, field_ids)


def _rating_values(form: FormData, path: dict[str, str]) -> FormRead:
    """One statement's autosave as RatingUpdate: "unknown" is not yet known, no level is no answer."""
    key = path.get("criterion_key", "")
    values: dict[str, Any] = {
        "comment": _field(form, f"comment__{key}").strip(),
        "version": _field(form, f"version__{key}") or "0",
    }
    level = _field(form, f"level__{key}")
    if level:
        values["level"] = None if level == NOT_YET_KNOWN else level
    return FormRead(values)


@router.post("/assessments/{assessment_id}/sections/{section_key}")
def save_section(
    page: PageDep, access: RaterSavingPage, section_key: str, form: PageForm[SectionRatings, _section_values]
) -> Response:
    """Without JavaScript: save every answered criterion of the section, then go on."""
    context = _section_context(page.session, access, section_key)
    errors = dict(form.errors)
    typed: dict[int, dict[str, Any]] = {}
    for item in context["items"]:
        criterion: Criterion = item["criterion"]
        typed[criterion.id] = {
            "level": form.values.get(f"level__{criterion.key}") or None,
            "comment": form.values.get(f"comment__{criterion.key}", "").strip(),
        }
        if form.command is None:
            continue
        answer = form.command.answers.get(criterion.key, SectionAnswer())
        if answer.level is None:
            if answer.comment:
                errors[f"level__{criterion.key}"] = RATING_FORM_MESSAGES["level:missing"]
            continue
        if item["level"] == answer.level and item["comment"] == answer.comment:
            continue
        try:
            save_member_rating(page.session, page.settings, access, criterion.key, answer.as_update())
        except Conflict:
            errors[f"level__{criterion.key}"] = (
                "You changed this answer on another device. Your answer here is kept: check it and save again"
            )
    if errors:
        context = _section_context(page.session, access, section_key, typed)
        context["errors"] = errors
        return page.render("assessments/section.html", context, status_code=422)
    if context["next_section"] and form.command is not None and form.command.action != "overview":
        return page.redirect(
            "rate_section", assessment_id=access.assessment.id, section_key=context["next_section"].key
        )
    return page.redirect("assessment_overview", assessment_id=access.assessment.id)


@router.post("/assessments/{assessment_id}/ratings/{criterion_key}", name="autosave_rating")
def autosave_rating(
    page: PageDep, access: RaterSavingPage, criterion_key: str, form: PageForm[RatingUpdate, _rating_values]
) -> Response:
    """htmx autosave of one criterion: answers the fragment with the new version and status."""
    version_text = form.values.get(f"version__{criterion_key}") or "0"
    context: dict[str, Any] = {"key": criterion_key, "version": version_text, "saved_at": None, "error": None}
    status = 200
    try:
        if form.command is None:
            name, message = next(iter(form.errors.items()))
            raise FieldError(name, message)
        rating = save_member_rating(page.session, page.settings, access, criterion_key, form.command)
        context.update(version=rating.version, saved_at=rating.updated_at or utcnow())
    except Conflict as exc:
        status = 409
        current = exc.extra.get("current")
        context["error"] = (
            "Not saved: you changed this answer on another device or tab. Reload the page to see your latest answer"
            if current is not None or exc.extra.get("status") is None
            else exc.message
        )
        if exc.extra.get("status") == "submitted":
            context["error"] = "Not saved: the board has signed off this assessment, so answers cannot change"
        elif exc.extra.get("rating_closed"):
            context["error"] = "Not saved: rating has closed for this assessment, so answers cannot change"
    except FieldError as exc:
        status = 422
        context["error"] = f"Not saved: {exc.message[0].lower()}{exc.message[1:]}"
    return page.render("assessments/_autosave.html", context, status_code=status)
