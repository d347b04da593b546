"""Pages for the trust's race-equality risk on its board assurance framework: view (with the 5×5
grid and history) and edit. Everyone on the board reads; the chair and board secretary edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_
from sqlmodel import Session, col, select
from starlette.datastructures import FormData
from starlette.responses import Response

from api.accounts.roles import MANAGER_ROLES
from api.actions.models import Action
from api.actions.service import latest_assessment
from api.assessments.models import Assessment, Cycle
from api.baf import matrix, service
from api.baf.schemas import BafRiskUpdate
from api.csrf import verify_csrf
from api.forms import FormRead, PageForm, date_parts, save_edit_page
from api.pages import PageDep
from api.permissions import TrustAccess, TrustManagerPage, TrustMemberPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


STAGES = (
    ("inherent", "Inherent risk", "Before any controls"),
    ("residual", "Residual (current) risk", "With the controls in place now"),
    ("target", "Target risk", "Where the board wants the risk to be"),
)
GAP_KINDS = (("control", "Gaps in control"), ("assurance", "Gaps in assurance"))
# Blank gap spaces shown under the saved ones; saving shows two more.
SPARE_GAPS = 2
MAX_GAPS = 50

STALE_MESSAGE = (
    "Someone else saved the risk while you were editing. What you typed is kept below: check it "
    "against what they saved, then save again"
)


# --- The 5×5 grid ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridCell:
    likelihood: int
    consequence: int
    score: int
    rating: str
    labels: list[str]

    @property
    def rating_name(self) -> str:
        return matrix.RATING_NAMES[self.rating]


def heat_grid(risk: service.BafRiskView | None) -> list[tuple[int, str, list[GridCell]]]:
    """Rows from likelihood 5 (top) to 1, columns consequence 1 to 5, each marked with the stages there."""
    marks = {}
    if risk is not None:
        for key, name, _hint in STAGES:
            position = getattr(risk, key)
            if position is None:  # an inherent risk not recorded
                continue
            marks.setdefault((position.likelihood, position.consequence), []).append(name.split(" ")[0])
    return [
        (
            likelihood,
            matrix.LIKELIHOODS[likelihood],
            [
                GridCell(
                    likelihood,
                    consequence,
                    likelihood * consequence,
                    matrix.rating(likelihood * consequence),
                    marks.get((likelihood, consequence), []),
                )
                for consequence in matrix.SCALE
            ],
        )
        for likelihood in reversed(matrix.SCALE)
    ]


def _matrix_context() -> dict[str, Any]:
    return {
        "likelihoods": matrix.LIKELIHOODS,
        "consequences": matrix.CONSEQUENCES,
        "bands": matrix.bands(),
        "stages": STAGES,
        "lines": service.LINES,
        "appetite_levels": matrix.APPETITE_LEVELS,
        "assurance_levels": service.ASSURANCE_LEVELS,
    }


# --- The view page -------------------------------------------------------------------------------------------


@router.get("/trusts/{ods_code}/baf-risk", name="baf_risk")
def baf_risk_page(
    page: PageDep, access: TrustMemberPage, done: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    session = page.session
    organisation = access.organisation
    risk = service.current_baf_risk(session, organisation.id)
    assessment = latest_assessment(session, organisation.id)
    context = {
        "page_title": "Race equality risk",
        "organisation": organisation,
        "membership": access.membership,
        "is_manager": access.membership.role in MANAGER_ROLES,
        "risk": risk,
        "grid": heat_grid(risk),
        "history": service.risk_history(session, organisation.id),
        "cycle": service.current_cycle(session),
        "assessment": assessment,
        "done": "The risk has been saved." if done == "saved" else None,
        **_matrix_context(),
    }
    return page.render("baf/risk.html", context)


# --- The edit page --------------------------------------------------------------------------------------------


@dataclass
class GapSlot:
    id: str
    kind: str
    text: str = ""
    action_ids: list[int] = field(default_factory=list)


@dataclass
class RiskForm:
    """What the form shows: the saved risk, or what the person typed."""

    description: str = ""
    strategic_objective: str = ""
    lead: str = ""
    scores: dict[str, str] = field(default_factory=dict)
    appetite_level: str = ""
    appetite_low: str = ""
    appetite_high: str = ""
    appetite_rationale: str = ""
    # The date to reach target, as its three boxes.
    target_date: dict[str, str] = field(default_factory=lambda: {"day": "", "month": "", "year": ""})
    controls: str = ""
    assurances: dict[int, str] = field(default_factory=lambda: {1: "", 2: "", 3: ""})
    lead_committee: str = ""
    assurance_level: str = ""
    gaps: dict[str, list[GapSlot]] = field(default_factory=lambda: {"control": [], "assurance": []})
    version: int = 0

    @classmethod
    def of(cls, risk: service.BafRiskView | None) -> RiskForm:
        if risk is None:
            return cls().with_spares()
        scores = {}
        for stage, _name, _hint in STAGES:
            position = getattr(risk, stage)
            if position is not None:
                scores[f"{stage}_likelihood"] = str(position.likelihood)
                scores[f"{stage}_consequence"] = str(position.consequence)
        gaps: dict[str, list[GapSlot]] = {"control": [], "assurance": []}
        for gap in risk.gaps:
            slots = gaps[gap.kind]
            # The links shown are to the actions as carried forward to now.
            slots.append(
                GapSlot(f"{gap.kind}_gap_{len(slots)}", gap.kind, gap.text, [a.id for a in gap.actions])
            )
        return cls(
            description=risk.description,
            strategic_objective=risk.strategic_objective,
            lead=risk.lead,
            scores=scores,
            appetite_level=risk.appetite.level if risk.appetite else "",
            appetite_low=str(risk.appetite.low) if risk.appetite else "",
            appetite_high=str(risk.appetite.high) if risk.appetite else "",
            appetite_rationale=risk.appetite_rationale,
            target_date=(
                {"day": str(due.day), "month": str(due.month), "year": str(due.year)}
                if (due := risk.target_date)
                else {"day": "", "month": "", "year": ""}
            ),
            controls="\n".join(risk.controls),
            assurances={line: "\n".join(risk.assurances_on_line(line)) for line in (1, 2, 3)},
            lead_committee=risk.lead_committee,
            assurance_level=risk.assurance_level or "",
            gaps=gaps,
            version=risk.version,
        ).with_spares()

    def with_spares(self) -> RiskForm:
        for kind, slots in self.gaps.items():
            filled = [slot for slot in slots if slot.text or slot.action_ids]
            for index, slot in enumerate(filled):
                slot.id = f"{kind}_gap_{index}"
            spares = [GapSlot(f"{kind}_gap_{len(filled) + i}", kind) for i in range(SPARE_GAPS)]
            self.gaps[kind] = (filled + spares)[:MAX_GAPS]
        return self

    @classmethod
    def from_form(cls, form: FormData) -> RiskForm:
        def text(name: str) -> str:
            value = form.get(name)
            return value.strip().replace("\r\n", "\n") if isinstance(value, str) else ""

        gaps: dict[str, list[GapSlot]] = {}
        for kind, _title in GAP_KINDS:
            count = text(f"{kind}_gap_count")
            slots = []
            for index in range(min(int(count) if count.isdigit() else 0, MAX_GAPS)):
                slot_id = f"{kind}_gap_{index}"
                ids = [
                    int(v) for v in form.getlist(f"{slot_id}_actions") if isinstance(v, str) and v.isdigit()
                ]
                slots.append(GapSlot(slot_id, kind, text(f"{slot_id}_text"), ids))
            gaps[kind] = slots
        version = text("version")
        return cls(
            description=text("description"),
            strategic_objective=text("strategic_objective"),
            lead=text("lead"),
            scores={
                f"{stage}_{axis}": text(f"{stage}_{axis}")
                for stage, _n, _h in STAGES
                for axis in ("likelihood", "consequence")
            },
            appetite_level=text("appetite_level"),
            appetite_low=text("appetite_low"),
            appetite_high=text("appetite_high"),
            appetite_rationale=text("appetite_rationale"),
            target_date={part: text(f"target_date_{part}") for part in ("day", "month", "year")},
            controls=text("controls"),
            assurances={line: text(f"assurance_{line}") for line in (1, 2, 3)},
            lead_committee=text("lead_committee"),
            assurance_level=text("assurance_level"),
            gaps=gaps,
            version=int(version) if version.isdigit() else 0,
        )


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.split("\n") if line.strip()]


def _risk_values(form: FormData) -> FormRead:
    """The edit form as BafRiskUpdate's fields: a line of a box is a control or a source of
    assurance, a gap space with text (or linked actions) is a gap; each nested location is named
    with the box it came from, so its error shows there."""
    typed = RiskForm.from_form(form)
    values: dict[str, Any] = {
        "description": typed.description,
        "strategic_objective": typed.strategic_objective,
        "lead": typed.lead,
        **{name: value for name, value in typed.scores.items() if value},
        **{
            name: value
            for name in ("appetite_level", "appetite_low", "appetite_high", "assurance_level")
            if (value := getattr(typed, name))
        },
        "appetite_rationale": typed.appetite_rationale,
        "controls": _lines(typed.controls),
        "lead_committee": typed.lead_committee,
        "version": typed.version,
    }
    target_date = date_parts(form, "target_date")
    if target_date is not None:
        values["target_date"] = target_date
    # The date's errors are shown on its first box.
    field_ids: dict[str, str] = {"target_date": "target_date_day"}
    assurances: list[dict[str, Any]] = []
    for line in (1, 2, 3):
        for source in _lines(typed.assurances[line]):
            field_ids[f"assurances.{len(assurances)}"] = f"assurance_{line}"
            assurances.append({"line": line, "source": source})
    gaps: list[dict[str, Any]] = []
    for kind, _title in GAP_KINDS:
        for slot in typed.gaps[kind]:
            if slot.text or slot.action_ids:
                field_ids[f"gaps.{len(gaps)}"] = f"{slot.id}_text"
                gaps.append({"kind": kind, "text": slot.text, "action_ids": slot.action_ids})
    values.update(assurances=assurances, gaps=gaps)
    return FormRead(values, field_ids)


def _action_options(session: Session, organisation_id: int, typed: RiskForm) -> list[dict[str, Any]]:
    """Actions a gap can link to: this year's plan, and any already linked."""
    assessment = latest_assessment(session, organisation_id)
    linked = {i for slots in typed.gaps.values() for slot in slots for i in slot.action_ids}
    conditions = [col(Action.id).in_(linked or {-1})]
    if assessment is not None:
        conditions.append(Action.assessment_id == assessment.id)
    rows = session.exec(
        select(Action, Cycle.name)
        .join(Assessment, col(Assessment.id) == Action.assessment_id)
        .join(Cycle, col(Cycle.id) == Assessment.cycle_id)
        .where(Action.organisation_id == organisation_id, or_(*conditions))
        .order_by(col(Cycle.opens_on).desc(), col(Action.due_date), col(Action.id))
    ).all()
    return [
        {
            "id": action.id,
            "text": action.title,
            "hint": f"{cycle_name} · due {action.due_date:%-d %B %Y}"
            + (" · done" if action.status == "done" else ""),
        }
        for action, cycle_name in rows
    ]


def _edit_context(
    session: Session, access: TrustAccess, typed: RiskForm, errors: dict[str, str], stale: Any = None
) -> dict[str, Any]:
    organisation = access.organisation
    return {
        "page_title": "Record the race equality risk",
        "organisation": organisation,
        "membership": access.membership,
        "form": typed,
        "errors": errors,
        "stale": stale,
        "cycle": service.current_cycle(session),
        "current": service.current_baf_risk(session, organisation.id),
        "action_options": _action_options(session, organisation.id, typed),
        "gap_kinds": GAP_KINDS,
        **_matrix_context(),
    }


@router.get("/trusts/{ods_code}/baf-risk/edit", name="edit_baf_risk")
def edit_baf_risk(page: PageDep, access: TrustManagerPage) -> Response:
    typed = RiskForm.of(service.current_baf_risk(page.session, access.organisation.id))
    return page.render("baf/edit.html", _edit_context(page.session, access, typed, {}))


@router.post("/trusts/{ods_code}/baf-risk/edit", name="save_baf_risk")
def save_baf_risk_page(
    page: PageDep, access: TrustManagerPage, command: PageForm[BafRiskUpdate, _risk_values]
) -> Response:
    typed = RiskForm.from_form(command.form)

    def again(errors: dict[str, str], current: Any, status_code: int) -> Response:
        context = _edit_context(page.session, access, typed, errors, current)
        return page.render("baf/edit.html", context, status_code=status_code)

    # A FieldError on gaps.N.action_ids: the Nth gap saved, which is a space on the form (field_for).
    return save_edit_page(
        command,
        lambda update: service.save_baf_risk(
            page.session, access.principal.user, access.organisation, update
        ),
        done=lambda _: page.redirect(
            "baf_risk", ods_code=access.organisation.ods_code, query={"done": "saved"}
        ),
        again=again,
        typed=typed,
        current=lambda: service.current_baf_risk(page.session, access.organisation.id),
        stale=("description", STALE_MESSAGE),
    )
