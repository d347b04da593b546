"""A statement's consensus form on the section page and in meeting mode: what the person sent,
kept when the page comes back with a problem (`FormState`), and saving it through the service the
API uses (`save_statement`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from api.assessments import service
from api.assessments.schemas import ConsensusUpdate
from api.errors import Conflict, FieldError
from api.forms import CommandForm
from api.pages import Page
from api.permissions import AssessmentAccess

STALE_MESSAGE = (
    "Someone else changed this agreed rating while you were editing. Their version is shown below; "
    "your text is kept in the box so you can copy it"
)


@dataclass
class FormState:
    """What the person sent, kept when the page comes back with a problem."""

    level: str | None = None
    rationale: str | None = None
    shared: bool | None = None
    version: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    evidence_errors: dict[str, str] = field(default_factory=dict)
    stale: bool = False
    link_title: str = ""
    link_url: str = ""
    done: str | None = None


def typed_state(values: dict[str, str]) -> FormState:
    """A consensus form as typed (level, rationale, the sharing box), to show again with a problem."""
    shared = values.get("shared")
    return FormState(
        level=values.get("level") or None,
        rationale=values.get("rationale", ""),
        shared=None if shared is None else shared == "true",
    )


def statement_form_state(form: CommandForm[Any], key: str) -> FormState:
    """A statement's consensus form as typed (see typed_state), with the version it was read at and
    its errors on the statement's level and rationale boxes."""
    state = typed_state(form.values)
    typed_version = form.values.get("version", "0")
    state.version = int(typed_version) if typed_version.isdigit() else 0
    for name, message in form.errors.items():
        state.errors[f"{key}-{'rationale' if name == 'rationale' else 'level'}"] = message
    return state


def save_statement(
    page: Page,
    access: AssessmentAccess,
    key: str,
    command: ConsensusUpdate,
    state: FormState,
    again: Callable[[int], Response],
    signed_off: Callable[[], Response],
) -> Response | None:
    """Save a statement's consensus, from the section page or meeting mode, through the service the
    API uses too; None once saved. Refused: the board's reason is needed where the level is far from
    the members' median (`again(422)` with it beside the rationale); out of date: what they typed is
    kept (`state`) and the next save is against the version now shown (`again(409)`); signed off
    meanwhile: `signed_off()`, the read-only statement."""
    try:
        service.agree_consensus(
            page.session,
            access.principal,
            access.assessment.id,
            key,
            command,
            k_anonymity=page.settings.k_anonymity,
        )
    except FieldError as refused:
        state.errors[f"{key}-rationale"] = refused.message
        return again(422)
    except Conflict as exc:
        if "current" not in exc.extra:
            return signed_off()
        current = exc.extra["current"] or {}
        state.version = int(current.get("version") or 0)
        state.stale = True
        state.errors[f"{key}-rationale"] = STALE_MESSAGE
        return again(409)
    return None
