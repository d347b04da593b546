"""Sensitive changes ask again: turning two-factor off, new recovery codes, a new password or email
address need the password, and a current code where two-factor is on. A hijacked browser session
alone cannot do any of them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import RecoveryCode, SignInAttempt, User
from api.accounts.passwords import verify_password
from api.audit.models import AuditEvent
from api.db import utcnow
from api.mail import OutboxEmail
from tests.factories import PASSWORD, api_token, bearer, csrf_from, make_user, sign_in, with_second_factor

TRUST = "RCF"
EMAIL = "ned@example.org"
NEW_PASSWORD = "Copper-meadow-violin-58"


@pytest.fixture
def ned(db: Session) -> User:
    return make_user(db, EMAIL, trust=TRUST, name="Ned Member")


@pytest.fixture
def ned_with_two_factor(client: TestClient, db: Session, ned: User) -> pyotp.TOTP:
    """Ned with two-factor on, signed in with a code in `client`."""
    with_second_factor(db, ned)
    totp = pyotp.TOTP(ned.totp_secret)
    sign_in(client, EMAIL)
    page = client.get("/sign-in/two-factor")
    response = client.post(
        "/sign-in/two-factor",
        # The previous 30-second step's code (one step of drift is allowed), so the test's own
        # totp.now() is still unused.
        data={"code": totp.at(utcnow().timestamp() - 30), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return totp


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def submit(client: TestClient, path: str, data: dict[str, str]):  # noqa: ANN201
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={**data, "csrf_token": csrf_from(page.text)}, follow_redirects=False)


def fresh_user(db: Session, email: str = EMAIL) -> User:
    user = db.exec(
        select(User).where(User.id == _id_of(db, email)).execution_options(populate_existing=True)
    ).one()
    db.commit()
    return user


def _id_of(db: Session, email: str) -> int:
    found = db.exec(select(User.id).where(User.email == email)).first()
    db.commit()
    assert found is not None, f"no account {email}"
    return found


def actions(db: Session, action: str) -> list[AuditEvent]:
    found = list(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())
    db.commit()
    return found


def wrong_codes_counted(db: Session) -> int:
    found = db.exec(select(SignInAttempt).where(SignInAttempt.second_factor.is_(True))).all()  # type: ignore[attr-defined]
    db.commit()
    return len(found)


def errors_on(html: str) -> list[str]:
    box = re.search(r'<div class="nhsuk-error-summary".*?</div>\s*</div>', html, re.S)
    assert box, "no error summary on the page"
    return [" ".join(text.split()) for text in re.findall(r'<a href="#[^"]+">(.*?)</a>', box.group(0), re.S)]


# --- Two-factor off ------------------------------------------------------------------------------


def test_turning_two_factor_off_needs_the_password_and_a_current_code(
    client: TestClient, db: Session, ned_with_two_factor: pyotp.TOTP
) -> None:
    totp = ned_with_two_factor
    path = "/account/two-factor/turn-off"
    nothing = submit(client, path, {})
    assert nothing.status_code == 422 and errors_on(nothing.text) == ["Enter your password"]
    wrong_password = submit(client, path, {"current_password": "Not-my-password-99", "code": totp.now()})
    assert errors_on(wrong_password.text) == ["Your current password is not right"]
    no_code = submit(client, path, {"current_password": PASSWORD})
    assert errors_on(no_code.text) == ["Enter the 6-digit code from your authenticator app"]
    wrong_code = submit(client, path, {"current_password": PASSWORD, "code": "000000"})
    assert errors_on(wrong_code.text) == ["The code is not right. Check your app and try again"]
    # The wrong code is counted with sign-in failures, and audited.
    assert wrong_codes_counted(db) == 1
    assert [e.details.get("reason") for e in actions(db, "sign_in.failed")] == [None, "second_factor"]
    assert fresh_user(db).totp_enabled_at is not None and actions(db, "two_factor.disabled") == []

    done = submit(client, path, {"current_password": PASSWORD, "code": totp.now()})
    assert done.status_code == 303
    assert fresh_user(db).totp_enabled_at is None
    assert len(actions(db, "two_factor.disabled")) == 1


def test_new_recovery_codes_need_the_password_and_a_code_and_a_wrong_one_changes_nothing(
    client: TestClient, db: Session, ned_with_two_factor: pyotp.TOTP
) -> None:
    totp = ned_with_two_factor
    before = db.exec(select(RecoveryCode.code_hash)).all()
    db.commit()
    refused = submit(client, "/account/two-factor/recovery-codes", {"current_password": PASSWORD, "code": ""})
    assert refused.status_code == 422
    refused = submit(
        client,
        "/account/two-factor/recovery-codes",
        {"current_password": "Wrong-password-77", "code": totp.now()},
    )
    assert refused.status_code == 422
    after = db.exec(select(RecoveryCode.code_hash)).all()
    db.commit()
    assert after == before and actions(db, "two_factor.recovery_codes_renewed") == []

    done = submit(
        client, "/account/two-factor/recovery-codes", {"current_password": PASSWORD, "code": totp.now()}
    )
    assert done.status_code == 200 and "Save your recovery codes" in done.text


def test_the_two_factor_page_sends_people_to_confirm_rather_than_acting_at_once(
    client: TestClient, ned_with_two_factor: pyotp.TOTP
) -> None:
    page = client.get("/account/two-factor").text
    assert (
        'href="/account/two-factor/recovery-codes"' in page and 'href="/account/two-factor/turn-off"' in page
    )
    assert '<form method="post" action="/account/two-factor' not in page
    confirm = client.get("/account/two-factor/turn-off").text
    assert 'name="current_password"' in confirm and 'name="code"' in confirm


# --- Password --------------------------------------------------------------------------------------


def test_changing_the_password_with_two_factor_on_needs_a_code_too(
    client: TestClient, db: Session, ned_with_two_factor: pyotp.TOTP
) -> None:
    totp = ned_with_two_factor
    fields = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert 'name="code"' in client.get("/account/password").text
    refused = submit(client, "/account/password", fields)
    assert refused.status_code == 422
    assert errors_on(refused.text) == ["Enter the 6-digit code from your authenticator app"]
    assert verify_password(fresh_user(db).password_hash, PASSWORD)

    done = submit(client, "/account/password", {**fields, "code": totp.now()})
    assert done.status_code == 303
    assert verify_password(fresh_user(db).password_hash, NEW_PASSWORD)


def test_changing_the_password_without_two_factor_asks_no_code(client: TestClient, ned: User) -> None:
    sign_in(client, EMAIL)
    assert 'name="code"' not in client.get("/account/password").text


# --- Email address -----------------------------------------------------------------------------------


def test_account_page_links_to_changing_the_email_address(client: TestClient, ned: User) -> None:
    sign_in(client, EMAIL)
    assert 'href="/account/email"' in client.get("/account").text


def test_changing_the_email_address_needs_the_password_folds_it_and_signs_out_everywhere(
    client: TestClient, other_browser: TestClient, db: Session, ned: User
) -> None:
    sign_in(client, EMAIL)
    sign_in(other_browser, EMAIL)
    token = api_token(other_browser, EMAIL)

    refused = submit(
        client, "/account/email", {"email": "ned.new@example.org", "current_password": "Wrong-one-123"}
    )
    assert refused.status_code == 422
    assert errors_on(refused.text) == ["Your current password is not right"]
    assert fresh_user(db).email == EMAIL

    done = submit(client, "/account/email", {"email": " Ned.NEW@Example.org ", "current_password": PASSWORD})
    assert done.status_code == 200, done.text
    assert "Your email address has been changed" in done.text and "ned.new@example.org" in done.text
    user = fresh_user(db, "ned.new@example.org")
    assert user.id == ned.id
    # Signed out everywhere: this browser, the other one and the API token.
    assert client.get("/account", follow_redirects=False).status_code == 303
    assert other_browser.get("/account", follow_redirects=False).status_code == 303
    assert other_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401
    # Both addresses are told; the change is audited with both.
    sent = db.exec(select(OutboxEmail.to_address, OutboxEmail.subject)).all()
    db.commit()
    assert ("ned@example.org", "Your email address has been changed") in sent
    assert ("ned.new@example.org", "You now sign in with this email address") in sent
    (event,) = actions(db, "account.email_changed")
    assert event.actor_id == ned.id
    assert event.details == {"old_email": EMAIL, "new_email": "ned.new@example.org"}
    # The new address signs in; the old one no longer does.
    sign_in(client, "ned.new@example.org")
    page = other_browser.get("/sign-in")
    old = other_browser.post(
        "/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert old.status_code == 401


def test_an_email_address_another_account_has_is_refused_even_spelt_differently(
    client: TestClient, db: Session, ned: User
) -> None:
    make_user(db, "finance@example.org", trust=TRUST)
    sign_in(client, EMAIL)
    refused = submit(client, "/account/email", {"email": "ﬁnance@EXAMPLE.org", "current_password": PASSWORD})
    assert refused.status_code == 409
    assert errors_on(refused.text) == [
        "Another account uses that email address. Enter a different one, or ask the service team"
    ]
    assert fresh_user(db).email == EMAIL and actions(db, "account.email_changed") == []


def test_changing_the_email_address_with_two_factor_on_needs_a_code(
    client: TestClient, db: Session, ned_with_two_factor: pyotp.TOTP
) -> None:
    refused = submit(client, "/account/email", {"email": "ned.new@example.org", "current_password": PASSWORD})
    assert refused.status_code == 422
    assert errors_on(refused.text) == ["Enter the 6-digit code from your authenticator app"]
    assert fresh_user(db).email == EMAIL


def test_an_invalid_new_email_address_is_refused_before_the_password_is_checked(
    client: TestClient, db: Session, ned: User
) -> None:
    sign_in(client, EMAIL)
    refused = submit(client, "/account/email", {"email": "not an address", "current_password": PASSWORD})
    assert refused.status_code == 422
    assert errors_on(refused.text) == ["Enter an email address in the correct format, like name@example.com"]
    same = submit(client, "/account/email", {"email": "NED@example.org", "current_password": PASSWORD})
    assert errors_on(same.text) == ["That is already your email address"]
