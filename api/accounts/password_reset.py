"""Resetting a forgotten password with an emailed link, and changing one's own password.

A new password ends every session and token, stops reset links working, and tells the person.
Services flush and never commit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from api.accounts.links import PASSWORD_RESET, LinkUnusable, _issue_link, _retire_links, _use_link, open_link
from api.accounts.models import OneTimeToken, User
from api.accounts.passwords import _check_password, hash_password
from api.accounts.sessions import end_all_sessions
from api.accounts.wording import SERVICE_NAME, when
from api.audit.service import record_on_user
from api.db import utcnow
from api.mail import send_email
from api.settings import Settings
from api.templating import render_text

# More reset emails than this to one person in an hour are quietly not sent (mail bombing).
RESETS_PER_HOUR = 5


def _password_changed_email(settings: Settings, user: User) -> tuple[str, str]:
    base = settings.base_url.rstrip("/")
    body = render_text(
        "emails/password_changed.txt",
        service_name=SERVICE_NAME,
        user=user,
        sign_in=f"{base}/sign-in",
        forgot_password=f"{base}/forgot-password",
    )
    return "Your password has been changed", body


def request_password_reset(
    session: Session, settings: Settings, email: str, client_ip: str | None = None
) -> None:
    """Email a reset link if `email` (normalised) is an active account with a password.

    The caller shows the same page whatever happens here, so nobody learns who has an account.
    """
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.is_active or user.password_hash is None:
        return
    recent = session.exec(
        select(func.count())
        .select_from(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == PASSWORD_RESET,
            OneTimeToken.created_at > utcnow() - timedelta(hours=1),
        )
    ).one()
    if recent >= RESETS_PER_HOUR:
        return
    link, expires_at = _issue_link(session, settings, user=user, purpose=PASSWORD_RESET)
    body = render_text(
        "emails/password_reset.txt",
        service_name=SERVICE_NAME,
        user=user,
        link=link,
        expires=when(expires_at),
        forgot_password=f"{settings.base_url.rstrip('/')}/forgot-password",
    )
    send_email(session, settings, to=user.email, subject="Reset your password", body=body)
    record_on_user(
        session,
        "password.reset_requested",
        user,
        f"Password reset link sent to {user.email}",
        actor=None,
        details={"email": user.email},
        client_ip=client_ip,
    )
    session.flush()


def open_password_reset(session: Session, raw: str) -> tuple[OneTimeToken, User]:
    link = open_link(session, raw, PASSWORD_RESET)
    user = session.get(User, link.user_id)
    if user is None or not user.is_active or user.password_hash is None:
        raise LinkUnusable(410)
    return link, user


def _set_password(session: Session, settings: Settings, user: User, password: str) -> None:
    """A new password: every session and token ends, reset links stop working, the person is told."""
    _check_password(password, user.email)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.add(user)
    _retire_links(session, user_id=user.id, purpose=PASSWORD_RESET)  # type: ignore[arg-type]
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    subject, body = _password_changed_email(settings, user)
    send_email(session, settings, to=user.email, subject=subject, body=body)


def complete_password_reset(
    session: Session,
    settings: Settings,
    link: OneTimeToken,
    user: User,
    password: str,
    client_ip: str | None = None,
) -> None:
    _check_password(password, user.email)
    _use_link(session, link)
    _set_password(session, settings, user, password)
    record_on_user(
        session,
        "password.reset",
        user,
        "Password reset with an emailed link",
        details={"email": user.email},
        client_ip=client_ip,
    )
    session.flush()


def change_password(
    session: Session, settings: Settings, user: User, password: str, client_ip: str | None = None
) -> None:
    """The signed-in person's new password (the caller has checked the current one)."""
    _set_password(session, settings, user, password)
    record_on_user(session, "password.changed", user, "Password changed", client_ip=client_ip)
    session.flush()
