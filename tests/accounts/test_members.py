"""A board's members: only its chair and secretary manage them; a role change or removal signs the
person out at once; the board always keeps a chair."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import Membership, User
from api.audit.models import AuditEvent
from api.mail import OutboxEmail
from api.organisations.models import Organisation
from tests.factories import (
    PASSWORD,
    add_membership,
    api_token,
    bearer,
    make_user,
    page_csrf,
    sign_in,
)

API = "/api/v1/organisations/{}/members"


def fresh(db: Session, statement):  # noqa: ANN001, ANN201 - any select
    """Rows as the app committed them (a short session of its own, so no lock is held)."""
    with Session(db.get_bind()) as session:
        return session.exec(statement).all()


def trust_id(db: Session, ods_code: str) -> int:
    return fresh(db, select(Organisation.id).where(Organisation.ods_code == ods_code))[0]


def membership_of(db: Session, user: User, trust: str) -> Membership | None:
    found = fresh(
        db,
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == trust_id(db, trust)
        ),
    )
    return found[0] if found else None


def post_form(client: TestClient, path: str, **data: str):  # noqa: ANN201 - a response
    token = page_csrf(client, path)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def signed_out(client: TestClient) -> bool:
    response = client.get("/account", follow_redirects=False)
    return response.status_code == 303 and response.headers["location"].startswith("/sign-in")


@pytest.fixture
def chair(client: TestClient, db: Session) -> User:
    user = make_user(db, "chair@airedale.example.org", role="chair", trust="RCF", name="Grace Hill")
    sign_in(client, user.email)
    return user


@pytest.fixture
def ned(db: Session) -> User:
    """A non-executive director on two boards: Airedale (RCF) and Alder Hey (RBS)."""
    user = make_user(db, "ned@two-boards.example.org", role="board_member", trust="RCF", name="Sam Patel")
    add_membership(db, user, "RBS", "board_member")
    return user


@pytest.fixture
def ned_browser(app: FastAPI, ned: User) -> TestClient:
    browser = TestClient(app)
    sign_in(browser, ned.email)
    return browser


# --- The member list -----------------------------------------------------------------------------


def test_member_list_shows_each_member_with_role_and_status(
    client: TestClient, db: Session, chair: User, ned: User
) -> None:
    make_user(db, "invited@airedale.example.org", role="board_member", trust="RCF", board_role="executive",
              name="Kim Lee", password=None)  # fmt: skip
    page = client.get("/trusts/RCF/members")
    assert page.status_code == 200
    assert "<h1>Board members</h1>" in page.text
    rows = page.text.split('<tr class="nhsuk-table__row" id="member-')[1:]
    assert len(rows) == 3
    assert "Grace Hill (you)" in rows[0] and "Chair" in rows[0] and "Active" in rows[0]
    kim = next(r for r in rows if "Kim Lee" in r)
    assert "Board member (executive director)" in kim
    assert "Invited" in kim and "Not yet accepted" in kim and "Send the invitation again" in kim
    sam = next(r for r in rows if "Sam Patel" in r)
    assert "Board member (non-executive director)" in sam and "Active" in sam
    assert "Send the invitation again" not in sam
    # Nobody is offered a way to remove themselves.
    assert "/remove" not in rows[0] and "/remove" in sam


def test_api_lists_the_members(client: TestClient, db: Session, chair: User, ned: User) -> None:
    response = client.get(API.format("RCF"), headers=bearer(api_token(client, chair.email)))
    assert response.status_code == 200
    listed = {m["email"]: m for m in response.json()}
    assert set(listed) == {chair.email, ned.email}
    assert listed[ned.email]["role"] == "board_member"
    assert listed[ned.email]["board_role"] == "ned"
    assert listed[ned.email]["status"] == "active"


# --- Who may manage members ----------------------------------------------------------------------


def test_board_member_gets_403_on_member_pages_and_api(
    db: Session, chair: User, ned: User, ned_browser: TestClient
) -> None:
    chair_membership = membership_of(db, chair, "RCF")
    assert chair_membership is not None
    for path in (
        "/trusts/RCF/members",
        "/trusts/RCF/members/invite",
        f"/trusts/RCF/members/{chair_membership.id}/role",
        f"/trusts/RCF/members/{chair_membership.id}/remove",
    ):
        assert ned_browser.get(path).status_code == 403, path
    token = page_csrf(ned_browser, "/account/password")
    refused = ned_browser.post(
        "/trusts/RCF/members/invite",
        data={"email": "x@example.org", "name": "X", "role": "chair", "csrf_token": token},
    )
    assert refused.status_code == 403

    headers = bearer(api_token(ned_browser, ned.email))
    assert ned_browser.get(API.format("RCF"), headers=headers).status_code == 403
    invite = {"email": "x@example.org", "name": "X", "role": "chair"}
    assert ned_browser.post(API.format("RCF"), json=invite, headers=headers).status_code == 403
    member_url = f"{API.format('RCF')}/{chair_membership.id}"
    assert ned_browser.delete(member_url, headers=headers).status_code == 403
    assert fresh(db, select(User).where(User.email == "x@example.org")) == []
    assert membership_of(db, chair, "RCF") is not None


def test_chair_of_another_trust_gets_404(app: FastAPI, db: Session, chair: User, ned: User) -> None:
    other_chair = make_user(db, "chair@alderhey.example.org", role="chair", trust="RBS")
    browser = TestClient(app)
    sign_in(browser, other_chair.email)
    ned_at_rcf = membership_of(db, ned, "RCF")
    assert ned_at_rcf is not None

    assert browser.get("/trusts/RCF/members").status_code == 404
    assert browser.get("/trusts/RCF/members/invite").status_code == 404
    # Their own trust's address with a membership of another trust: still 404.
    assert browser.get(f"/trusts/RBS/members/{ned_at_rcf.id}/remove").status_code == 404
    token = page_csrf(browser, "/trusts/RBS/members/invite")
    removed = browser.post(f"/trusts/RBS/members/{ned_at_rcf.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 404

    headers = bearer(api_token(browser, other_chair.email))
    assert browser.get(API.format("RCF"), headers=headers).status_code == 404
    assert browser.delete(f"{API.format('RCF')}/{ned_at_rcf.id}", headers=headers).status_code == 404
    assert browser.delete(f"{API.format('RBS')}/{ned_at_rcf.id}", headers=headers).status_code == 404
    changed = browser.patch(f"{API.format('RBS')}/{ned_at_rcf.id}", json={"role": "chair"}, headers=headers)
    assert changed.status_code == 404
    assert membership_of(db, ned, "RCF").role == "board_member"  # type: ignore[union-attr]


# --- Changing a role -----------------------------------------------------------------------------


def test_role_change_signs_the_person_out_at_once_and_is_audited(
    client: TestClient, db: Session, chair: User, ned: User, ned_browser: TestClient
) -> None:
    token = api_token(ned_browser, ned.email)
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    page = client.get(f"/trusts/RCF/members/{membership.id}/role")
    assert "signed out straight away on every device" in page.text and "other boards" in page.text

    response = post_form(client, f"/trusts/RCF/members/{membership.id}/role", role="board_secretary")
    assert response.status_code == 303
    assert response.headers["location"] == "/trusts/RCF/members?done=role_changed"
    changed = membership_of(db, ned, "RCF")
    assert changed is not None and (changed.role, changed.board_role) == ("board_secretary", "secretary")
    assert signed_out(ned_browser)
    assert ned_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401
    # Their other board is untouched, apart from having to sign in again.
    assert membership_of(db, ned, "RBS").role == "board_member"  # type: ignore[union-attr]

    [event] = fresh(db, select(AuditEvent).where(AuditEvent.action == "member.role_changed"))
    assert event.organisation_id == trust_id(db, "RCF")
    assert event.actor_id == chair.id
    assert event.details == {
        "email": ned.email,
        "old_role": "board_member",
        "old_board_role": "ned",
        "new_role": "board_secretary",
        "new_board_role": "secretary",
        "by": chair.email,
    }
    assert PASSWORD not in json.dumps(event.details)


def test_role_form_asks_for_a_board_role_for_a_board_member(
    client: TestClient, db: Session, chair: User, ned: User
) -> None:
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    response = post_form(client, f"/trusts/RCF/members/{membership.id}/role", role="board_member")
    assert response.status_code == 422
    assert "nhsuk-error-summary" in response.text and "Select what they are on the board" in response.text
    assert membership_of(db, ned, "RCF").board_role == "ned"  # type: ignore[union-attr]


def test_role_form_ignores_the_hidden_board_role_of_a_chair_or_secretary(
    client: TestClient, db: Session, chair: User, ned: User
) -> None:
    # The board role radios sit under "Board member": a browser still sends the one already chosen
    # (a NED's "ned") when the person picks another role. It is not theirs to fill in, so not refused.
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    response = post_form(
        client, f"/trusts/RCF/members/{membership.id}/role", role="board_secretary", board_role="ned"
    )
    assert response.status_code == 303
    changed = membership_of(db, ned, "RCF")
    assert changed is not None and (changed.role, changed.board_role) == ("board_secretary", "secretary")


def test_api_changes_a_role_and_ends_the_persons_tokens(
    client: TestClient, db: Session, chair: User, ned: User, ned_browser: TestClient
) -> None:
    ned_token = api_token(ned_browser, ned.email)
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    response = client.patch(
        f"{API.format('RCF')}/{membership.id}",
        json={"role": "board_member", "board_role": "executive"},
        headers=bearer(api_token(client, chair.email)),
    )
    assert response.status_code == 200
    assert response.json()["board_role"] == "executive"
    assert ned_browser.get("/api/v1/me", headers=bearer(ned_token)).status_code == 401
    assert signed_out(ned_browser)


def test_a_secretary_cannot_re_role_a_chair(app: FastAPI, db: Session, chair: User) -> None:
    """Issue 14, item 4: only a chair appoints, demotes or removes a chair."""
    secretary = make_user(db, "secretary@airedale.example.org", role="board_secretary", trust="RCF")
    browser = TestClient(app)
    sign_in(browser, secretary.email)
    chair_membership = membership_of(db, chair, "RCF")
    assert chair_membership is not None
    members_page = browser.get("/trusts/RCF/members")
    assert f"/members/{chair_membership.id}/role" not in members_page.text
    assert "Only a chair can change or remove a chair" in members_page.text
    path = f"/trusts/RCF/members/{chair_membership.id}/role"
    response = post_form(browser, path, role="board_member", board_role="ned")
    assert response.status_code == 403
    assert "nhsuk-error-summary" in response.text
    assert "Only a chair can appoint, change or remove a chair" in response.text
    api = browser.patch(
        f"{API.format('RCF')}/{chair_membership.id}",
        json={"role": "board_member", "board_role": "ned"},
        headers=bearer(api_token(browser, secretary.email)),
    )
    assert api.status_code == 403
    assert "Only a chair" in api.json()["detail"]
    assert membership_of(db, chair, "RCF").role == "chair"  # type: ignore[union-attr]
    assert fresh(db, select(AuditEvent).where(AuditEvent.action == "member.role_changed")) == []


def test_a_secretary_cannot_make_anyone_a_chair(app: FastAPI, db: Session, chair: User) -> None:
    secretary = make_user(db, "secretary@airedale.example.org", role="board_secretary", trust="RCF")
    ned = make_user(db, "ned@airedale.example.org", trust="RCF")
    browser = TestClient(app)
    sign_in(browser, secretary.email)
    invite_page = browser.get("/trusts/RCF/members/invite")
    assert 'value="chair"' not in invite_page.text
    token = bearer(api_token(browser, secretary.email))
    invited = browser.post(
        API.format("RCF"),
        json={"email": "puppet@example.org", "name": "Puppet Chair", "role": "chair"},
        headers=token,
    )
    assert invited.status_code == 403
    ned_membership = membership_of(db, ned, "RCF")
    promoted = browser.patch(
        f"{API.format('RCF')}/{ned_membership.id}",  # type: ignore[union-attr]
        json={"role": "chair"},
        headers=token,
    )
    assert promoted.status_code == 403
    assert membership_of(db, ned, "RCF").role == "board_member"  # type: ignore[union-attr]
    assert fresh(db, select(User).where(User.email == "puppet@example.org")) == []
    # A chair can.
    chair_token = bearer(api_token(browser, chair.email))
    assert (
        browser.patch(
            f"{API.format('RCF')}/{ned_membership.id}",  # type: ignore[union-attr]
            json={"role": "chair"},
            headers=chair_token,
        ).status_code
        == 200
    )


def test_you_cannot_change_your_own_role(client: TestClient, db: Session, chair: User) -> None:
    make_user(db, "second.chair@airedale.example.org", role="chair", trust="RCF")
    own = membership_of(db, chair, "RCF")
    assert own is not None
    response = post_form(client, f"/trusts/RCF/members/{own.id}/role", role="board_secretary")
    assert response.status_code == 409
    assert "You cannot change your own role. Ask another chair to do it" in response.text
    assert membership_of(db, chair, "RCF").role == "chair"  # type: ignore[union-attr]


# --- Removing someone ----------------------------------------------------------------------------


def test_removal_signs_the_person_out_at_once_and_shuts_them_out_of_that_trust(
    client: TestClient, db: Session, chair: User, ned: User, ned_browser: TestClient
) -> None:
    token = api_token(ned_browser, ned.email)
    assert ned_browser.get("/trusts/RCF").status_code == 200
    assert ned_browser.get(API.format("RCF"), headers=bearer(token)).status_code == 403
    membership = membership_of(db, ned, "RCF")
    assert membership is not None

    page = client.get(f"/trusts/RCF/members/{membership.id}/remove")
    assert page.status_code == 200
    assert "Are you sure you want to remove Sam Patel from the board?" in page.text
    assert "other boards" in page.text and "signed out straight away" in page.text
    response = post_form(client, f"/trusts/RCF/members/{membership.id}/remove")
    assert response.status_code == 303
    assert response.headers["location"] == "/trusts/RCF/members?done=removed"

    assert membership_of(db, ned, "RCF") is None
    assert signed_out(ned_browser)
    assert ned_browser.get("/api/v1/me", headers=bearer(token)).status_code == 401

    sign_in(ned_browser, ned.email)
    assert ned_browser.get("/trusts/RCF").status_code == 404
    assert ned_browser.get("/trusts/RBS").status_code == 200
    new_token = bearer(api_token(ned_browser, ned.email))
    assert ned_browser.get(API.format("RCF"), headers=new_token).status_code == 404

    [event] = fresh(db, select(AuditEvent).where(AuditEvent.action == "member.removed"))
    assert event.organisation_id == trust_id(db, "RCF")
    assert event.actor_id == chair.id
    assert event.details["email"] == ned.email and event.details["by"] == chair.email


def test_a_secretary_cannot_remove_a_chair(app: FastAPI, db: Session, chair: User) -> None:
    secretary = make_user(db, "secretary@airedale.example.org", role="board_secretary", trust="RCF")
    make_user(db, "vice.chair@airedale.example.org", role="chair", trust="RCF")
    browser = TestClient(app)
    sign_in(browser, secretary.email)
    chair_membership = membership_of(db, chair, "RCF")
    assert chair_membership is not None

    response = post_form(browser, f"/trusts/RCF/members/{chair_membership.id}/remove")
    assert response.status_code == 403
    assert "nhsuk-error-summary" in response.text
    assert "Only a chair can appoint, change or remove a chair" in response.text
    api = browser.delete(
        f"{API.format('RCF')}/{chair_membership.id}", headers=bearer(api_token(browser, secretary.email))
    )
    assert api.status_code == 403
    assert membership_of(db, chair, "RCF") is not None
    assert fresh(db, select(AuditEvent).where(AuditEvent.action == "member.removed")) == []


def test_a_chair_can_be_removed_when_another_remains(app: FastAPI, db: Session, chair: User) -> None:
    other = make_user(db, "vice.chair@airedale.example.org", role="chair", trust="RCF")
    browser = TestClient(app)
    sign_in(browser, other.email)
    chair_membership = membership_of(db, chair, "RCF")
    assert chair_membership is not None
    response = post_form(browser, f"/trusts/RCF/members/{chair_membership.id}/remove")
    assert response.status_code == 303
    assert membership_of(db, chair, "RCF") is None


def test_you_cannot_remove_yourself(client: TestClient, db: Session, chair: User) -> None:
    make_user(db, "vice.chair@airedale.example.org", role="chair", trust="RCF")
    own = membership_of(db, chair, "RCF")
    assert own is not None
    response = post_form(client, f"/trusts/RCF/members/{own.id}/remove")
    assert response.status_code == 409
    assert "You cannot remove yourself from the board. Ask another chair to do it" in response.text
    api = client.delete(f"{API.format('RCF')}/{own.id}", headers=bearer(api_token(client, chair.email)))
    assert api.status_code == 409
    assert membership_of(db, chair, "RCF") is not None


def test_api_removes_a_member_with_204(
    client: TestClient, db: Session, chair: User, ned: User, ned_browser: TestClient
) -> None:
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    headers = bearer(api_token(client, chair.email))
    assert client.delete(f"{API.format('RCF')}/{membership.id}", headers=headers).status_code == 204
    assert membership_of(db, ned, "RCF") is None
    assert signed_out(ned_browser)
    assert client.delete(f"{API.format('RCF')}/{membership.id}", headers=headers).status_code == 404


# --- Inviting through the API --------------------------------------------------------------------


def test_api_invites_with_201_and_emails_a_link(client: TestClient, db: Session, chair: User) -> None:
    response = client.post(
        API.format("RCF"),
        json={"email": " New.Exec@Example.org ", "name": " Ada \t Okafor ", "role": "board_member",
              "board_role": "executive"},
        headers=bearer(api_token(client, chair.email)),
    )  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.exec@example.org" and body["name"] == "Ada Okafor"
    assert (body["role"], body["board_role"], body["status"]) == ("board_member", "executive", "invited")
    [email] = fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == "new.exec@example.org"))
    assert "http://127.0.0.1:8000/invitation/" in email.body
    [event] = fresh(db, select(AuditEvent).where(AuditEvent.action == "invitation.sent"))
    assert event.details["email"] == "new.exec@example.org"


@pytest.mark.parametrize(
    ("invite", "field"),
    [
        ({"email": "not an email", "name": "Ada", "role": "chair"}, "email"),
        ({"email": "a@example.org", "name": "  ", "role": "chair"}, "name"),
        ({"email": "a@example.org", "name": "Ada", "role": "king"}, "role"),
        ({"email": "a@example.org", "name": "Ada", "role": "board_member"}, "board_role"),
        (
            {"email": "a@example.org", "name": "Ada", "role": "board_member", "board_role": "mayor"},
            "board_role",
        ),
        ({"email": "a@example.org", "name": "Ada", "role": "chair", "board_role": "ned"}, "board_role"),
        # The page's rules, which the API now shares: one address, not a name and an address.
        ({"email": "Ada <a@example.org>", "name": "Ada", "role": "chair"}, "email"),
        ({"email": "   ", "name": "Ada", "role": "chair"}, "email"),
        ({"email": "a@example.org", "name": "Ada " * 30 + "L", "role": "chair"}, "name"),
    ],
)
def test_api_invite_with_bad_input_is_422_naming_the_field(
    client: TestClient, db: Session, chair: User, invite: dict, field: str
) -> None:
    response = client.post(API.format("RCF"), json=invite, headers=bearer(api_token(client, chair.email)))
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["detail"]]
    assert fresh(db, select(User).where(User.email == "a@example.org")) == []
    assert fresh(db, select(OutboxEmail)) == []


def test_api_invite_of_an_existing_member_is_409(
    client: TestClient, db: Session, chair: User, ned: User
) -> None:
    response = client.post(
        API.format("RCF"),
        json={"email": ned.email, "name": "Sam", "role": "board_member", "board_role": "ned"},
        headers=bearer(api_token(client, chair.email)),
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Sam Patel ({ned.email}) is already a member of this board",
        "field": "email",
    }


def test_member_forms_need_the_csrf_token(client: TestClient, db: Session, chair: User, ned: User) -> None:
    membership = membership_of(db, ned, "RCF")
    assert membership is not None
    response = client.post(f"/trusts/RCF/members/{membership.id}/remove", data={})
    assert response.status_code == 403
    assert membership_of(db, ned, "RCF") is not None


def test_api_sends_the_invitation_again_only_to_someone_who_has_not_accepted(
    client: TestClient, db: Session, chair: User, ned: User
) -> None:
    invited = make_user(db, "invited@airedale.example.org", role="board_member", trust="RCF", password=None)
    headers = bearer(api_token(client, chair.email))
    pending = membership_of(db, invited, "RCF")
    active = membership_of(db, ned, "RCF")
    assert pending is not None and active is not None
    assert client.post(f"{API.format('RCF')}/{pending.id}/invitation", headers=headers).status_code == 204
    [email] = fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == invited.email))
    assert "http://127.0.0.1:8000/invitation/" in email.body
    refused = client.post(f"{API.format('RCF')}/{active.id}/invitation", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Sam Patel has already accepted the invitation"
    assert fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == ned.email)) == []
