"""Writing audit events: in the caller's transaction, so a change and its record commit together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from api.audit.models import AuditEvent
from api.db import utcnow

_INSERT_EVENT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


def record(
    session: Session,
    action: str,
    *,
    actor: Any | None = None,
    organisation_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
    client_ip: str | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Append one event, written at once by a plain INSERT (no object for the session to track:
    the log is append-only, and autosave writes one event a save)."""
    session.connection().execute(
        _INSERT_EVENT,
        {
            "occurred_at": occurred_at or utcnow(),
            "action": action,
            "actor_id": getattr(actor, "id", None),
            "actor_email": getattr(actor, "email", None),
            "organisation_id": organisation_id,
            "object_type": object_type,
            "object_id": object_id,
            "summary": summary[:500],
            "details": details or {},
            "client_ip": client_ip,
        },
    )


def record_on_user(session: Session, action: str, user: Any | None, summary: str, **event: Any) -> None:
    """An event about one person's account (object type "user"): signing in and out, passwords,
    second factors, their data. By the person themselves unless `actor=` names someone else (None:
    nobody signed in, such as a reset link asked for or the retention job); `user` None: an
    unknown email. `event`: record's other fields (details, client_ip, organisation_id)."""
    event.setdefault("actor", user)
    record(session, action, object_type="user", object_id=getattr(user, "id", None), summary=summary, **event)


# Audit names that differ from the table's.
_OBJECT_TYPES = {"user_account": "user"}


def record_about(session: Session, action: str, about: Any, summary: str, **event: Any) -> None:
    """An event about one row (an action, an assessment, a BAF risk...): its table names the object
    type, its id the object, and its trust the event's trust unless `organisation_id=` says.
    `event`: record's other fields (actor, details, client_ip)."""
    table = type(about).__tablename__
    event.setdefault("organisation_id", getattr(about, "organisation_id", None))
    record(
        session,
        action,
        object_type=_OBJECT_TYPES.get(table, table),
        object_id=about.id,
        summary=summary,
        **event,
    )
