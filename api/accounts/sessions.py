"""Server-side web sessions and bearer tokens, and ending them all at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from api.accounts.models import ApiToken, OneTimeToken, SignInAttempt, User, WebSession
from api.accounts.tokens import new_secret, secret_hash
from api.db import utcnow
from api.settings import Settings

# last_seen_at is written at most this often, so reading pages is not a write per request.
TOUCH_EVERY = timedelta(seconds=60)


def start_web_session(
    session: Session,
    user: User,
    *,
    settings: Settings,
    client_ip: str,
    second_factor_done: bool,
    by_provider: bool = False,
    second_factor_by_provider: bool = False,
) -> tuple[WebSession, str]:
    """A new session with a new random id (never reuses one from before sign-in)."""
    raw = new_secret()
    now = utcnow()
    web_session = WebSession(
        token_hash=secret_hash(raw),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        second_factor_at=now if second_factor_done else None,
        client_ip=client_ip,
        signed_in_by_provider=by_provider,
        second_factor_by_provider=second_factor_by_provider,
    )
    session.add(web_session)
    session.flush()
    return web_session, raw


def load_web_session(
    session: Session, raw: str, settings: Settings, now: datetime | None = None
) -> WebSession | None:
    """The live session for a cookie value, or None if unknown, idle too long or past its 12 hours."""
    now = now or utcnow()
    web_session = session.exec(select(WebSession).where(WebSession.token_hash == secret_hash(raw))).first()
    if web_session is None:
        return None
    idle_limit = web_session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= web_session.expires_at or now >= idle_limit:
        session.delete(web_session)
        session.flush()
        return None
    if now - web_session.last_seen_at >= TOUCH_EVERY:
        web_session.last_seen_at = now
        session.add(web_session)
    return web_session


def end_web_session(session: Session, web_session: WebSession) -> None:
    session.delete(web_session)
    session.flush()


def end_all_sessions(session: Session, user_id: int) -> None:
    """Sign the person out everywhere: every browser session and every API token, at once."""
    session.exec(delete(WebSession).where(WebSession.user_id == user_id))  # type: ignore[call-overload]
    session.exec(delete(ApiToken).where(ApiToken.user_id == user_id))  # type: ignore[call-overload]
    session.flush()


@dataclass(frozen=True)
class Purged:
    web_sessions: int
    api_tokens: int
    one_time_tokens: int
    sign_in_attempts: int = 0


def purge_expired(session: Session, now: datetime | None = None) -> Purged:
    """Delete every browser session, API token and emailed link that has expired, and every
    sign-in attempt older than the window the sign-in delays count over: none can be used any
    more, and each holds who signed in (or tried to) from where. The audit log keeps the sign-ins."""
    from api.accounts.signin import WINDOW

    now = now or utcnow()
    counts = [
        session.exec(delete(model).where(model.expires_at <= now)).rowcount  # type: ignore[call-overload, attr-defined]
        for model in (WebSession, ApiToken, OneTimeToken)
    ]
    attempts = session.exec(
        delete(SignInAttempt).where(SignInAttempt.occurred_at <= now - WINDOW)  # type: ignore[call-overload, arg-type, operator]
    ).rowcount
    session.flush()
    return Purged(*counts, sign_in_attempts=attempts)


def issue_api_token(
    session: Session, user: User, settings: Settings, *, second_factor_at: datetime | None = None
) -> tuple[ApiToken, str]:
    raw = new_secret("reb_")
    now = utcnow()
    token = ApiToken(
        token_hash=secret_hash(raw),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.api_token_minutes),
        second_factor_at=second_factor_at,
    )
    session.add(token)
    session.flush()
    return token, raw
