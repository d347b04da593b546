"""The second factor is checked on every request, not only at sign-in: a browser session or an API
token from before a person needed (or turned on) a second factor stops working without one, and
being given a platform role ends every session and token."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import ApiToken, User, WebSession
from api.db import utcnow
from api.organisations.models import Organisation
from tests.factories import (
    PASSWORD,
    api_token,
    bearer,
    csrf_from,
    make_user,
    sign_in,
    sign_in_with_second_factor,
)

TRUST = "RCF"


@pytest.fixture
def other_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def require_two_factor(db: Session, ods_code: str = TRUST) -> None:
    organisation = db.exec(select(Organisation).where(Organisation.ods_code == ods_code)).one()
    organisation.require_two_factor = True
    db.add(organisation)
    db.commit()


def turn_on_two_factor(db: Session, email: str) -> pyotp.TOTP:
    """As the set-up page would, from another browser: the sessions and tokens here never saw it."""
    user = db.exec(select(User).where(User.email == email).execution_options(populate_existing=True)).one()
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    db.add(user)
    db.commit()
    return pyotp.TOTP(user.totp_secret)


def make_platform_role(db: Session, email: str, role: str) -> None:
    """The role given straight in the database (as an old deployment, or a script, might)."""
    user = db.exec(select(User).where(User.email == email).execution_options(populate_existing=True)).one()
    user.platform_role = role
    db.add(user)
    db.commit()


def location(client: TestClient, path: str) -> str | None:
    response = client.get(path, follow_redirects=False)
    return response.headers.get("location") if response.status_code in (302, 303) else None


# --- API tokens ----------------------------------------------------------------------------------


@pytest.mark.changes_reference_data
def test_a_token_stops_working_when_the_board_requires_a_second_factor_then_needs_a_new_one(
    client: TestClient, db: Session
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    token = api_token(client, "ned@example.org")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    require_two_factor(db)
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.json()["code"] == "second_factor_not_set_up"
    assert "set it up in the web service" in refused.json()["detail"]

    totp = turn_on_two_factor(db, "ned@example.org")
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "second_factor_required"
    assert "request a new token with your code" in refused.json()["detail"]

    fresh = api_token(client, "ned@example.org", otp=totp.now())
    assert client.get("/api/v1/me", headers=bearer(fresh)).status_code == 200


def test_a_token_from_before_a_platform_role_stops_working(client: TestClient, db: Session) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    token = api_token(client, "ned@example.org")
    make_platform_role(db, "ned@example.org", "sector_analyst")
    refused = client.get("/api/v1/me", headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["code"] == "second_factor_not_set_up"
    # Every API route, not only /me: the check is in the principal's loading.
    assert client.get(f"/api/v1/organisations/{TRUST}/audit", headers=bearer(token)).status_code == 403


def test_a_token_from_before_the_person_turned_on_two_factor_stops_working(
    client: TestClient, db: Session
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    token = api_token(client, "ned@example.org")
    turn_on_two_factor(db, "ned@example.org")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.changes_reference_data
def test_a_token_issued_with_the_code_keeps_working(client: TestClient, db: Session) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    totp = turn_on_two_factor(db, "ned@example.org")
    require_two_factor(db)
    token = api_token(client, "ned@example.org", otp=totp.now())
    (stored,) = db.exec(select(ApiToken)).all()
    db.commit()
    assert stored.second_factor_at is not None
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


# --- Browser sessions ----------------------------------------------------------------------------


@pytest.mark.changes_reference_data
def test_a_session_from_before_the_board_required_it_is_sent_to_set_up_then_to_the_code(
    client: TestClient, other_browser: TestClient, db: Session
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    sign_in(other_browser, "ned@example.org")
    assert client.get("/account", follow_redirects=False).status_code == 200

    require_two_factor(db)
    assert location(client, "/account") == "/account/two-factor/set-up"
    # Set up in one browser; the other, signed in on a password alone, must now enter a code.
    turn_on_two_factor(db, "ned@example.org")
    assert location(other_browser, "/account") == "/sign-in/two-factor"
    assert location(other_browser, f"/trusts/{TRUST}") == "/sign-in/two-factor"


# --- Giving a platform role ----------------------------------------------------------------------


def test_inviting_an_existing_member_as_a_platform_role_signs_them_out_everywhere(
    client: TestClient, other_browser: TestClient, db: Session
) -> None:
    make_user(db, "admin@example.org", platform_role="platform_admin")
    ned = make_user(db, "ned@example.org", trust=TRUST)
    sign_in(other_browser, "ned@example.org")
    token = api_token(other_browser, "ned@example.org")

    sign_in_with_second_factor(client, db, "admin@example.org")
    page = client.get("/admin/people/invite")
    response = client.post(
        "/admin/people/invite",
        data={
            "email": "NED@example.org",
            "name": "Ned",
            "role": "sector_analyst",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text

    assert other_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert location(other_browser, "/account").startswith("/sign-in")
    left = db.exec(select(WebSession).where(WebSession.user_id == ned.id)).all()
    db.commit()
    assert left == []
    # Signing in again leads straight to setting up the second factor the role needs.
    sign_in(other_browser, "ned@example.org", PASSWORD)
    assert location(other_browser, "/account") == "/account/two-factor/set-up"
