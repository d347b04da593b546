"""Forgotten and changed passwords: a reset link works once for 24 hours; a new password signs the
person out everywhere."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from api.accounts import links, password_reset
from api.accounts.models import OneTimeToken, User
from api.accounts.passwords import verify_password
from api.audit.models import AuditEvent
from api.db import utcnow
from api.mail import OutboxEmail
from api.settings import Settings
from tests.factories import PASSWORD, api_token, bearer, make_user, page_csrf, sign_in

NEW_PASSWORD = "Copper-meadow-lantern-77"
RESET_LINK = re.compile(r"http://127\.0\.0\.1:8000(/reset-password/[A-Za-z0-9_-]+)")
EMAIL = "ned@airedale.example.org"


def fresh(db: Session, statement):  # noqa: ANN001, ANN201 - any select
    """Rows as the app committed them (a short session of its own, so no lock is held)."""
    with Session(db.get_bind()) as session:
        return session.exec(statement).all()


def emails_to(db: Session, address: str) -> list[OutboxEmail]:
    return fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id))


def password_hash_of(db: Session, email: str) -> str | None:
    return fresh(db, select(User.password_hash).where(User.email == email))[0]


def forgot(client: TestClient, email: str):  # noqa: ANN201 - a response
    token = page_csrf(client, "/forgot-password")
    return client.post("/forgot-password", data={"email": email, "csrf_token": token})


def reset_path(client: TestClient, db: Session, email: str = EMAIL) -> str:
    assert forgot(client, email).status_code == 200
    match = RESET_LINK.search(emails_to(db, email)[-1].body)
    assert match, "no reset link in the email"
    return match.group(1)


def reset(client: TestClient, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):  # noqa: ANN201
    token = page_csrf(client, "/forgot-password")
    data = {"password": password, "confirm_password": password if confirm is None else confirm}
    return client.post(path, data={**data, "csrf_token": token})


def change(client: TestClient, current: str, new: str, confirm: str | None = None):  # noqa: ANN201
    token = page_csrf(client, "/account/password")
    data = {
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
        "csrf_token": token,
    }
    return client.post("/account/password", data=data, follow_redirects=False)


@pytest.fixture
def ned(db: Session) -> User:
    return make_user(db, EMAIL, role="board_member", trust="RCF", name="Priya Shah")


@pytest.fixture
def other_browser(app: FastAPI) -> TestClient:
    return TestClient(app)


def signed_out(client: TestClient) -> bool:
    response = client.get("/account", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/sign-in")


# --- Forgotten password --------------------------------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    client: TestClient, db: Session, ned: User
) -> None:
    known = forgot(client, EMAIL)
    unknown = forgot(client, "nobody@airedale.example.org")
    assert known.status_code == unknown.status_code == 200
    assert "If that email address has an account, we have sent a link" in known.text
    assert known.text.replace(EMAIL, "X") == unknown.text.replace("nobody@airedale.example.org", "X")
    assert len(emails_to(db, EMAIL)) == 1
    assert emails_to(db, "nobody@airedale.example.org") == []


def test_no_reset_email_for_someone_who_has_not_accepted_their_invitation(
    client: TestClient, db: Session
) -> None:
    make_user(db, "invited@airedale.example.org", role="board_member", trust="RCF", password=None)
    response = forgot(client, "invited@airedale.example.org")
    assert "If that email address has an account" in response.text
    assert emails_to(db, "invited@airedale.example.org") == []


def test_forgot_password_asks_for_a_real_email_address(client: TestClient, db: Session) -> None:
    blank = forgot(client, " ")
    assert blank.status_code == 422 and "Enter your email address" in blank.text
    bad = forgot(client, "not-an-email")
    assert bad.status_code == 422 and "Enter an email address in the correct format" in bad.text
    assert "nhsuk-error-summary" in bad.text
    assert fresh(db, select(OutboxEmail)) == []


def test_reset_link_changes_the_password_once(
    client: TestClient, other_browser: TestClient, db: Session, ned: User
) -> None:
    path = reset_path(client, db)
    [email] = emails_to(db, EMAIL)
    assert email.subject == "Reset your password"
    assert "The link works once. It stops working at" in email.body
    assert "If you did not ask to reset your password" in email.body

    page = client.get(path)
    assert page.status_code == 200 and "Choose a new password" in page.text
    assert page.headers["cache-control"] == "no-store"
    done = reset(client, path)
    assert done.status_code == 200
    assert "Your password has been changed" in done.text and 'href="/sign-in"' in done.text
    assert verify_password(password_hash_of(db, EMAIL), NEW_PASSWORD)
    [user] = fresh(db, select(User).where(User.email == EMAIL))
    assert user.password_changed_at is not None
    sign_in(other_browser, EMAIL, NEW_PASSWORD)

    again = reset(TestClient(client.app), path, password="Another-long-phrase-93")
    assert again.status_code == 410
    assert "This link has expired or has already been used" in again.text
    assert "Ask for a new link" in again.text
    assert verify_password(password_hash_of(db, EMAIL), NEW_PASSWORD)
    notice = emails_to(db, EMAIL)[-1]
    assert notice.subject == "Your password has been changed"


def test_reset_link_does_not_work_after_24_hours(client: TestClient, db: Session, ned: User) -> None:
    path = reset_path(client, db)
    [link] = fresh(db, select(OneTimeToken))
    assert link.expires_at - link.created_at == timedelta(hours=24)
    with Session(db.get_bind()) as session:
        session.exec(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert client.get(path).status_code == 410
    assert reset(client, path).status_code == 410
    assert verify_password(password_hash_of(db, EMAIL), PASSWORD)


def test_unknown_reset_link_gets_the_same_page_with_404(client: TestClient) -> None:
    page = client.get("/reset-password/made-up")
    assert page.status_code == 404
    assert "This link has expired or has already been used" in page.text
    assert reset(client, "/reset-password/made-up").status_code == 404


def test_asking_again_stops_the_older_reset_link(client: TestClient, db: Session, ned: User) -> None:
    first = reset_path(client, db)
    second = reset_path(client, db)
    assert first != second
    assert client.get(first).status_code == 410
    assert reset(client, first).status_code == 410
    assert reset(client, second).status_code == 200


def test_a_link_opened_twice_at_once_changes_the_password_only_once(
    app: FastAPI, client: TestClient, db: Session, settings: Settings, ned: User
) -> None:
    """Two tabs submit the same link: the one that comes second finds it used, even mid-request."""
    path = reset_path(client, db)
    with Session(app.state.engine, expire_on_commit=False) as slower:
        link, user = password_reset.open_password_reset(slower, path.rsplit("/", 1)[1])
        slower.commit()
        assert reset(client, path).status_code == 200
        with pytest.raises(links.LinkUnusable) as refused:
            password_reset.complete_password_reset(slower, settings, link, user, "Another-long-phrase-93")
        assert refused.value.status_code == 410
    assert verify_password(password_hash_of(db, EMAIL), NEW_PASSWORD)


def test_password_reset_ends_existing_sessions_and_api_tokens(
    client: TestClient, other_browser: TestClient, db: Session, ned: User
) -> None:
    sign_in(other_browser, EMAIL)
    token = api_token(other_browser, EMAIL)
    assert not signed_out(other_browser)
    assert other_browser.get("/api/v1/me", headers=bearer(token)).status_code == 200

    assert reset(client, reset_path(client, db)).status_code == 200

    assert signed_out(other_browser)
    assert other_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw", "Password must be 12 characters or more"),
        ("qwertyuiop12", "Password is too common"),
        ("priya.shah.password", None),
    ],
)
def test_reset_refuses_a_weak_password_and_changes_nothing(
    client: TestClient, db: Session, password: str, message: str | None
) -> None:
    ned_email = "priya.shah@airedale.example.org"
    make_user(db, ned_email, role="board_member", trust="RCF")
    path = reset_path(client, db, ned_email)
    response = reset(client, path, password=password)
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert (message or "Password must not contain your email address") in response.text
    assert verify_password(password_hash_of(db, ned_email), PASSWORD)
    # The link is still good for a better password.
    assert reset(client, path).status_code == 200


def test_reset_needs_the_same_password_twice(client: TestClient, db: Session, ned: User) -> None:
    path = reset_path(client, db)
    response = reset(client, path, confirm="Copper-meadow-lantern-78")
    assert response.status_code == 422
    assert "The passwords do not match" in response.text
    assert verify_password(password_hash_of(db, EMAIL), PASSWORD)


# --- Changing the password -----------------------------------------------------------------------


def test_change_password_needs_the_current_password(client: TestClient, db: Session, ned: User) -> None:
    sign_in(client, EMAIL)
    response = change(client, "Not-my-password-at-all", NEW_PASSWORD)
    assert response.status_code == 422
    assert "nhsuk-error-summary" in response.text
    assert "Your current password is not right" in response.text
    assert verify_password(password_hash_of(db, EMAIL), PASSWORD)
    assert not signed_out(client)


def test_change_password_refuses_a_common_password(client: TestClient, db: Session, ned: User) -> None:
    sign_in(client, EMAIL)
    response = change(client, PASSWORD, "Password123!")
    assert response.status_code == 422
    assert "Password is too common" in response.text and 'href="#new_password"' in response.text
    assert verify_password(password_hash_of(db, EMAIL), PASSWORD)


def test_change_password_signs_the_person_out_everywhere(
    client: TestClient, other_browser: TestClient, db: Session, ned: User
) -> None:
    sign_in(client, EMAIL)
    sign_in(other_browser, EMAIL)
    token = api_token(other_browser, EMAIL)

    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert signed_out(client)
    assert signed_out(other_browser)
    assert other_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert verify_password(password_hash_of(db, EMAIL), NEW_PASSWORD)
    sign_in(client, EMAIL, NEW_PASSWORD)


def test_password_events_are_audited_without_passwords_or_links(
    client: TestClient, db: Session, ned: User
) -> None:
    path = reset_path(client, db)
    reset(client, path)
    sign_in(client, EMAIL, NEW_PASSWORD)
    change(client, NEW_PASSWORD, "Harbour-violet-anchor-31")
    events = fresh(db, select(AuditEvent).order_by(AuditEvent.id))
    actions = [e.action for e in events]
    assert "password.reset" in actions and "password.changed" in actions
    by_action = {e.action: e for e in events}
    assert by_action["password.reset"].actor_id == ned.id
    assert by_action["password.changed"].actor_id == ned.id
    raw_token = path.rsplit("/", 1)[1]
    [link] = fresh(db, select(OneTimeToken))
    for event in events:
        recorded = json.dumps(event.details) + event.summary
        for secret in (raw_token, link.token_hash, PASSWORD, NEW_PASSWORD, "Harbour-violet-anchor-31"):
            assert secret not in recorded
