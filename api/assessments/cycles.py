"""Assessment cycles: one a year, named like the NHS financial year (`2026/27`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from api.accounts.roles import PLATFORM_ADMIN
from api.assessments.models import Cycle
from api.audit.service import record_about
from api.db import utcnow
from api.errors import Conflict, Forbidden, InputError
from api.frameworks.models import FrameworkRecord
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
        framework = session.exec(select(FrameworkRecord).where(FrameworkRecord.key == framework_key)).first()
        if framework is None:
            raise InputError(f"no framework with key {framework_key!r}")
    else:
        framework = latest_framework(session)
        if framework is None:
            raise InputError("no framework is loaded: check the files in assessments/ first")
    cycle = Cycle(name=name, opens_on=opens_on, closes_on=closes_on, framework_id=framework.id)
    session.add(cycle)
    session.flush()
    record_about(
        session,
        "cycle.opened",
        cycle,
        f"Cycle {name} opened ({opens_on} to {closes_on}) with framework {framework.key}",
        actor=actor,
        client_ip=client_ip,
    )
    return cycle


def is_open(cycle: Cycle, today: date) -> bool:
    return cycle.closed_at is None and cycle.opens_on <= today <= cycle.closes_on


def is_closed(cycle: Cycle, today: date) -> bool:
    """Closed for good once a platform admin has closed it (close_cycle) or its close date has
    passed: nothing more is submitted or changed, and the year's peer and sector figures are final
    (docs/anonymity.md). The one place that decides it."""
    return cycle.closed_at is not None or today > cycle.closes_on


def closed_on(cycle: Cycle) -> date:
    """The day the year closed (or will close): the day it was closed early, else its close date."""
    return cycle.closed_at.date() if cycle.closed_at is not None else cycle.closes_on


def close_cycle(
    session: Session,
    cycle: Cycle,
    *,
    version: int,
    k: int,
    actor: Any,
    client_ip: str | None = None,
    today: date | None = None,
) -> Cycle:
    """Close the year now, before (or on) its close date: a platform admin's deliberate step.

    `version` is the cycle's version the admin saw (compare-and-set: a stale one is refused, as is
    closing twice). The final figures are taken in the same transaction, as the submissions stand
    now, so from this moment every change is refused (require_open_for_changes) and nothing moves
    the year's figures.
    """
    from api.benchmarking.service import take_final_figures

    today = today or utcnow().date()
    if getattr(actor, "platform_role", None) != PLATFORM_ADMIN:
        raise Forbidden("Only a platform admin can close a cycle")
    if is_closed(cycle, today):
        raise Conflict(f"The {cycle.name} year has already closed", current={"version": cycle.version})
    if today < cycle.opens_on:
        raise Conflict(f"The {cycle.name} year has not opened yet, so there is nothing to close")
    now = utcnow()
    result = session.execute(
        update(Cycle)
        .where(Cycle.id == cycle.id, Cycle.version == version, Cycle.closed_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(closed_at=now, closed_by_id=actor.id, version=Cycle.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(cycle)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The cycle has changed since you opened it", current={"version": cycle.version})
    record_about(
        session,
        "cycle.closed",
        cycle,
        f"Cycle {cycle.name} closed by a platform admin on {now:%-d %B %Y} (its close date "
        f"was {cycle.closes_on:%-d %B %Y}); its figures are now final",
        actor=actor,
        details={"closes_on": cycle.closes_on.isoformat(), "closed_at": now.isoformat()},
        client_ip=client_ip,
    )
    take_final_figures(session, cycle, k, today)
    session.flush()
    return cycle


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
        f"The {cycle.name} year closed on {closed_on(cycle):%-d %B %Y}. Assessments can no longer be "
        "submitted or changed for it, and its comparisons with other trusts and the sector figures are final."
    )


def require_open_for_submission(
    session: Session, cycle: Cycle, assessment_id: int, k: int, today: date
) -> None:
    refusal = late_submission_refusal(session, cycle, assessment_id, k, today)
    if refusal is not None:
        raise Conflict(refusal, closed_on=closed_on(cycle).isoformat())


def require_open_for_changes(session: Session, cycle_id: int, assessment_id: int, k_anonymity: int) -> None:
    """Refuse a member's rating, a headline answer or an agreed level once the year has closed.

    The one rule for every late change: after the close the same assessments may change as may be
    signed off (late_submission_refusal) — only a submission that was in the final figures and that
    a platform admin has reopened to correct. An assessment never submitted by the close cannot be
    submitted, so changing it would only mislead. Before the close this costs no query.
    """
    cycle = session.get(Cycle, cycle_id)
    assert cycle is not None
    today = utcnow().date()
    if is_closed(cycle, today):
        require_open_for_submission(session, cycle, assessment_id, k_anonymity, today)
