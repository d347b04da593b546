"""The second factor: TOTP (an authenticator app) with single-use recovery codes."""

from __future__ import annotations

import secrets
import time

import pyotp
from sqlmodel import Session, select

from api.accounts.models import Membership, RecoveryCode, User, WebSession
from api.accounts.tokens import same, secret_hash
from api.audit.service import record_on_user
from api.db import utcnow
from api.organisations.models import Organisation

ISSUER = "Race equality board self-assessment"
RECOVERY_CODES = 10
SET_UP_FIRST = "Set up two-factor authentication in the web service before using the API"
# Letters and digits that cannot be mistaken for each other when read off paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def second_factor_required(session: Session, user: User) -> bool:
    """Platform admins and sector analysts always; others when a board they sit on requires it."""
    if user.platform_role is not None:
        return True
    return (
        session.exec(
            select(Organisation.id)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.user_id == user.id, Organisation.require_two_factor.is_(True))  # type: ignore[attr-defined]
        ).first()
        is not None
    )


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _clean(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def verify_totp(
    session: Session, user: User, code: str, secret: str | None = None, now: float | None = None
) -> bool:
    """A current code (30 s steps, one step of clock drift allowed), never the same step twice."""
    secret = secret or user.totp_secret
    code = _clean(code)
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    now = now if now is not None else time.time()
    current_step = int(now // totp.interval)
    for step in (current_step - 1, current_step, current_step + 1):
        if same(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            session.add(user)
            session.flush()
            return True
    return False


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the person's recovery codes; the plain codes are shown once and never stored."""
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        # Random 10-character codes (about 49 bits): a fast hash is enough, unlike passwords.
        session.add(RecoveryCode(user_id=user.id, code_hash=secret_hash(raw)))
    session.flush()
    return codes


def use_recovery_code(session: Session, user: User, code: str) -> bool:
    digest = secret_hash(_clean(code))
    row = session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if row is None:
        return False
    row.used_at = utcnow()
    session.add(row)
    session.flush()
    return True


def verify_second_factor(session: Session, user: User, code: str) -> bool:
    return verify_totp(session, user, code) or use_recovery_code(session, user, code)


# --- Changes to a person's second factor (each confirmed by the page before it is made) ------------


def turn_on(session: Session, user: User, web_session: WebSession, *, client_ip: str | None) -> list[str]:
    """Turn the app on once its first code is right; the browser that proved it has passed the
    second factor. The new recovery codes, to show once."""
    now = utcnow()
    user.totp_enabled_at = now
    session.add(user)
    web_session.second_factor_at = now
    session.add(web_session)
    codes = new_recovery_codes(session, user)
    record_on_user(
        session, "two_factor.enabled", user, "Turned on two-factor authentication", client_ip=client_ip
    )
    return codes


def renew_recovery_codes(session: Session, user: User, *, client_ip: str | None) -> list[str]:
    """New recovery codes in place of the old ones, which stop working."""
    codes = new_recovery_codes(session, user)
    summary = "Got new recovery codes (the old ones no longer work)"
    record_on_user(session, "two_factor.recovery_codes_renewed", user, summary, client_ip=client_ip)
    return codes


def turn_off(session: Session, user: User, *, client_ip: str | None) -> None:
    """Forget the app's secret and every recovery code."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.add(user)
    for recovery_code in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(recovery_code)
    record_on_user(
        session, "two_factor.disabled", user, "Turned off two-factor authentication", client_ip=client_ip
    )
