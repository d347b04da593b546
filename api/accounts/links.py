"""Emailed one-time links (an invitation, a password reset): issued, opened and used once.

Only a link's hash is stored. Using one is a conditional UPDATE in the transaction of the change it
makes, so of two requests racing with the same link only one gets through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from api.accounts.models import OneTimeToken, User
from api.accounts.tokens import new_secret, secret_hash
from api.db import utcnow
from api.settings import Settings

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
LINK_PATHS = {INVITATION: "invitation", PASSWORD_RESET: "reset-password"}


class LinkUnusable(Exception):
    """An emailed link that cannot be used: unknown (404), or used, replaced or expired (410)."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code)
        self.status_code = status_code


def _retire_links(
    session: Session, *, user_id: int, purpose: str, organisation_id: int | None = None
) -> None:
    """Stop every unused link of this purpose for the person (optionally for one trust) working."""
    statement = (
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,  # type: ignore[arg-type]
            OneTimeToken.purpose == purpose,  # type: ignore[arg-type]
            OneTimeToken.used_at.is_(None),  # type: ignore[union-attr]
        )
        .values(used_at=utcnow())
    )
    if organisation_id is not None:
        statement = statement.where(OneTimeToken.organisation_id == organisation_id)  # type: ignore[arg-type]
    session.exec(statement)  # type: ignore[call-overload]


def _issue_link(
    session: Session,
    settings: Settings,
    *,
    user: User,
    purpose: str,
    organisation_id: int | None = None,
    created_by: User | None = None,
) -> tuple[str, datetime]:
    """A new link (older unused ones of the same purpose stop working); only its hash is stored."""
    _retire_links(session, user_id=user.id, purpose=purpose)  # type: ignore[arg-type]
    raw = new_secret()
    now = utcnow()
    lifetime = (
        timedelta(days=settings.invitation_link_days)
        if purpose == INVITATION
        else timedelta(hours=settings.one_time_link_hours)
    )
    expires_at = now + lifetime
    session.add(
        OneTimeToken(
            token_hash=secret_hash(raw),
            purpose=purpose,
            user_id=user.id,  # type: ignore[arg-type]
            organisation_id=organisation_id,
            created_by_id=created_by.id if created_by else None,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return f"{settings.base_url.rstrip('/')}/{LINK_PATHS[purpose]}/{raw}", expires_at


def open_link(session: Session, raw: str, purpose: str, now: datetime | None = None) -> OneTimeToken:
    """The live link behind `raw`; raises LinkUnusable (404 unknown, 410 used or expired)."""
    if not raw or len(raw) > 200:
        raise LinkUnusable(404)
    link = session.exec(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == secret_hash(raw), OneTimeToken.purpose == purpose
        )
    ).first()
    if link is None:
        raise LinkUnusable(404)
    if link.used_at is not None or (now or utcnow()) >= link.expires_at:
        raise LinkUnusable(410)
    return link


def _use_link(session: Session, link: OneTimeToken) -> None:
    """Mark the link used, in the same transaction as the change it makes.

    A conditional UPDATE, so of two requests racing with the same link only one gets through.
    """
    now = utcnow()
    result = session.exec(
        update(OneTimeToken)  # type: ignore[call-overload]
        .where(
            OneTimeToken.id == link.id,  # type: ignore[arg-type]
            OneTimeToken.used_at.is_(None),  # type: ignore[union-attr]
            OneTimeToken.expires_at > now,  # type: ignore[arg-type]
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise LinkUnusable(410)
