"""Growing delays instead of a lock-out (OWASP): by account and address, by address, by account from
unknown addresses, and on two-factor codes; the same answers for an account that does not exist.

The clock of the delays is fixed (sign_in_clock), so no test races a one-second wait.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from api.accounts import signin
from api.accounts.models import SignInAttempt, User
from api.audit.models import AuditEvent
from api.db import utcnow
from tests.accounts.conftest import SignInClock
from tests.factories import PASSWORD, csrf_from, make_user, page_csrf

TRUST = "RCF"
EMAIL = "jo.chair@example.org"
NOBODY = "nobody.here@example.org"
WRONG = "Not-the-password-at-all-1"
CHAIR_ADDRESS = ("198.51.100.7", 50000)
ATTACKER_ADDRESS = ("203.0.113.66", 50000)


@pytest.fixture
def chair(db: Session) -> User:
    return make_user(db, EMAIL, role="chair", trust=TRUST, name="Jo Chair")


@pytest.fixture
def attacker(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=ATTACKER_ADDRESS) as client:
        yield client


@pytest.fixture
def chair_browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=CHAIR_ADDRESS) as client:
        yield client


def post_sign_in(client: TestClient, email: str, password: str) -> Response:
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )


def post_token(client: TestClient, email: str, password: str, otp: str | None = None) -> Response:
    data = {"username": email, "password": password}
    if otp is not None:
        data["otp"] = otp
    return client.post("/api/v1/auth/token", data=data)


def error_summary(html: str) -> list[str]:
    box = re.search(r'<div class="nhsuk-error-summary".*?</div>\s*</div>', html, re.S)
    assert box, "no error summary on the page"
    return [" ".join(text.split()) for text in re.findall(r'<a href="#[^"]+">(.*?)</a>', box.group(0), re.S)]


def retry_after(response: Response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["retry-after"])


def fail_until_waiting(client: TestClient, email: str, clock: SignInClock, failures: int) -> None:
    """Make `failures` wrong-password attempts that are checked (waiting out each delay)."""
    for _ in range(failures):
        response = post_token(client, email, WRONG)
        if response.status_code == 429:
            clock.advance(retry_after(response))
            response = post_token(client, email, WRONG)
        assert response.status_code == 401, response.text


def counted_failures(db: Session, email: str) -> int:
    found = db.exec(
        select(SignInAttempt).where(SignInAttempt.email == email, SignInAttempt.succeeded.is_(False))
    ).all()  # type: ignore[attr-defined]
    db.commit()
    return len(found)


def audited(db: Session, action: str) -> list[AuditEvent]:
    events = list(
        db.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
    )
    db.commit()
    return events


# --- The delays ----------------------------------------------------------------------------------


def test_five_failures_cost_nothing_then_even_the_right_password_waits_a_second(
    client: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    for _ in range(5):
        assert post_sign_in(client, EMAIL, WRONG).status_code == 401
    refused = post_sign_in(client, EMAIL, PASSWORD)
    assert retry_after(refused) == 1
    assert error_summary(refused.text) == ["Too many attempts to sign in. Wait 1 second and try again"]
    sign_in_clock.advance(1)
    assert post_sign_in(client, EMAIL, PASSWORD).status_code == 303


def test_the_wait_doubles_with_each_further_failure_up_to_five_minutes(
    client: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    for _ in range(5):
        assert post_token(client, EMAIL, WRONG).status_code == 401
    waits = []
    for _ in range(11):
        waits.append(retry_after(post_token(client, EMAIL, PASSWORD)))
        sign_in_clock.advance(waits[-1])
        assert post_token(client, EMAIL, WRONG).status_code == 401
    # One address on one account: 1 s doubling to the 5-minute cap (the account-wide rule's
    # one-minute cap is lower only for other addresses; see the test of known addresses).
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_tries_while_waiting_are_refused_audited_and_do_not_lengthen_the_wait(
    client: TestClient, db: Session, chair: User, sign_in_clock: SignInClock
) -> None:
    fail_until_waiting(client, EMAIL, sign_in_clock, 8)
    waited_before = len([e for e in audited(db, "sign_in.failed") if e.details.get("reason") == "waiting"])
    first = retry_after(post_token(client, EMAIL, PASSWORD))
    for _ in range(10):
        assert retry_after(post_token(client, EMAIL, WRONG)) == first
    assert counted_failures(db, EMAIL) == 8
    waiting = [e for e in audited(db, "sign_in.failed") if e.details.get("reason") == "waiting"]
    assert len(waiting) - waited_before == 11
    assert {e.client_ip for e in waiting} == {"testclient"} and {e.actor_id for e in waiting} == {chair.id}
    sign_in_clock.advance(first)
    assert post_token(client, EMAIL, PASSWORD).status_code == 200


def test_the_api_says_how_long_to_wait_with_retry_after(
    client: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    fail_until_waiting(client, EMAIL, sign_in_clock, 7)
    refused = post_token(client, EMAIL, PASSWORD)
    assert retry_after(refused) == 4
    assert refused.json() == {"detail": "Too many attempts to sign in. Wait 4 seconds and try again"}
    assert "access_token" not in refused.json()


def test_an_unknown_email_gets_the_same_delays_and_the_same_words(
    client: TestClient, chair: User, sign_in_clock: SignInClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str | None] = []
    real_verify = signin.verify_password

    def counting_verify(password_hash: str | None, password: str) -> bool:
        hashed.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(signin, "verify_password", counting_verify)

    def journey(email: str) -> list[tuple[int, str | None, str]]:
        seen = []
        for _ in range(9):
            response = post_sign_in(client, email, WRONG)
            seen.append(
                (
                    response.status_code,
                    response.headers.get("retry-after"),
                    " ".join(error_summary(response.text)),
                )
            )
            if response.status_code == 429:
                sign_in_clock.advance(int(response.headers["retry-after"]))
        return seen

    known, unknown = journey(EMAIL), journey(NOBODY)
    assert known == unknown
    assert [status for status, _wait, _words in known].count(429) >= 2
    # An unknown account still costs one argon2 hash per checked attempt, so it takes as long.
    checked = [status for status, _wait, _words in unknown].count(401)
    assert hashed[-checked:] == [None] * checked


def test_one_address_trying_many_accounts_waits_after_twenty_failures(
    attacker: TestClient, chair_browser: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    for number in range(20):
        assert post_sign_in(attacker, f"guess{number}@example.org", WRONG).status_code == 401
    assert retry_after(post_sign_in(attacker, "another@example.org", WRONG)) == 1
    # Someone at another address is not slowed down by it.
    assert post_sign_in(chair_browser, EMAIL, PASSWORD).status_code == 303


def test_someone_elsewhere_cannot_keep_the_owner_out_where_they_usually_sign_in(
    attacker: TestClient, chair_browser: TestClient, app: FastAPI, chair: User, sign_in_clock: SignInClock
) -> None:
    # The chair signed in from this address before (so it is known for their account).
    assert post_sign_in(chair_browser, EMAIL, PASSWORD).status_code == 303
    chair_browser.cookies.clear()
    # An attacker, from many addresses, keeps guessing the chair's password as fast as allowed.
    for number in range(40):
        with TestClient(app, client=(f"203.0.113.{number + 1}", 50000)) as somewhere:
            response = post_token(somewhere, EMAIL, WRONG)
            if response.status_code == 429:
                # The account-wide wait from an unknown address: never more than a minute.
                assert retry_after(response) <= 60
                sign_in_clock.advance(retry_after(response))
                assert post_token(somewhere, EMAIL, WRONG).status_code == 401
    assert retry_after(post_token(attacker, EMAIL, PASSWORD)) <= 60
    # At the address the chair signed in from, the right password works at once.
    assert post_sign_in(chair_browser, EMAIL, PASSWORD).status_code == 303


def test_the_wait_is_kept_per_folded_address_so_case_does_not_dodge_it(
    client: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    for _ in range(5):
        assert post_token(client, EMAIL, WRONG).status_code == 401
    assert retry_after(post_token(client, EMAIL.upper(), PASSWORD)) == 1
    assert retry_after(post_token(client, "jo.chair@EXAMPLE.org", PASSWORD)) == 1


# --- Two-factor codes through the token endpoint -------------------------------------------------


@pytest.fixture
def ned_with_two_factor(db: Session) -> tuple[User, pyotp.TOTP]:
    user = make_user(db, "ned@example.org", trust=TRUST)
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    db.add(user)
    db.commit()
    return user, pyotp.TOTP(user.totp_secret)


def wrong_code(totp: pyotp.TOTP) -> str:
    current = {totp.now(), totp.at(utcnow().timestamp() - 30), totp.at(utcnow().timestamp() + 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in current)


def test_a_wrong_otp_on_the_token_endpoint_is_counted_audited_and_delayed(
    client: TestClient,
    db: Session,
    ned_with_two_factor: tuple[User, pyotp.TOTP],
    sign_in_clock: SignInClock,
) -> None:
    user, totp = ned_with_two_factor
    for _ in range(5):
        response = post_token(client, user.email, PASSWORD, otp=wrong_code(totp))
        assert response.status_code == 401
        assert response.json() == {"detail": "The two-factor code is not right"}
    refused = post_token(client, user.email, PASSWORD, otp=totp.now())
    assert retry_after(refused) == 1
    assert "access_token" not in refused.json()

    wrong = [e for e in audited(db, "sign_in.failed") if e.details.get("reason") == "second_factor"]
    assert len(wrong) == 5
    assert {(e.actor_id, e.client_ip, e.details["channel"]) for e in wrong} == {
        (user.id, "testclient", "api")
    }
    attempts = db.exec(select(SignInAttempt).where(SignInAttempt.second_factor.is_(True))).all()  # type: ignore[attr-defined]
    db.commit()
    assert len(attempts) == 5

    sign_in_clock.advance(1)
    assert post_token(client, user.email, PASSWORD, otp=totp.now()).status_code == 200


def test_wrong_codes_on_the_page_and_the_api_share_one_count(
    client: TestClient, ned_with_two_factor: tuple[User, pyotp.TOTP], sign_in_clock: SignInClock
) -> None:
    user, totp = ned_with_two_factor
    assert post_sign_in(client, user.email, PASSWORD).status_code == 303
    for _ in range(3):
        page = client.get("/sign-in/two-factor")
        response = client.post(
            "/sign-in/two-factor",
            data={"code": wrong_code(totp), "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 401
    for _ in range(2):
        assert post_token(client, user.email, PASSWORD, otp=wrong_code(totp)).status_code == 401
    assert retry_after(post_token(client, user.email, PASSWORD, otp=totp.now())) == 1
    page = client.get("/sign-in/two-factor")
    on_page = client.post(
        "/sign-in/two-factor",
        data={"code": totp.now(), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert retry_after(on_page) == 1
    assert "Too many wrong codes. Wait 1 second and try again" in on_page.text


def test_guessing_codes_from_many_addresses_meets_a_wait_of_up_to_fifteen_minutes(
    app: FastAPI, ned_with_two_factor: tuple[User, pyotp.TOTP], sign_in_clock: SignInClock
) -> None:
    user, totp = ned_with_two_factor
    waits = []
    for number in range(16):
        # A new address each time: only the rule on codes, which counts from every address, holds.
        with TestClient(app, client=(f"203.0.113.{number + 1}", 50000)) as somewhere:
            response = post_token(somewhere, user.email, PASSWORD, otp=wrong_code(totp))
            if response.status_code == 429:
                waits.append(retry_after(response))
                sign_in_clock.advance(waits[-1])
                response = post_token(somewhere, user.email, PASSWORD, otp=wrong_code(totp))
            assert response.status_code == 401
    assert max(waits) == 15 * 60
