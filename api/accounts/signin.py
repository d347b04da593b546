"""Checking a password or a two-factor code: growing delays by account and by client address, and
the audit of every failure.

No hard lock-out (which anyone could use to keep a chair out on sign-off day). Each kind of key
below lets a few failures through in a day; after that, each further try has to wait a delay
that doubles with every failure, from 1 second up to a cap. A try made while waiting is refused
without checking the password, even a right one, and does not lengthen the wait. The numbers, and
why they are these, are in docs/security.md ("Lock-out as a weapon").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from api.accounts.models import SignInAttempt, User
from api.accounts.passwords import hash_password, needs_rehash, verify_password
from api.accounts.roles import PLATFORM_ADMIN
from api.accounts.service import lookup_email
from api.audit.models import AuditEvent
from api.audit.service import record_on_user
from api.db import utcnow

# Failures are counted over a day; each wait runs from the latest failure, so a few mistakes spread
# over a day cost nothing, while a steady attacker stays at the cap.
WINDOW = timedelta(hours=24)
# An address this account fully signed in from (password and any second factor) this recently is
# "known": an attacker elsewhere cannot slow the account down there.
KNOWN_ADDRESS_DAYS = 30


@dataclass(frozen=True)
class DelayRule:
    """Failures let through in WINDOW before delays start, and the longest delay."""

    free_failures: int
    cap_seconds: int

    def wait(self, failures: list[datetime], now: datetime) -> int | None:
        """Seconds still to wait after these failures (newest first); None if no wait."""
        extra = len(failures) - self.free_failures
        if extra < 0:
            return None
        delay = min(self.cap_seconds, 2**extra)
        remaining = (failures[0] + timedelta(seconds=delay) - now).total_seconds()
        return math.ceil(remaining) if remaining > 0 else None


# One address guessing one account's password or code.
PER_ACCOUNT_AND_ADDRESS = DelayRule(free_failures=5, cap_seconds=300)
# One address trying many accounts (password spraying).
PER_ADDRESS = DelayRule(free_failures=20, cap_seconds=300)
# Many addresses guessing one account. Not applied at the account's known addresses, so it cannot
# keep the owner out where they usually sign in; a short cap elsewhere.
PER_ACCOUNT = DelayRule(free_failures=10, cap_seconds=60)
# Wrong two-factor codes for one account from anywhere: whoever sends them knows the password, so
# this one may be strict (a code has only a million values).
SECOND_FACTOR = DelayRule(free_failures=5, cap_seconds=15 * 60)
# The most failures any rule needs to read.
_MOST = max(r.free_failures for r in (PER_ACCOUNT_AND_ADDRESS, PER_ADDRESS, PER_ACCOUNT, SECOND_FACTOR)) + 10


def _recent_failures(session: Session, now: datetime, *conditions: object) -> list[datetime]:
    return list(
        session.exec(
            select(SignInAttempt.occurred_at)
            .where(
                col(SignInAttempt.succeeded).is_(False),
                col(SignInAttempt.occurred_at) > now - WINDOW,
                *conditions,  # type: ignore[arg-type]
            )
            .order_by(col(SignInAttempt.occurred_at).desc())
            .limit(_MOST)
        ).all()
    )


def is_known_address(session: Session, user: User | None, client_ip: str, now: datetime) -> bool:
    """Whether this person fully signed in from this address in the last KNOWN_ADDRESS_DAYS."""
    if user is None:
        return False
    return (
        session.exec(
            select(AuditEvent.id)
            .where(
                AuditEvent.actor_id == user.id,
                AuditEvent.action == "sign_in",
                AuditEvent.client_ip == client_ip,
                col(AuditEvent.occurred_at) > now - timedelta(days=KNOWN_ADDRESS_DAYS),
            )
            .limit(1)
        ).first()
        is not None
    )


def throttle_wait(
    session: Session, email: str, client_ip: str, user: User | None = None, now: datetime | None = None
) -> int | None:
    """Seconds before this email may be tried again from this address; None if it may be now.

    `email` is the folded address as typed: an unknown address is delayed exactly as a real one.
    """
    now = now or utcnow()
    by_email = col(SignInAttempt.email) == email
    by_address = col(SignInAttempt.client_ip) == client_ip
    waits = [
        PER_ACCOUNT_AND_ADDRESS.wait(_recent_failures(session, now, by_email, by_address), now),
        SECOND_FACTOR.wait(
            _recent_failures(session, now, by_email, col(SignInAttempt.second_factor).is_(True)), now
        ),
    ]
    if not is_known_address(session, user, client_ip, now):
        waits.append(PER_ADDRESS.wait(_recent_failures(session, now, by_address), now))
        waits.append(PER_ACCOUNT.wait(_recent_failures(session, now, by_email), now))
    blocked = [w for w in waits if w is not None]
    return max(blocked) if blocked else None


def wait_message(seconds: int, what: str = "attempts to sign in") -> str:
    """For the page: how long to wait, in words, and nothing about whether the account exists."""
    if seconds < 60:
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = math.ceil(seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many {what}. Wait {wait} and try again"


def record_waiting(session: Session, user: User | None, email: str, client_ip: str, wait: int) -> None:
    """An attempt refused while waiting: audited, but not counted (it would lengthen the wait)."""
    record_on_user(
        session,
        "sign_in.failed",
        user,
        "Sign-in refused: too many recent attempts",
        details={"email": email, "reason": "waiting", "wait_seconds": wait},
        client_ip=client_ip,
    )


def record_wrong_second_factor(session: Session, user: User, client_ip: str, channel: str) -> None:
    """A wrong two-factor code: counted with wrong passwords (and under SECOND_FACTOR), and audited."""
    session.add(
        SignInAttempt(
            email=user.email, client_ip=client_ip, occurred_at=utcnow(), succeeded=False, second_factor=True
        )
    )
    record_on_user(
        session,
        "sign_in.failed",
        user,
        "Wrong two-factor code" + (" (API)" if channel == "api" else ""),
        details={"email": user.email, "reason": "second_factor", "channel": channel},
        client_ip=client_ip,
    )
    session.flush()


@dataclass(frozen=True)
class SignInOutcome:
    user: User | None
    retry_after: int | None = None

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


def check_password(
    session: Session,
    email: str,
    password: str,
    client_ip: str,
    channel: str = "web",
    *,
    only_platform_admins: bool = False,
) -> SignInOutcome:
    """The same answer, and the same time, for an unknown email and a wrong password; every checked
    attempt is recorded, and every failure audited with the client address.

    only_platform_admins (passwords turned off for everyone else, who use single sign-on): anyone
    else's password is refused exactly as an unknown account's, so it confirms nothing.
    """
    email = lookup_email(email)
    user = session.exec(select(User).where(User.email == email)).first()
    usable = user if user is not None and user.is_active else None
    if only_platform_admins and usable is not None and usable.platform_role != PLATFORM_ADMIN:
        usable = None
    now = utcnow()
    wait = throttle_wait(session, email, client_ip, usable, now)
    if wait is not None:
        record_waiting(session, usable, email, client_ip, wait)
        return SignInOutcome(None, wait)
    # An unknown account still runs one argon2 hash, so the answer takes as long.
    ok = verify_password(usable.password_hash if usable else None, password)
    session.add(SignInAttempt(email=email, client_ip=client_ip, occurred_at=now, succeeded=ok))
    if not ok:
        details = {"email": email} if channel == "web" else {"email": email, "channel": channel}
        record_on_user(
            session,
            "sign_in.failed",
            usable,
            "Failed sign-in" + (" (API)" if channel == "api" else ""),
            details=details,
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
