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
