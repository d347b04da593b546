"""Signing in and out: session cookies, timeouts, bearer tokens, throttling, CSRF, headers, client address."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.requests import Request

from api.accounts.models import ApiToken, SignInAttempt, User, WebSession
from api.accounts.service import create_user
from api.audit.models import AuditEvent
from api.client_ip import client_ip
from api.db import utcnow
from api.main import create_app
from api.settings import Settings
from tests.accounts.conftest import SignInClock
from tests.conftest import FRAMEWORKS_DIR
from tests.factories import PASSWORD, add_membership, api_token, bearer, make_user, page_csrf, sign_in

TRUST = "RCF"
OTHER_TRUST = "RBS"
EMAIL = "jo.chair@example.org"
NOT_RIGHT = "The email address or password is not right"
OWASP_ARGON2 = "$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture
def chair(db: Session) -> User:
    return make_user(db, EMAIL, role="chair", trust=TRUST, name="Jo Chair")


# --- Helpers -------------------------------------------------------------------------------------


def set_cookie_header(response: Response, name: str) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def meta_csrf(client: TestClient, path: str = "/account") -> str:
    """The token every signed-in page carries (htmx reads it from here)."""
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


def post_sign_in(client: TestClient, email: str, password: str, **extra: object) -> Response:
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": page_csrf(client)},
        follow_redirects=False,
        **extra,  # type: ignore[arg-type]
    )


def post_token(client: TestClient, email: str, password: str) -> Response:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def error_summary(html: str) -> list[str]:
    box = re.search(r'<div class="nhsuk-error-summary".*?</div>\s*</div>', html, re.S)
    assert box, "no error summary on the page"
    return [" ".join(text.split()) for text in re.findall(r'<a href="#[^"]+">(.*?)</a>', box.group(0), re.S)]


def web_session_for(db: Session, cookie: str) -> WebSession | None:
    found = db.exec(
        select(WebSession)
        .where(WebSession.token_hash == hashlib.sha256(cookie.encode()).hexdigest())
        .execution_options(populate_existing=True)
    ).first()
    # End the read: on SQLite an open transaction holds the write lock the app needs.
    db.commit()
    return found


def rows(db: Session, model: type) -> list:  # noqa: ANN401
    found = list(db.exec(select(model)).all())
    db.commit()
    return found


def signed_in_page_works(client: TestClient) -> bool:
    response = client.get("/account", follow_redirects=False)
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in"), response.text
    return False


# --- The session cookie --------------------------------------------------------------------------


def test_sign_in_sets_an_http_only_same_site_lax_cookie_holding_a_random_id(
    client: TestClient, db: Session, chair: User
) -> None:
    response = post_sign_in(client, EMAIL, PASSWORD)
    assert response.status_code == 303
    header = set_cookie_header(response, "session")
    attributes = cookie_attributes(header)
    assert {"httponly", "samesite", "path"} <= attributes
    assert "samesite=lax" in header.lower().replace(" ", "")
    assert "secure" not in attributes and "domain" not in attributes  # a test (plain HTTP) setting

    cookie = client.cookies["session"]
    assert len(cookie) >= 40 and cookie != str(chair.id) and EMAIL not in cookie
    (stored,) = rows(db, WebSession)
    assert stored.user_id == chair.id
    assert stored.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert stored.token_hash != cookie
    assert signed_in_page_works(client)


def test_every_sign_in_gets_a_new_session_id_and_a_planted_one_is_never_used(
    client: TestClient, db: Session, chair: User
) -> None:
    planted = "planted-by-someone-else-0123456789abcdefghijkl"
    # Where the browser would keep it, so the sign-in must replace it.
    client.cookies.set("session", planted, domain="testserver.local", path="/")
    sign_in(client, EMAIL)
    first = client.cookies["session"]
    # Signing in again while signed in (the sign-in page itself redirects, so post with the page token).
    again = client.post(
        "/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": meta_csrf(client)},
        follow_redirects=False,
    )
    assert again.status_code == 303
    second = client.cookies["session"]
    assert len({planted, first, second}) == 3
    assert web_session_for(db, planted) is None
    assert web_session_for(db, second) is not None


# --- Wrong answers and throttling ----------------------------------------------------------------


def test_wrong_password_and_unknown_email_get_the_same_answer(client: TestClient, chair: User) -> None:
    wrong_password = post_sign_in(client, EMAIL, "Not-the-password-at-all-1")
    unknown_email = post_sign_in(client, "nobody.here@example.org", "Not-the-password-at-all-1")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert error_summary(wrong_password.text) == error_summary(unknown_email.text) == [NOT_RIGHT]

    api_wrong = post_token(client, EMAIL, "Not-the-password-at-all-1")
    api_unknown = post_token(client, "nobody.here@example.org", "Not-the-password-at-all-1")
    assert api_wrong.status_code == api_unknown.status_code == 401
    assert api_wrong.json() == api_unknown.json() == {"detail": NOT_RIGHT}


# The growing delays themselves are tested in test_sign_in_delays.py.


def test_twenty_failures_from_one_address_are_throttled_across_different_emails(
    client: TestClient, chair: User, sign_in_clock: SignInClock
) -> None:
    for number in range(20):
        assert post_sign_in(client, f"guess{number}@example.org", "Not-the-password-1").status_code == 401
    refused = post_sign_in(client, EMAIL, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_limit(
    client: TestClient, db: Session, chair: User, sign_in_clock: SignInClock
) -> None:
    for number in range(20):
        response = post_sign_in(
            client,
            f"guess{number}@example.org",
            "Not-the-password-1",
            headers={"X-Forwarded-For": f"203.0.113.{number + 1}"},
        )
        assert response.status_code == 401
    refused = post_sign_in(client, EMAIL, PASSWORD, headers={"X-Forwarded-For": "198.51.100.99"})
    assert refused.status_code == 429
    assert {attempt.client_ip for attempt in rows(db, SignInAttempt)} == {"testclient"}
    assert {event.client_ip for event in rows(db, AuditEvent)} == {"testclient"}


def fake_request(peer: str, forwarded: str | None, trusted: list[str]) -> Request:
    settings = Settings(env="test", secret_key="x" * 40, trusted_proxies=trusted)
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    return Request({"type": "http", "client": (peer, 1234), "headers": headers, "app": app})


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = ["10.0.0.0/8"]
    assert client_ip(fake_request("10.0.0.5", "198.51.100.23", trusted)) == "198.51.100.23"
    # The client can write anything at the left; the nearest address our proxies did not add is the client.
    assert client_ip(fake_request("10.0.0.5", "6.6.6.6, 198.51.100.23, 10.0.0.7", trusted)) == "198.51.100.23"
    assert client_ip(fake_request("10.0.0.5", None, trusted)) == "10.0.0.5"
    assert client_ip(fake_request("192.0.2.1", "198.51.100.23", trusted)) == "192.0.2.1"
    assert client_ip(fake_request("10.0.0.5", "198.51.100.23", [])) == "10.0.0.5"


@pytest.fixture
def behind_proxy(settings: Settings, clean_database: Engine) -> Iterator[TestClient]:
    """The app behind a load balancer at 10.0.0.5, which the settings trust."""
    app = create_app(settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]}))
    with TestClient(app, client=("10.0.0.5", 41000)) as client:
        yield client


def test_behind_a_trusted_proxy_throttling_and_audit_use_the_forwarded_address(
    behind_proxy: TestClient, db: Session, chair: User, sign_in_clock: SignInClock
) -> None:
    client = behind_proxy
    real = {"X-Forwarded-For": "198.51.100.23"}
    for number in range(20):
        assert (
            post_sign_in(client, f"guess{number}@example.org", "Not-the-password-1", headers=real).status_code
            == 401
        )
    assert post_sign_in(client, EMAIL, PASSWORD, headers=real).status_code == 429
    # Another person behind the same proxy is not held back by that address's failures.
    assert (
        post_sign_in(client, EMAIL, PASSWORD, headers={"X-Forwarded-For": "198.51.100.24"}).status_code == 303
    )
    (signed_in,) = [event for event in rows(db, AuditEvent) if event.action == "sign_in"]
    assert signed_in.client_ip == "198.51.100.24"
    assert rows(db, WebSession)[0].client_ip == "198.51.100.24"


# --- Timeouts ------------------------------------------------------------------------------------


def age_session(db: Session, cookie: str, **moved_back: timedelta) -> None:
    web_session = web_session_for(db, cookie)
    assert web_session is not None
    for name, delta in moved_back.items():
        setattr(web_session, name, getattr(web_session, name) - delta)
    db.add(web_session)
    db.commit()


def test_a_session_idle_for_more_than_30_minutes_ends(client: TestClient, db: Session, chair: User) -> None:
    sign_in(client, EMAIL)
    cookie = client.cookies["session"]
    age_session(db, cookie, last_seen_at=timedelta(minutes=29))
    assert signed_in_page_works(client)  # and the visit counts as activity
    assert utcnow() - web_session_for(db, cookie).last_seen_at < timedelta(minutes=1)

    age_session(db, cookie, last_seen_at=timedelta(minutes=31))
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Faccount"
    assert not signed_in_page_works(client)


def test_a_session_ends_12_hours_after_sign_in_however_active(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, EMAIL)
    cookie = client.cookies["session"]
    started = web_session_for(db, cookie)
    assert started.expires_at - started.created_at == timedelta(hours=12)
    age_session(db, cookie, expires_at=timedelta(hours=12, seconds=1))
    assert not signed_in_page_works(client)


def test_an_expired_api_token_is_refused_with_www_authenticate(
    client: TestClient, db: Session, chair: User
) -> None:
    token = api_token(client, EMAIL)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    (stored,) = rows(db, ApiToken)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.add(stored)
    db.commit()
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# --- Signing out ---------------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_every_api_token_at_once(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, EMAIL)
    cookie = client.cookies["session"]
    token = api_token(client, EMAIL)
    response = client.post("/sign-out", data={"csrf_token": meta_csrf(client)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signed-out"

    client.cookies.set("session", cookie)  # as if the browser had kept it
    assert not signed_in_page_works(client)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert rows(db, WebSession) == [] and rows(db, ApiToken) == []


def test_revoking_through_the_api_ends_tokens_and_browser_sessions(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, EMAIL)
    token = api_token(client, EMAIL)
    other_token = api_token(client, EMAIL)
    assert client.post("/api/v1/auth/revoke", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(other_token)).status_code == 401
    assert not signed_in_page_works(client)


# --- CSRF ----------------------------------------------------------------------------------------


def test_sign_in_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, db: Session, chair: User
) -> None:
    page_csrf(client)  # the browser has its CSRF cookie
    for data in ({}, {"csrf_token": "not-the-token"}):
        response = client.post(
            "/sign-in", data={"email": EMAIL, "password": PASSWORD, **data}, follow_redirects=False
        )
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert "session" not in client.cookies
    assert rows(db, WebSession) == [] and rows(db, SignInAttempt) == [] and rows(db, AuditEvent) == []


def test_sign_out_without_or_with_a_wrong_csrf_token_is_refused_and_the_session_lives(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, EMAIL)
    for data in ({}, {"csrf_token": "not-the-token"}):
        assert client.post("/sign-out", data=data, follow_redirects=False).status_code == 403
    assert signed_in_page_works(client)
    assert [event.action for event in rows(db, AuditEvent)] == ["sign_in"]


def test_a_csrf_token_from_before_sign_in_is_useless_after_it(client: TestClient, chair: User) -> None:
    before = page_csrf(client)
    sign_in(client, EMAIL)
    assert client.post("/sign-out", data={"csrf_token": before}, follow_redirects=False).status_code == 403
    assert signed_in_page_works(client)


def test_an_htmx_request_with_the_csrf_header_is_accepted(client: TestClient, chair: User) -> None:
    sign_in(client, EMAIL)
    token = meta_csrf(client)
    refused = client.post("/sign-out", headers={"HX-Request": "true", "X-CSRF-Token": "wrong"})
    assert refused.status_code == 403
    response = client.post(
        "/sign-out", headers={"HX-Request": "true", "X-CSRF-Token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert not signed_in_page_works(client)


# --- Passwords at rest ---------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_at_owasp_cost(client: TestClient, db: Session) -> None:
    user = create_user(
        db,
        email="new.chair@example.org",
        role="chair",
        password="Quiet-orchard-lamp-77",
        organisation_code=TRUST,
    )
    db.commit()
    assert user.password_hash.startswith(OWASP_ARGON2)
    assert "Quiet-orchard-lamp-77" not in user.password_hash
    assert post_sign_in(client, "new.chair@example.org", "Quiet-orchard-lamp-77").status_code == 303


def test_a_weaker_stored_hash_is_upgraded_at_the_next_sign_in(
    client: TestClient, db: Session, chair: User
) -> None:
    chair.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    db.add(chair)
    db.commit()
    assert post_sign_in(client, EMAIL, PASSWORD).status_code == 303
    (stored,) = rows(db, User)
    db.refresh(stored)
    db.commit()
    assert stored.password_hash.startswith(OWASP_ARGON2)


# --- Who am I, redirects, audit ------------------------------------------------------------------


def test_me_returns_the_memberships(client: TestClient, db: Session, chair: User) -> None:
    add_membership(db, chair, OTHER_TRUST, "board_member", "executive")
    response = client.get("/api/v1/me", headers=bearer(api_token(client, EMAIL)))
    assert response.status_code == 200
    assert response.json() == {
        "email": EMAIL,
        "name": "Jo Chair",
        "platform_role": None,
        "two_factor": False,
        "memberships": [
            {
                "organisation_code": "RCF",
                "organisation_name": "Airedale NHS Foundation Trust",
                "role": "chair",
                "board_role": "chair",
            },
            {
                "organisation_code": "RBS",
                "organisation_name": "Alder Hey Children's NHS Foundation Trust",
                "role": "board_member",
                "board_role": "executive",
            },
        ],
    }


def test_me_without_a_valid_token_is_401(client: TestClient) -> None:
    for headers in ({}, bearer("reb_made-up-token"), {"Authorization": "Basic am86c2VjcmV0"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "//evil.example/%2F.."]
)
def test_sign_in_never_sends_people_to_another_site(client: TestClient, chair: User, target: str) -> None:
    page = client.get("/sign-in", params={"next": target})
    assert "evil.example" not in page.text
    response = client.post(
        "/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "next": target, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/home"


def test_sign_in_keeps_a_next_page_on_this_site(client: TestClient, chair: User) -> None:
    response = client.post(
        "/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "next": "/account", "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account"


def test_sign_in_failure_and_sign_out_are_each_in_the_audit_trail(
    client: TestClient, db: Session, chair: User
) -> None:
    post_sign_in(client, "nobody.here@example.org", "Not-the-password-1")
    post_sign_in(client, EMAIL, "Not-the-password-1")
    sign_in(client, EMAIL)
    client.post("/sign-out", data={"csrf_token": meta_csrf(client)})
    trail = [(e.action, e.actor_id, e.actor_email, e.details, e.client_ip) for e in rows(db, AuditEvent)]
    assert trail == [
        ("sign_in.failed", None, None, {"email": "nobody.here@example.org"}, "testclient"),
        ("sign_in.failed", chair.id, EMAIL, {"email": EMAIL}, "testclient"),
        ("sign_in", chair.id, EMAIL, {}, "testclient"),
        ("sign_out", chair.id, EMAIL, {}, "testclient"),
    ]
    # The password itself is never written anywhere in the trail.
    assert all("Not-the-password-1" not in repr(event) for event in rows(db, AuditEvent))


# --- Headers -------------------------------------------------------------------------------------


def assert_security_headers(response: Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_sign_in_page_and_error_pages_carry_the_security_headers(client: TestClient, chair: User) -> None:
    assert_security_headers(client.get("/sign-in"))
    refused = client.post("/sign-in", data={"email": EMAIL, "password": PASSWORD})
    assert refused.status_code == 403
    assert_security_headers(refused)
    assert_security_headers(client.get("/no-such-page"))
    assert_security_headers(post_sign_in(client, EMAIL, "Not-the-password-1"))


def test_in_production_the_session_cookie_is_host_prefixed_and_secure(
    database_url: str, clean_database: Engine, db: Session
) -> None:
    make_user(db, EMAIL, role="chair", trust=TRUST)
    settings = Settings(
        env="production",
        secret_key="p" * 20 + "q" * 20,
        database_url=database_url,
        frameworks_dir=FRAMEWORKS_DIR,
    )
    app: FastAPI = create_app(settings)
    with TestClient(app, base_url="https://testserver") as client:
        response = post_sign_in(client, EMAIL, PASSWORD)
        assert response.status_code == 303
        header = set_cookie_header(response, "__Host-session")
        attributes = cookie_attributes(header)
        assert {"secure", "httponly", "samesite", "path"} <= attributes and "domain" not in attributes
        assert "path=/" in header.lower().replace(" ", "")
        assert "session" not in [h.split("=")[0] for h in response.headers.get_list("set-cookie")]
        assert "secure" in cookie_attributes(set_cookie_header(response, "__Host-csrf"))
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert client.get("/account").status_code == 200
