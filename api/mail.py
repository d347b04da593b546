"""Outgoing email: always recorded in the outbox table; sent by SMTP when SMTP_HOST is set."""

from __future__ import annotations

import contextvars
import logging
import smtplib
import threading
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import Engine, Text, event, update
from sqlmodel import Field, Session, SQLModel, select

from api.db import UTCDateTime, utcnow
from api.settings import Settings

logger = logging.getLogger(__name__)

# session.info key: outbox rows written in the current transaction, to send once it commits.
_PENDING = "outbox_pending"
_HOOKED = "outbox_hooked"


class OutboxEmail(SQLModel, table=True):
    """Every email the service sends. In development and tests this is where mail ends up."""

    __tablename__ = "outbox_email"

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254, index=True)
    subject: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def send_email(session: Session, settings: Settings, *, to: str, subject: str, body: str) -> OutboxEmail:
    """Write the email to the outbox in the caller's transaction; send it by SMTP once that commits.

    Sending waits for the commit (not the response, which FastAPI may send first), so a change that
    is rolled back never emails anybody, and a link in an email always works when it arrives.
    """
    email = OutboxEmail(to_address=to, subject=subject[:200], body=body)
    session.add(email)
    session.flush()
    if settings.smtp_host:
        _send_after_commit(session, settings, email.id)  # type: ignore[arg-type]
    return email


def _send_after_commit(session: Session, settings: Settings, email_id: int) -> None:
    session.info.setdefault(_PENDING, []).append(email_id)
    if session.info.get(_HOOKED):
        return
    session.info[_HOOKED] = True
    engine = session.get_bind()

    @event.listens_for(session, "after_commit")
    def _committed(committed: Session) -> None:
        ids = committed.info.pop(_PENDING, [])
        if ids:
            start_delivery(engine, settings, ids)  # type: ignore[arg-type]

    @event.listens_for(session, "after_soft_rollback")
    def _rolled_back(rolled_back: Session, _previous_transaction: object) -> None:
        rolled_back.info.pop(_PENDING, None)


def start_delivery(engine: Engine, settings: Settings, email_ids: list[int]) -> None:
    """Send in the background so a slow mail server never holds up a page."""
    # In a copy of the request's context, so a failure is logged with the request's id.
    threading.Thread(
        target=contextvars.copy_context().run,
        args=(deliver, engine, settings, email_ids),
        name="outbox-delivery",
        daemon=True,
    ).start()


def deliver(engine: Engine, settings: Settings, email_ids: list[int]) -> int:
    """Send these outbox emails by SMTP and mark them sent; returns how many went.

    A failure is logged and leaves sent_at empty, so the email can be found and sent again.
    """
    with Session(engine, expire_on_commit=False) as session:
        emails = session.exec(
            select(OutboxEmail).where(OutboxEmail.id.in_(email_ids), OutboxEmail.sent_at.is_(None))  # type: ignore[union-attr,attr-defined]
        ).all()
    sent = 0
    if not emails:
        return sent
    try:
        with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            for email in emails:
                smtp.send_message(_message(settings, email))
                with Session(engine) as session:
                    session.exec(
                        update(OutboxEmail).where(OutboxEmail.id == email.id).values(sent_at=utcnow())  # type: ignore[call-overload,arg-type]
                    )
                    session.commit()
                sent += 1
    except (OSError, smtplib.SMTPException):
        logger.exception("Could not send %d of %d outbox emails", len(emails) - sent, len(emails))
    return sent


def _message(settings: Settings, email: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2].rstrip(">") or None)
    message.set_content(email.body)
    return message
