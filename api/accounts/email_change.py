"""Changing the email address a person signs in with."""

from __future__ import annotations

from sqlmodel import Session, select

from api.accounts.models import User
from api.accounts.service import normalise_email
from api.accounts.sessions import end_all_sessions
from api.accounts.wording import SERVICE_NAME
from api.audit.service import record_on_user
from api.errors import Conflict, Unprocessable
from api.mail import send_email
from api.settings import Settings
from api.templating import render_text


def change_email(session: Session, settings: Settings, user: User, new_email: str, client_ip: str) -> str:
    """The signed-in person's new email address (the caller has asked for their password and code).

    Stored normalised; refused if another account has it. Both addresses are told, every session and
    token ends (the address is what they sign in with), and the change is audited. Returns the address.
    """
    address = normalise_email(new_email)
    if address == user.email:
        raise Unprocessable("That is already your email address", field="email")
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        raise Conflict(
            "Another account uses that email address. Enter a different one, or ask the service team",
            field="email",
        )
    old = user.email
    user.email = address
    session.add(user)
    session.flush()
    end_all_sessions(session, user.id)  # type: ignore[arg-type]
    send_email(
        session,
        settings,
        to=old,
        subject="Your email address has been changed",
        body=render_text(
            "emails/email_changed_old_address.txt",
            service_name=SERVICE_NAME,
            user=user,
            old=old,
            address=address,
        ),
    )
    send_email(
        session,
        settings,
        to=address,
        subject="You now sign in with this email address",
        body=render_text(
            "emails/email_changed_new_address.txt",
            service_name=SERVICE_NAME,
            user=user,
            old=old,
            sign_in=f"{settings.base_url.rstrip('/')}/sign-in",
        ),
    )
    record_on_user(
        session,
        "account.email_changed",
        user,
        f"Changed their email address from {old} to {address}",
        details={"old_email": old, "new_email": address},
        client_ip=client_ip,
    )
    session.flush()
    return address
