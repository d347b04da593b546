"""Writing audit events: in the caller's transaction, so a change and its record commit together."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from api.audit.models import AuditEvent


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
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        organisation_id=organisation_id,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:500],
        details=details or {},
        client_ip=client_ip,
    )
    session.add(event)
    return event
