"""Assessment cycles: one a year, named like the NHS financial year (`2026/27`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import Session, select

from api.assessments.models import Cycle
from api.audit.service import record
from api.errors import Conflict, InputError
from api.frameworks.models import Framework
from api.frameworks.service import latest_framework

CYCLE_NAME = re.compile(r"^(\d{4})/(\d{2})$")


def check_cycle_name(name: str) -> str:
    match = CYCLE_NAME.match(name.strip())
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise InputError(
            f"cycle {name!r} must be a financial year written like 2026/27 "
            "(the second year follows the first)"
        )
    return name.strip()


def open_cycle(
    session: Session,
    name: str,
    *,
    opens_on: date,
    closes_on: date,
    framework_key: str | None = None,
    actor: Any | None = None,
    client_ip: str | None = None,
) -> Cycle:
    """Open a yearly cycle; `actor` is the admin who did it (None from the command line)."""
    name = check_cycle_name(name)
    if opens_on >= closes_on:
        raise InputError(f"the cycle must open before it closes ({opens_on} is not before {closes_on})")
    if session.exec(select(Cycle).where(Cycle.name == name)).first() is not None:
        raise InputError(f"cycle {name} already exists")
    if framework_key:
        framework = session.exec(select(Framework).where(Framework.key == framework_key)).first()
        if framework is None:
            raise InputError(f"no framework with key {framework_key!r}")
    else:
        framework = latest_framework(session)
        if framework is None:
            raise InputError("no framework is loaded: check the files in assessments/ first")
    cycle = Cycle(name=name, opens_on=opens_on, closes_on=closes_on, framework_id=framework.id)
    session.add(cycle)
    session.flush()
    record(
        session,
        "cycle.opened",
        actor=actor,
        client_ip=client_ip,
        object_type="cycle",
        object_id=cycle.id,
        summary=f"Cycle {name} opened ({opens_on} to {closes_on}) with framework {framework.key}",
    )
    return cycle


def is_open(cycle: Cycle, today: date) -> bool:
    return cycle.opens_on <= today <= cycle.closes_on


def is_closed(cycle: Cycle, today: date) -> bool:
    """Closed for good once its close date has passed: nothing more is submitted, and the year's peer
    and sector figures are final (docs/anonymity.md). The one place that decides it."""
    return today > cycle.closes_on


def late_submission_refusal(
    session: Session, cycle: Cycle, assessment_id: int, k: int, today: date
) -> str | None:
    """Why this assessment cannot be signed off now, or None if it can.

    After the close date nothing new is submitted. An assessment that was submitted at the close and
    that a platform admin has since reopened (to correct an error) may be signed off again, for the
    trust's own record: the year's peer and sector figures were taken at the close and do not change.
    """
    if not is_closed(cycle, today):
        return None
    from api.benchmarking.service import in_final_figures, take_final_figures

    take_final_figures(session, cycle, k, today)
    if in_final_figures(session, cycle, assessment_id):
        return None
    return (
        f"The {cycle.name} year closed on {cycle.closes_on:%-d %B %Y}. Assessments can no longer be "
        "submitted for it, and its comparisons with other trusts and the sector figures are final."
    )


def require_open_for_submission(
    session: Session, cycle: Cycle, assessment_id: int, k: int, today: date
) -> None:
    refusal = late_submission_refusal(session, cycle, assessment_id, k, today)
    if refusal is not None:
        raise Conflict(refusal, closed_on=cycle.closes_on.isoformat())
