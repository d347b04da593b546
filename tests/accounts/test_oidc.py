"""Single sign-on through OpenID Connect, against a real provider (tests/oidc/provider.mjs).

The provider's people (usernames) are listed in tests/oidc/provider.mjs: `chair-mfa` signs in there
with multi-factor authentication, `ned-password` without, `stranger` has no account here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import URL, Response
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.accounts.models import OidcSignInRequest, User, WebSession
from api.accounts.oidc import OidcProvider
from api.audit.models import AuditEvent
from api.main import create_app
from api.settings import Settings
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET
from tests.factories import PASSWORD, csrf_from, make_user, page_csrf, with_second_factor
from tests.oidc_support import (
    MFA_ACR,
    OidcTestProvider,
    running_provider,
    sign_in_at_provider,
    token_for_other_service,
)

APP = "http://testserver"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcTestProvider]:
    with running_provider(APP) as running:
        yield running


def sso_settings(database_url: str, provider: OidcTestProvider, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "frameworks_dir": FRAMEWORKS_DIR,
        "base_url": APP,
        "oidc_issuer": provider.issuer,
        "oidc_client_id": provider.client_id,
        "oidc_client_secret": provider.client_secret,
        "oidc_mfa_acr_values": [MFA_ACR],
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def make_client(database_url: str, provider: OidcTestProvider, clean_database: Engine) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(sso_settings(database_url, provider, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Any) -> TestClient:  # type: ignore[override]
    return make_client()


def start(client: TestClient, next: str | None = None) -> str:
    response = client.get("/sign-in/oidc" + (f"?next={next}" if next else ""), follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def provider_callback(client: TestClient, username: str, next: str | None = None) -> str:
    """Start single sign-on here, sign in at the provider; the URL it sends the browser back to."""
    return sign_in_at_provider(start(client, next), username, until=f"{APP}/")


def sign_in_through_provider(client: TestClient, username: str, next: str | None = None) -> Response:
    return client.get(provider_callback(client, username, next), follow_redirects=False)


def meta_csrf(client: TestClient) -> str:
    """The token every signed-in page carries in its head."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/account").text)
    assert match, "not signed in"
    return match.group(1)


def user_named(db: Session, email: str) -> User:
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).one()


def events(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all())


# --- The button ---------------------------------------------------------------------------------------


def test_button_and_routes_only_when_single_sign_on_is_configured(client: TestClient, app: Any) -> None:
    page = client.get("/sign-in")
    assert "Sign in with NHS mail" in page.text and 'href="/sign-in/oidc"' in page.text
    with TestClient(app) as plain:  # the suite's usual settings: no OIDC_ISSUER
        plain_page = plain.get("/sign-in")
        assert "/sign-in/oidc" not in plain_page.text and "NHS mail" not in plain_page.text
        assert plain.get("/sign-in/oidc", follow_redirects=False).status_code == 404
        assert plain.get("/sign-in/oidc/callback?state=x&code=y").status_code == 404


def test_authorization_request_carries_pkce_state_and_nonce(client: TestClient, db: Session) -> None:
    location = URL(start(client))
    params = location.params
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == f"{APP}/sign-in/oidc/callback"
    assert "openid" in params["scope"].split()
    stored = db.exec(select(OidcSignInRequest)).one()
    assert stored.nonce == params["nonce"] and stored.state_hash != params["state"]
    assert client.cookies.get("oidc_state") == params["state"]


# --- Signing in --------------------------------------------------------------------------------------


def test_chair_signs_in_through_provider_links_it_and_lands_on_board(client: TestClient, db: Session) -> None:
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    response = sign_in_through_provider(client, "chair-mfa")
    assert response.status_code == 303 and response.headers["location"] == "/home"
    assert client.get("/home", follow_redirects=False).headers["location"] == "/trusts/RCF"
    assert client.get("/trusts/RCF").status_code == 200
    linked = user_named(db, "chair@rcf.example.org")
    assert linked.oidc_subject == "sub-chair-mfa" and linked.oidc_issuer.startswith("http://127.0.0.1:")
    [link] = events(db, "sign_in.linked")
    [signed_in] = events(db, "sign_in")
    assert link.actor_id == chair.id and link.client_ip == "testclient"
    assert signed_in.details["method"] == "single_sign_on" and signed_in.client_ip == "testclient"
    # The second time, the link is used: no new link event.
    client.cookies.clear()
    assert sign_in_through_provider(client, "chair-mfa").status_code == 303
    assert len(events(db, "sign_in.linked")) == 1 and len(events(db, "sign_in")) == 2


def test_next_page_survives_the_trip_to_the_provider(client: TestClient, db: Session) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    response = sign_in_through_provider(client, "chair-mfa", next="/account")
    assert response.headers["location"] == "/account"


def test_email_is_matched_folded_as_for_passwords(client: TestClient, db: Session) -> None:
    ned = make_user(db, "ned.one@rcf.example.org", trust="RCF")
    assert sign_in_through_provider(client, "ned-shouting").status_code == 303
    assert user_named(db, "ned.one@rcf.example.org").id == ned.id
    assert user_named(db, "ned.one@rcf.example.org").oidc_subject == "sub-ned-shouting"


def test_changed_email_at_provider_still_signs_in_to_the_linked_account(
    client: TestClient, db: Session
) -> None:
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    assert sign_in_through_provider(client, "chair-mfa").status_code == 303
    client.cookies.clear()
    # Same `sub`, new address (clare.chair@…, which has no account here): the link finds the chair.
    response = sign_in_through_provider(client, "chair-renamed")
    assert response.status_code == 303
    [*_, latest] = events(db, "sign_in")
    assert latest.actor_id == chair.id


def test_someone_given_a_linked_accounts_old_address_does_not_get_the_account(
    client: TestClient, db: Session
) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    assert sign_in_through_provider(client, "chair-mfa").status_code == 303
    client.cookies.clear()
    # A different `sub` with chair@…: the account is linked to the chair's identity, not this one.
    response = sign_in_through_provider(client, "new-holder")
    assert response.status_code == 403
    assert "Ask your chair or board secretary" in response.text
    assert client.get("/account", follow_redirects=False).status_code == 303
    [refusal] = events(db, "sign_in.failed")
    assert refusal.details["reason"] == "linked_to_other_identity"


def test_unknown_person_gets_a_plain_page_and_no_account(client: TestClient, db: Session) -> None:
    response = sign_in_through_provider(client, "stranger")
    assert response.status_code == 403
    assert "You do not have an account yet" in response.text
    assert "Ask your chair or board secretary to invite you" in response.text
    assert db.exec(select(User)).all() == []
    assert db.exec(select(WebSession)).all() == []
    [refusal] = events(db, "sign_in.failed")
    assert refusal.details["reason"] == "no_account" and refusal.client_ip == "testclient"
    assert refusal.details["method"] == "single_sign_on"


def test_unverified_email_is_not_matched(client: TestClient, db: Session) -> None:
    make_user(db, "ned.two@rcf.example.org", trust="RCF")
    response = sign_in_through_provider(client, "unverified-ned")
    assert response.status_code == 403
    assert user_named(db, "ned.two@rcf.example.org").oidc_subject is None
    assert events(db, "sign_in.failed")[0].details["reason"] == "email_not_verified"


def test_email_outside_the_allowed_domains_is_refused(make_client: Any, db: Session) -> None:
    client = make_client(oidc_allowed_email_domains=["RCF.example.org"])
    make_user(db, "ned.three@elsewhere.example.com", trust="RCF")
    make_user(db, "ned.one@rcf.example.org", trust="RCF")
    assert sign_in_through_provider(client, "elsewhere-ned").status_code == 403
    assert events(db, "sign_in.failed")[0].details["reason"] == "email_domain_refused"
    client.cookies.clear()
    assert sign_in_through_provider(client, "ned-password").status_code == 303


def test_switched_off_account_cannot_sign_in_through_provider(client: TestClient, db: Session) -> None:
    ned = make_user(db, "ned.one@rcf.example.org", trust="RCF")
    ned.is_active = False
    db.add(ned)
    db.commit()
    assert sign_in_through_provider(client, "ned-password").status_code == 403


# --- The second factor --------------------------------------------------------------------------------


def test_provider_mfa_stands_for_our_second_factor(client: TestClient, db: Session) -> None:
    with_second_factor(db, make_user(db, "chair@rcf.example.org", role="chair", trust="RCF"))
    response = sign_in_through_provider(client, "chair-mfa")
    assert response.headers["location"] == "/home"
    assert client.get("/trusts/RCF").status_code == 200


def test_configured_acr_counts_as_mfa(client: TestClient, db: Session) -> None:
    with_second_factor(db, make_user(db, "secretary@rcf.example.org", role="board_secretary", trust="RCF"))
    assert sign_in_through_provider(client, "secretary-acr").headers["location"] == "/home"


def test_without_provider_mfa_our_second_factor_is_asked(client: TestClient, db: Session) -> None:
    with_second_factor(db, make_user(db, "ned.one@rcf.example.org", trust="RCF"))
    response = sign_in_through_provider(client, "ned-password")
    assert response.headers["location"] == "/sign-in/two-factor"
    assert db.exec(select(WebSession)).one().second_factor_at is None
    assert client.get("/trusts/RCF", follow_redirects=False).headers["location"] == "/sign-in/two-factor"
    assert events(db, "sign_in") == []


def test_provider_mfa_not_counted_when_the_deployment_says_so(make_client: Any, db: Session) -> None:
    client = make_client(oidc_mfa_satisfies_second_factor=False)
    with_second_factor(db, make_user(db, "chair@rcf.example.org", role="chair", trust="RCF"))
    assert sign_in_through_provider(client, "chair-mfa").headers["location"] == "/sign-in/two-factor"


def test_analyst_who_must_use_a_second_factor(make_client: Any, db: Session) -> None:
    make_user(db, "analyst@sector.example.org", platform_role="sector_analyst")
    make_user(db, "analyst.two@sector.example.org", platform_role="sector_analyst")
    with_mfa = make_client()
    assert sign_in_through_provider(with_mfa, "analyst-mfa").headers["location"] == "/home"
    assert with_mfa.get("/account").status_code == 200
    # No second factor here, and none at the provider: set one up first, as after a password.
    without = make_client()
    assert sign_in_through_provider(without, "analyst-password").status_code == 303
    response = without.get("/account", follow_redirects=False)
    assert response.headers["location"] == "/account/two-factor/set-up"


# --- Refusals: tampering and replay -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(id_token: str) -> dict[str, Any]:
    segment = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def assert_refused(client: TestClient, db: Session, response: Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert "Sign-in did not work" in response.text
    assert "set-cookie" not in response.headers or "session=" not in response.headers["set-cookie"]
    assert db.exec(select(WebSession)).all() == []
    assert events(db, "sign_in.failed")[-1].details["reason"] == reason


def test_tampered_id_token_is_refused(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    make_user(db, "ned.one@rcf.example.org", trust="RCF")
    genuine = OidcProvider.exchange_code

    def tampered(self: OidcProvider, **kwargs: Any) -> dict[str, Any]:
        token = genuine(self, **kwargs)
        header, payload, signature = token["id_token"].split(".")
        claims = _payload(token["id_token"])
        claims["email"] = "chair@rcf.example.org"  # the NED claims to be the chair
        token["id_token"] = ".".join([header, _b64(json.dumps(claims).encode()), signature])
        return token

    monkeypatch.setattr(OidcProvider, "exchange_code", tampered)
    assert_refused(client, db, sign_in_through_provider(client, "ned-password"), "id_token_refused")
    assert user_named(db, "chair@rcf.example.org").oidc_subject is None


def test_id_token_for_another_service_is_refused(
    client: TestClient, db: Session, provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    genuine = OidcProvider.exchange_code

    def swapped(self: OidcProvider, **kwargs: Any) -> dict[str, Any]:
        token = genuine(self, **kwargs)
        nonce = _payload(token["id_token"])["nonce"]
        # A genuine, well-signed token with the right nonce, but issued to the other service.
        token["id_token"] = token_for_other_service(provider, "chair-mfa", nonce)["id_token"]
        assert _payload(token["id_token"])["aud"] != provider.client_id
        return token

    monkeypatch.setattr(OidcProvider, "exchange_code", swapped)
    assert_refused(client, db, sign_in_through_provider(client, "chair-mfa"), "id_token_refused")


def test_id_token_with_another_sign_ins_nonce_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    back = provider_callback(client, "chair-mfa")
    # The token the provider issues carries the nonce sent with this sign-in; we now expect another.
    stored = db.exec(select(OidcSignInRequest)).one()
    stored.nonce = "a-nonce-from-some-other-sign-in"
    db.add(stored)
    db.commit()
    assert_refused(client, db, client.get(back, follow_redirects=False), "id_token_refused")


def test_replayed_state_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    back = provider_callback(client, "chair-mfa")
    state = URL(back).params["state"]
    assert client.get(back, follow_redirects=False).status_code == 303
    client.cookies.clear()
    # The same callback again, with the browser's state cookie too: the state was used once.
    client.cookies.set("oidc_state", state, path="/sign-in/oidc")
    assert_refused_after_success(client, db, client.get(back, follow_redirects=False), "state_refused")


def assert_refused_after_success(client: TestClient, db: Session, response: Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert "session" not in client.cookies
    assert events(db, "sign_in.failed")[-1].details["reason"] == reason


def test_state_from_another_browser_is_refused(client: TestClient, make_client: Any, db: Session) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    back = provider_callback(client, "chair-mfa")
    victim = make_client()  # login CSRF: the attacker's callback link opened in someone else's browser
    response = victim.get(back, follow_redirects=False)
    assert response.status_code == 400
    assert "session" not in victim.cookies


def test_reused_code_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    first = provider_callback(client, "chair-mfa")
    assert client.get(first, follow_redirects=False).status_code == 303
    client.cookies.clear()
    # A fresh sign-in of our own (new state), finished with the code already used.
    second = URL(provider_callback(client, "chair-mfa"))
    reused = second.copy_set_param("code", URL(first).params["code"])
    assert_refused_after_success(client, db, client.get(str(reused), follow_redirects=False), "code_refused")


def test_provider_error_is_refused_and_audited(client: TestClient, db: Session) -> None:
    state = URL(start(client)).params["state"]
    response = client.get(f"/sign-in/oidc/callback?state={state}&error=access_denied", follow_redirects=False)
    assert response.status_code == 400
    assert events(db, "sign_in.failed")[-1].details["reason"] == "provider_error"


# --- Sign-out -----------------------------------------------------------------------------------------


def test_sign_out_ends_our_session_and_signs_out_at_the_provider(
    client: TestClient, db: Session, provider: OidcTestProvider
) -> None:
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    sign_in_through_provider(client, "chair-mfa")
    response = client.post("/sign-out", data={"csrf_token": meta_csrf(client)}, follow_redirects=False)
    assert response.headers["location"] == "/signed-out?provider=1"
    page = client.get("/signed-out?provider=1")
    match = re.search(r'href="([^"]+)"[^>]*>Sign out of that account too', page.text)
    assert match, page.text
    location = URL(match.group(1).replace("&amp;", "&"))
    assert str(location).startswith(f"{provider.issuer}/session/end")
    assert location.params["client_id"] == provider.client_id
    assert location.params["post_logout_redirect_uri"] == f"{APP}/signed-out"
    assert db.exec(select(WebSession)).all() == []
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_password_sign_out_stays_on_our_signed_out_page(client: TestClient, db: Session) -> None:
    make_user(db, "ned.one@rcf.example.org", trust="RCF")
    token = page_csrf(client)
    client.post(
        "/sign-in", data={"email": "ned.one@rcf.example.org", "password": PASSWORD, "csrf_token": token}
    )
    response = client.post("/sign-out", data={"csrf_token": meta_csrf(client)}, follow_redirects=False)
    assert response.headers["location"] == "/signed-out"


# --- Passwords for platform admins only --------------------------------------------------------------


def test_passwords_can_be_turned_off_for_everyone_but_platform_admins(make_client: Any, db: Session) -> None:
    client = make_client(password_sign_in="platform_admins")
    make_user(db, "ned.one@rcf.example.org", trust="RCF")
    make_user(db, "admin@example.org", platform_role="platform_admin")
    page = client.get("/sign-in")
    assert "Platform admins sign in with their email address and password" in page.text
    refused = client.post(
        "/sign-in",
        data={"email": "ned.one@rcf.example.org", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    assert "The email address or password is not right" in refused.text
    api = client.post(
        "/api/v1/auth/token", data={"username": "ned.one@rcf.example.org", "password": PASSWORD}
    )
    assert api.status_code == 401
    admin = client.post(
        "/sign-in",
        data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert admin.status_code == 303
    # The NED still signs in, through the provider.
    other = make_client(password_sign_in="platform_admins")
    assert sign_in_through_provider(other, "ned-password").status_code == 303


def test_settings_refuse_half_a_configuration(provider: OidcTestProvider) -> None:
    with pytest.raises(ValueError, match="OIDC_CLIENT_ID"):
        Settings(env="test", secret_key=TEST_SECRET, oidc_issuer=provider.issuer)
    with pytest.raises(ValueError, match="needs single sign-on"):
        Settings(env="test", secret_key=TEST_SECRET, password_sign_in="platform_admins")
