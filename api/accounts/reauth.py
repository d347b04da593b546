"""Asking again before a sensitive change (two-factor off, new recovery codes, a new email address or
password): the password, and a current code where two-factor is on.

The password goes through the sign-in check, so guessing it here is delayed, counted and audited as
at sign-in; a wrong code is counted and audited as on the two-factor sign-in page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from api.accounts.models import User
from api.accounts.schemas import ENTER_CODE
from api.accounts.signin import check_password, record_wrong_second_factor, wait_message
from api.accounts.two_factor import verify_second_factor

ENTER_PASSWORD = "Enter your password"
WRONG_PASSWORD = "Your current password is not right"
WRONG_CODE = "The code is not right. Check your app and try again"


@dataclass
class Confirmation:
    """What is wrong with the answers (field -> message), and the status to answer with."""

    errors: dict[str, str] = field(default_factory=dict)
    status_code: int = 200
    retry_after: int | None = None

    @property
    def confirmed(self) -> bool:
        return not self.errors


def confirm_it_is_them(
    session: Session,
    user: User,
    client_ip: str,
    password: str,
    code: str,
    *,
    password_field: str = "current_password",
) -> Confirmation:
    """Check the password, then (only if it is right) the code: a recovery code is not used up by
    someone who does not know the password."""
    if not password:
        return Confirmation({password_field: ENTER_PASSWORD}, 422)
    outcome = check_password(session, user.email, password, client_ip)
    if outcome.throttled:
        assert outcome.retry_after is not None
        return Confirmation(
            {password_field: wait_message(outcome.retry_after, "wrong passwords or codes")},
            429,
            outcome.retry_after,
        )
    if outcome.user is None or outcome.user.id != user.id:
        return Confirmation({password_field: WRONG_PASSWORD}, 422)
    if user.totp_enabled_at is None:
        return Confirmation()
    if not code.strip():
        return Confirmation({"code": ENTER_CODE}, 422)
    if not verify_second_factor(session, user, code):
        record_wrong_second_factor(session, user, client_ip, channel="web")
        return Confirmation({"code": WRONG_CODE}, 422)
    return Confirmation()
