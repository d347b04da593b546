"""TOTP enrolment and sign-in with a second factor: recovery codes, replay, throttling, the trust rule."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts import two_factor
from api.accounts.models import RecoveryCode, User
from api.audit.models import AuditEvent
from api.organisations.models import Organisation
from tests.factories import PASSWORD, csrf_from, make_user, organisation, page_csrf, sign_in

TRUST = "RCF"
OTHER_TRUST = "RBS"
WRONG = "The code is not right. Check your app and try again"


class Clock:
    """The time TOTP codes are checked at: fixed, and moved on a 30-second step at a time."""

    def __init__(self) -> None:
        self.now = 1_800_000_015.0

    def time(self) -> float:
        return self.now

    def next_step(self) -> None:
        self.now += 30


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(two_factor, "time", types.SimpleNamespace(time=clock.time))
    yield clock


def code_for(secret: str, clock: Clock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


def page_token(client: TestClient, path: str) -> str:
    """The CSRF token every page carries in its head (the same one its forms and sign-out button use)."""
    html = client.get(path).text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def post(client: TestClient, path: str, data: dict[str, str] | None = None, csrf_page: str | None = None):  # noqa: ANN201
    """A form POST with the CSRF token from `csrf_page` (or the page itself)."""
    token = page_token(client, csrf_page or path)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False)


def location(client: TestClient, path: str) -> str | None:
    response = client.get(path, follow_redirects=False)
    return response.headers.get("location") if response.status_code in (302, 303) else None


def enrol(client: TestClient, clock: Clock) -> tuple[str, list[str]]:
    """Set up an authenticator app through the pages; returns the secret and the recovery codes."""
    page = client.get("/account/two-factor/set-up")
    assert page.status_code == 200, page.text
    secret = re.search(r'id="secret-key"[^>]*>([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")
    response = client.post(
        "/account/two-factor/set-up",
        data={"code": code_for(secret, clock), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 200, response.text
    return secret, recovery_codes_in(response.text)


def recovery_codes_in(html: str) -> list[str]:
    listing = re.search(r'<ol id="recovery-codes".*?</ol>', html, re.S).group(0)
    return re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", listing)


def sign_out(client: TestClient) -> None:
    token = page_token(client, "/account")
    response = client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/signed-out"


def sign_in_again(client: TestClient, email: str) -> None:
    sign_out(client)
    sign_in(client, email)


def second_factor(client: TestClient, code: str, next: str = ""):  # noqa: ANN201
    data = {"code": code, "next": next} if next else {"code": code}
    return post(client, "/sign-in/two-factor", data)


# Each read ends its transaction: on SQLite an open one would hold the write lock the app needs.


def user_named(db: Session, email: str) -> User:
    user = db.exec(select(User).where(User.email == email).execution_options(populate_existing=True)).one()
    db.commit()
    return user


def recovery_codes_of(db: Session, user: User) -> list[RecoveryCode]:
    rows = list(db.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all())
    db.commit()
    return rows


def board(db: Session, ods_code: str = TRUST) -> Organisation:
    found = db.exec(
        select(Organisation)
        .where(Organisation.ods_code == ods_code)
        .execution_options(populate_existing=True)
    ).one()
    db.commit()
    return found


def audit_actions(db: Session, action: str) -> list[AuditEvent]:
    events = list(
        db.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
    )
    db.commit()
    return events


# --- Who must set it up -------------------------------------------------------------------------


def test_platform_admin_is_sent_to_set_up_and_cannot_reach_account_until_done(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "admin@example.org", platform_role="platform_admin")
    sign_in(client, "admin@example.org")
    for path in ("/account", "/home", "/account/two-factor"):
        assert location(client, path) == "/account/two-factor/set-up", path

    page = client.get("/account/two-factor/set-up")
    assert page.status_code == 200
    assert "<svg" in page.text and "QR code for your authenticator app" in page.text
    assert page.headers["cache-control"] == "no-store"
    # Part-way through signing in: no links into the service, only a way out.
    assert 'href="/account"' not in page.text and "Sign out" in page.text

    enrol(client, clock)
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_sector_analyst_is_sent_to_set_up(client: TestClient, db: Session) -> None:
    make_user(db, "analyst@example.org", platform_role="sector_analyst")
    sign_in(client, "analyst@example.org")
    assert location(client, "/account") == "/account/two-factor/set-up"


def test_board_member_without_a_requirement_is_offered_two_factor_but_not_made_to(
    client: TestClient, db: Session
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    assert client.get("/account", follow_redirects=False).status_code == 200
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    assert "Off" in page.text and 'href="/account/two-factor/set-up"' in page.text


# --- Enrolment ----------------------------------------------------------------------------------


def test_set_up_page_keeps_the_same_secret_on_reload(client: TestClient, db: Session) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    first = client.get("/account/two-factor/set-up").text
    second = client.get("/account/two-factor/set-up").text
    secret = user_named(db, "ned@example.org").totp_secret
    assert secret
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in first and grouped in second


def test_enrolment_with_a_wrong_code_fails_and_enables_nothing(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "admin@example.org", platform_role="platform_admin")
    sign_in(client, "admin@example.org")
    page = client.get("/account/two-factor/set-up")
    secret = user_named(db, "admin@example.org").totp_secret
    wrong = "000000" if code_for(secret, clock) != "000000" else "111111"

    response = client.post(
        "/account/two-factor/set-up",
        data={"code": wrong, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )

    assert response.status_code == 422
    assert "There is a problem" in response.text and WRONG in response.text
    user = user_named(db, "admin@example.org")
    assert user.totp_enabled_at is None
    assert recovery_codes_of(db, user) == []
    assert audit_actions(db, "two_factor.enabled") == []
    assert location(client, "/account") == "/account/two-factor/set-up"


def test_enrolment_with_the_right_code_turns_it_on_and_shows_ten_recovery_codes_once(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    page = client.get("/account/two-factor/set-up")
    secret = user_named(db, "ned@example.org").totp_secret

    response = client.post(
        "/account/two-factor/set-up",
        data={"code": code_for(secret, clock), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )

    assert response.status_code == 200
    assert (
        "Save your recovery codes" in response.text and "You will not see these codes again" in response.text
    )
    assert response.headers["cache-control"] == "no-store"
    codes = recovery_codes_in(response.text)
    assert len(set(codes)) == 10
    user = user_named(db, "ned@example.org")
    assert user.totp_enabled_at is not None
    stored = recovery_codes_of(db, user)
    assert len(stored) == 10
    assert not any(code in str(row.code_hash) for row in stored for code in codes)
    assert [e.actor_id for e in audit_actions(db, "two_factor.enabled")] == [user.id]
    # The codes are not shown again.
    assert not set(codes) & set(
        re.findall(r"[a-z2-9]{5}-[a-z2-9]{5}", client.get("/account/two-factor").text)
    )
    # Having just proved they hold the app, this browser is fully signed in.
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_someone_with_two_factor_on_cannot_set_it_up_again_before_passing_it(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    sign_in_again(client, "ned@example.org")

    assert location(client, "/account/two-factor/set-up") == "/sign-in/two-factor"
    attacker_secret = pyotp.random_base32()
    response = post(
        client,
        "/account/two-factor/set-up",
        {"code": pyotp.TOTP(attacker_secret).at(clock.now)},
        csrf_page="/sign-in/two-factor",
    )
    assert response.headers["location"] == "/sign-in/two-factor"
    assert user_named(db, "ned@example.org").totp_secret == secret


# --- Signing in with the second factor ----------------------------------------------------------


def test_next_sign_in_asks_for_the_code_before_any_page(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "chair@example.org", role="chair", trust=TRUST)
    sign_in(client, "chair@example.org")
    secret, _codes = enrol(client, clock)
    sign_out(client)
    sign_ins_before = len(audit_actions(db, "sign_in"))

    token = page_csrf(client, "/sign-in")
    response = client.post(
        "/sign-in",
        data={"email": "chair@example.org", "password": "Lantern-harbour-kettle-42", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/sign-in/two-factor"
    for path in ("/account", "/home", f"/trusts/{TRUST}", "/account/two-factor"):
        assert location(client, path) == "/sign-in/two-factor", path
    # The password alone is not a sign-in yet.
    assert len(audit_actions(db, "sign_in")) == sign_ins_before

    page = client.get("/sign-in/two-factor")
    assert 'inputmode="numeric"' in page.text and 'autocomplete="one-time-code"' in page.text
    assert "Use a recovery code instead" in page.text

    clock.next_step()
    response = second_factor(client, code_for(secret, clock))
    assert response.status_code == 303 and response.headers["location"] == "/home"
    assert client.get("/account", follow_redirects=False).status_code == 200
    events = audit_actions(db, "sign_in")
    assert len(events) == sign_ins_before + 1
    assert events[-1].summary == "Signed in with a second factor"
    assert events[-1].client_ip
    # Already passed: the code page sends them on.
    assert location(client, "/sign-in/two-factor") == "/home"


def test_second_factor_returns_to_the_page_asked_for_but_never_off_site(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)

    sign_in_again(client, "ned@example.org")
    clock.next_step()
    response = second_factor(client, code_for(secret, clock), next="/account")
    assert response.headers["location"] == "/account"

    sign_in_again(client, "ned@example.org")
    clock.next_step()
    response = second_factor(client, code_for(secret, clock), next="//evil.example.com/")
    assert response.headers["location"] == "/home"


def test_wrong_codes_are_refused_and_count_toward_the_account_throttle(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    sign_in_again(client, "ned@example.org")
    clock.next_step()
    right = code_for(secret, clock)
    wrong = "000000" if right != "000000" else "111111"

    for _ in range(5):
        response = second_factor(client, wrong)
        assert response.status_code == 401
        assert "There is a problem" in response.text and WRONG in response.text

    response = second_factor(client, right)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many wrong codes" in response.text
    assert location(client, "/account") == "/sign-in/two-factor"
    # The same account limit holds for passwords.
    token = page_csrf(client, "/sign-in")
    response = client.post(
        "/sign-in",
        data={"email": "ned@example.org", "password": "Lantern-harbour-kettle-42", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 429


def test_a_recovery_code_works_once_only(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    _secret, codes = enrol(client, clock)

    sign_in_again(client, "ned@example.org")
    response = second_factor(client, codes[3].upper())
    assert response.status_code == 303
    assert audit_actions(db, "sign_in")[-1].details == {"method": "recovery code"}

    sign_in_again(client, "ned@example.org")
    response = second_factor(client, codes[3])
    assert response.status_code == 401
    assert location(client, "/account") == "/sign-in/two-factor"
    assert second_factor(client, codes[4]).status_code == 303


def test_the_same_totp_code_cannot_be_used_twice(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    enrolment_code = code_for(secret, clock)

    sign_in_again(client, "ned@example.org")
    assert second_factor(client, enrolment_code).status_code == 401

    clock.next_step()
    code = code_for(secret, clock)
    assert second_factor(client, code).status_code == 303

    sign_in_again(client, "ned@example.org")
    assert second_factor(client, code).status_code == 401


def test_two_factor_forms_need_the_csrf_token(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    sign_in_again(client, "ned@example.org")
    clock.next_step()
    response = client.post(
        "/sign-in/two-factor", data={"code": code_for(secret, clock)}, follow_redirects=False
    )
    assert response.status_code == 403
    assert location(client, "/account") == "/sign-in/two-factor"


def test_two_factor_page_sends_someone_not_signed_in_to_sign_in(client: TestClient) -> None:
    assert location(client, "/sign-in/two-factor").startswith("/sign-in?next=")


# --- The API token endpoint ---------------------------------------------------------------------


def test_api_token_needs_the_otp_field_for_someone_with_two_factor(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    credentials = {"username": "ned@example.org", "password": "Lantern-harbour-kettle-42"}

    without = client.post("/api/v1/auth/token", data=credentials)
    assert without.status_code == 401
    assert without.json()["detail"] == "Send your two-factor code in the otp field"

    clock.next_step()
    with_code = client.post("/api/v1/auth/token", data={**credentials, "otp": code_for(secret, clock)})
    assert with_code.status_code == 200
    assert with_code.json()["access_token"]


def test_api_token_is_refused_to_a_sector_analyst_without_two_factor(client: TestClient, db: Session) -> None:
    make_user(db, "analyst@example.org", platform_role="sector_analyst")
    response = client.post(
        "/api/v1/auth/token",
        data={"username": "analyst@example.org", "password": "Lantern-harbour-kettle-42"},
    )
    assert response.status_code == 401
    assert "Set up two-factor authentication" in response.json()["detail"]


# --- Managing it --------------------------------------------------------------------------------


def test_turning_off_two_factor_is_refused_for_a_platform_admin(
    client: TestClient, db: Session, clock: Clock
) -> None:
    make_user(db, "admin@example.org", platform_role="platform_admin")
    sign_in(client, "admin@example.org")
    enrol(client, clock)
    page = client.get("/account/two-factor")
    assert 'action="/account/two-factor/turn-off"' not in page.text

    response = post(client, "/account/two-factor/turn-off", csrf_page="/account/two-factor")

    assert response.status_code == 403
    assert "You cannot turn off two-factor authentication" in response.text
    assert user_named(db, "admin@example.org").totp_enabled_at is not None
    assert audit_actions(db, "two_factor.disabled") == []


def test_board_member_can_turn_off_two_factor(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, _codes = enrol(client, clock)
    clock.next_step()

    response = post(
        client,
        "/account/two-factor/turn-off",
        {"current_password": PASSWORD, "code": code_for(secret, clock)},
        csrf_page="/account/two-factor",
    )

    assert response.headers["location"] == "/account/two-factor"
    user = user_named(db, "ned@example.org")
    assert user.totp_enabled_at is None and user.totp_secret is None
    assert recovery_codes_of(db, user) == []
    assert len(audit_actions(db, "two_factor.disabled")) == 1
    sign_in_again(client, "ned@example.org")
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")
    secret, old_codes = enrol(client, clock)
    clock.next_step()

    response = post(
        client,
        "/account/two-factor/recovery-codes",
        {"current_password": PASSWORD, "code": code_for(secret, clock)},
        csrf_page="/account/two-factor",
    )

    assert response.status_code == 200
    new_codes = recovery_codes_in(response.text)
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
    assert len(audit_actions(db, "two_factor.recovery_codes_renewed")) == 1
    sign_in_again(client, "ned@example.org")
    assert second_factor(client, old_codes[0]).status_code == 401
    assert second_factor(client, new_codes[0]).status_code == 303


# --- A trust's rule for its board ---------------------------------------------------------------


@pytest.mark.changes_reference_data  # the trust then requires two-factor authentication
def test_chair_can_require_two_factor_and_a_ned_of_that_board_is_then_sent_to_set_up(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    make_user(db, "chair@example.org", role="chair", trust=TRUST)
    make_user(db, "ned@example.org", trust=TRUST)
    make_user(db, "elsewhere@example.org", trust=OTHER_TRUST)
    with TestClient(app) as ned_client, TestClient(app) as other_client:
        sign_in(ned_client, "ned@example.org")
        sign_in(other_client, "elsewhere@example.org")
        assert ned_client.get(f"/trusts/{TRUST}", follow_redirects=False).status_code == 200

        sign_in(client, "chair@example.org")
        page = client.get(f"/trusts/{TRUST}/settings")
        assert page.status_code == 200
        assert "Require two-factor authentication for everyone on this board" in page.text
        assert " checked" not in page.text
        response = client.post(
            f"/trusts/{TRUST}/settings",
            data={"require_two_factor": "yes", "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303

        assert board(db).require_two_factor is True
        (event,) = audit_actions(db, "trust.two_factor_required")
        assert event.organisation_id == board(db).id
        # Everyone on the board, the chair included, must now set it up; other boards are untouched.
        assert location(ned_client, f"/trusts/{TRUST}") == "/account/two-factor/set-up"
        assert location(client, f"/trusts/{TRUST}/settings") == "/account/two-factor/set-up"
        assert other_client.get(f"/trusts/{OTHER_TRUST}", follow_redirects=False).status_code == 200


def test_chair_can_make_two_factor_optional_again(client: TestClient, db: Session, clock: Clock) -> None:
    make_user(db, "chair@example.org", role="chair", trust=TRUST)
    chairs_board = organisation(db, TRUST)
    chairs_board.require_two_factor = True
    db.add(chairs_board)
    db.commit()
    sign_in(client, "chair@example.org")
    enrol(client, clock)
    page = client.get(f"/trusts/{TRUST}/settings")
    assert " checked" in page.text

    response = client.post(
        f"/trusts/{TRUST}/settings", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
    )

    assert response.status_code == 303
    assert board(db).require_two_factor is False
    assert len(audit_actions(db, "trust.two_factor_optional")) == 1


def test_board_member_gets_403_on_the_settings_page(client: TestClient, db: Session) -> None:
    make_user(db, "ned@example.org", trust=TRUST)
    sign_in(client, "ned@example.org")

    assert client.get(f"/trusts/{TRUST}/settings").status_code == 403
    response = post(client, f"/trusts/{TRUST}/settings", {"require_two_factor": "yes"}, csrf_page="/account")
    assert response.status_code == 403
    assert board(db).require_two_factor is False
    assert audit_actions(db, "trust.two_factor_required") == []


def test_another_trusts_chair_gets_404_on_the_settings_page(client: TestClient, db: Session) -> None:
    make_user(db, "chair@example.org", role="chair", trust=OTHER_TRUST)
    sign_in(client, "chair@example.org")

    assert client.get(f"/trusts/{TRUST}/settings").status_code == 404
    response = post(client, f"/trusts/{TRUST}/settings", {"require_two_factor": "yes"}, csrf_page="/account")
    assert response.status_code == 404
    assert board(db).require_two_factor is False
    assert audit_actions(db, "trust.two_factor_required") == []


def test_board_secretary_can_open_the_settings_page(client: TestClient, db: Session) -> None:
    make_user(db, "secretary@example.org", role="board_secretary", trust=TRUST)
    sign_in(client, "secretary@example.org")
    assert client.get(f"/trusts/{TRUST}/settings").status_code == 200
