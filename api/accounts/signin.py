"""Checking a password, with throttling by account and by client address, and the audit of both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from api.accounts.models import SignInAttempt, User
from api.accounts.passwords import hash_password, needs_rehash, verify_password
from api.audit.service import record
from api.db import utcnow

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class SignInOutcome:
    user: User | None
    retry_after: int | None = None

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


def _retry_after(session: Session, column: object, value: str, limit: int, now: datetime) -> int | None:
    """Seconds until fewer than `limit` failures remain in the window; None if not blocked."""
    recent = session.exec(
        select(SignInAttempt.occurred_at)
        .where(column == value, SignInAttempt.succeeded.is_(False), SignInAttempt.occurred_at > now - WINDOW)  # type: ignore[arg-type]
        .order_by(SignInAttempt.occurred_at.desc())  # type: ignore[attr-defined]
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    # The oldest of the last `limit` failures must leave the window before another try.
    return max(1, int((recent[-1] + WINDOW - now).total_seconds()) + 1)


def throttle_wait(session: Session, email: str, client_ip: str, now: datetime | None = None) -> int | None:
    now = now or utcnow()
    waits = [
        _retry_after(session, SignInAttempt.email, email, MAX_FAILURES_PER_ACCOUNT, now),
        _retry_after(session, SignInAttempt.client_ip, client_ip, MAX_FAILURES_PER_ADDRESS, now),
    ]
    blocked = [w for w in waits if w is not None]
    return max(blocked) if blocked else None


def check_password(session: Session, email: str, password: str, client_ip: str) -> SignInOutcome:
    """The same answer for an unknown email and a wrong password; every attempt is recorded."""
    email = email.strip().lower()
    wait = throttle_wait(session, email, client_ip)
    if wait is not None:
        return SignInOutcome(None, wait)
    user = session.exec(select(User).where(User.email == email)).first()
    usable = user if user is not None and user.is_active else None
    ok = verify_password(usable.password_hash if usable else None, password)
    session.add(SignInAttempt(email=email, client_ip=client_ip, succeeded=ok))
    if not ok:
        record(
            session,
            "sign_in.failed",
            actor=usable,
            object_type="user",
            object_id=usable.id if usable else None,
            summary="Failed sign-in",
            details={"email": email},
            client_ip=client_ip,
        )
        session.flush()
        return SignInOutcome(None)
    assert usable is not None and usable.password_hash is not None
    if needs_rehash(usable.password_hash):
        usable.password_hash = hash_password(password)
        session.add(usable)
    session.flush()
    return SignInOutcome(usable)
