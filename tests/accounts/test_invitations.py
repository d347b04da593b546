"""Invitations: the chair or secretary invites; the emailed link works once, for seven days."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from api import mail
from api.accounts.models import Membership, OneTimeToken, User
from api.accounts.passwords import verify_password
from api.audit.models import AuditEvent
from api.db import utcnow
from api.mail import OutboxEmail, send_email
from api.settings import Settings
from tests.factories import PASSWORD, make_user, page_csrf, sign_in

NEW_PASSWORD = "Copper-meadow-lantern-77"
INVITATION_LINK = re.compile(r"http://127\.0\.0\.1:8000(/invitation/[A-Za-z0-9_-]+)")


def fresh(db: Session, statement):  # noqa: ANN001, ANN201 - any select
    """Rows as the app committed them (a short session of its own, so no lock is held)."""
    with Session(db.get_bind()) as session:
        return session.exec(statement).all()


def emails_to(db: Session, address: str) -> list[OutboxEmail]:
    return fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id))


def invitation_path(db: Session, address: str) -> str:
    match = INVITATION_LINK.search(emails_to(db, address)[-1].body)
    assert match, "no invitation link in the email"
    return match.group(1)


def invite(client: TestClient, trust: str = "RCF", **fields: str):  # noqa: ANN201 - a response
    token = page_csrf(client, f"/trusts/{trust}/members/invite")
    data = {"email": "", "name": "", "role": "", "board_role": "", "csrf_token": token, **fields}
    return client.post(f"/trusts/{trust}/members/invite", data=data, follow_redirects=False)


def invite_new_ned(client: TestClient, db: Session, email: str = "new.ned@example.org") -> str:
    response = invite(client, email=email, name="Ada Okafor", role="board_member", board_role="ned")
    assert response.status_code == 303, response.text
    return invitation_path(db, email)


def accept(client: TestClient, path: str, password: str = NEW_PASSWORD, **fields: str):  # noqa: ANN201
    token = page_csrf(client, "/forgot-password")
    data = {"name": "Ada Okafor", "password": password, "confirm_password": password, "csrf_token": token}
    return client.post(path, data={**data, **fields})


@pytest.fixture
def chair(client: TestClient, db: Session) -> User:
    user = make_user(db, "chair@airedale.example.org", role="chair", trust="RCF", name="Grace Hill")
    sign_in(client, user.email)
    return user


@pytest.fixture
def invitee(app: FastAPI) -> TestClient:
    """The invited person's own browser."""
    return TestClient(app)


def test_new_person_is_emailed_a_link_that_sets_their_password_once(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    response = invite(
        client, email="New.NED@Example.org", name="Ada Okafor", role="board_member", board_role="ned"
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/trusts/RCF/members?done=invited"

    user = fresh(db, select(User).where(User.email == "new.ned@example.org"))[0]
    assert user.password_hash is None
    membership = fresh(db, select(Membership).where(Membership.user_id == user.id))[0]
    assert (membership.role, membership.board_role) == ("board_member", "ned")

    [email] = emails_to(db, "new.ned@example.org")
    path = invitation_path(db, "new.ned@example.org")
    assert "Airedale NHS Foundation Trust" in email.subject + email.body
    assert "Grace Hill (chair) has added you" in email.body
    assert "a non-executive director" in email.body
    assert "The link works once. It stops working at" in email.body
    assert "If you did not expect this email" in email.body

    page = invitee.get(path)
    assert page.status_code == 200
    assert "Join the board of Airedale NHS Foundation Trust" in page.text
    assert "Board member (non-executive director)" in page.text

    accepted = accept(invitee, path, name="Ada  Okafor-Jones ")
    assert accepted.status_code == 200
    assert "Your account is ready" in accepted.text
    # No session is started: the person signs in with the password they chose.
    assert invitee.get("/account", follow_redirects=False).status_code == 303
    user = fresh(db, select(User).where(User.id == user.id))[0]
    assert user.name == "Ada Okafor-Jones"
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert user.password_changed_at is not None
    sign_in(invitee, "new.ned@example.org", NEW_PASSWORD)

    again = accept(TestClient(invitee.app), path, password="Another-long-phrase-93")
    assert again.status_code == 410
    assert "This link has expired or has already been used" in again.text
    assert TestClient(invitee.app).get(path).status_code == 410
    user = fresh(db, select(User).where(User.id == user.id))[0]
    assert verify_password(user.password_hash, NEW_PASSWORD)


def test_invitation_link_does_not_work_after_it_expires(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    path = invite_new_ned(client, db)
    [link] = fresh(db, select(OneTimeToken).where(OneTimeToken.purpose == "invitation"))
    # Seven days: a busy board member may not open the email the day it comes.
    assert timedelta(days=6, hours=23, minutes=59) < link.expires_at - link.created_at <= timedelta(days=7)
    with Session(db.get_bind()) as session:
        session.exec(update(OneTimeToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()

    page = invitee.get(path)
    assert page.status_code == 410
    assert "This link has expired or has already been used" in page.text
    assert "send the invitation again" in page.text
    assert accept(invitee, path).status_code == 410
    [user] = fresh(db, select(User).where(User.email == "new.ned@example.org"))
    assert user.password_hash is None


def test_unknown_invitation_link_gets_the_same_page_with_404(invitee: TestClient) -> None:
    page = invitee.get("/invitation/not-a-link-we-sent")
    assert page.status_code == 404
    assert "This link has expired or has already been used" in page.text
    assert accept(invitee, "/invitation/not-a-link-we-sent").status_code == 404


def test_sending_the_invitation_again_stops_the_older_link(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    first = invite_new_ned(client, db)
    [member] = fresh(db, select(Membership).where(Membership.role == "board_member"))
    members_page = client.get("/trusts/RCF/members")
    assert "Send the invitation again" in members_page.text
    token = page_csrf(client, "/trusts/RCF/members")
    age_invitations(db, "new.ned@example.org")
    response = client.post(
        f"/trusts/RCF/members/{member.id}/resend", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/trusts/RCF/members?done=resent"
    second = invitation_path(db, "new.ned@example.org")
    assert second != first
    assert invitee.get(first).status_code == 410
    assert invitee.get(second).status_code == 200
    assert accept(invitee, second).status_code == 200


def age_invitations(db: Session, address: str, by: timedelta = timedelta(days=1, minutes=1)) -> None:
    """Move the invitation emails to `address` back in time, as if sent a day ago."""
    with Session(db.get_bind()) as session:
        for email in session.exec(select(OutboxEmail).where(OutboxEmail.to_address == address)).all():
            email.created_at = email.created_at - by
            session.add(email)
        session.commit()


def test_the_invitation_is_sent_again_at_most_once_a_day(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    first = invite_new_ned(client, db)
    [member] = fresh(db, select(Membership).where(Membership.role == "board_member"))
    token = page_csrf(client, "/trusts/RCF/members")
    too_soon = client.post(f"/trusts/RCF/members/{member.id}/resend", data={"csrf_token": token})
    assert "You can send it again tomorrow" in too_soon.text
    assert len(emails_to(db, "new.ned@example.org")) == 1
    assert invitee.get(first).status_code == 200  # the first link still works
    age_invitations(db, "new.ned@example.org")
    sent = client.post(f"/trusts/RCF/members/{member.id}/resend", data={"csrf_token": token})
    assert "Invitation sent again" in sent.text
    assert len(emails_to(db, "new.ned@example.org")) == 2
    again = client.post(f"/trusts/RCF/members/{member.id}/resend", data={"csrf_token": token})
    assert "You can send it again tomorrow" in again.text
    assert len(emails_to(db, "new.ned@example.org")) == 2


def test_email_text_comes_out_as_typed_not_escaped_for_a_web_page(
    client: TestClient, db: Session, chair: User
) -> None:
    """Email bodies are plain text: `O'Brien & Co <Ltd>` must not arrive as `O&#39;Brien &amp; Co`."""
    response = invite(
        client,
        email="obrien@example.org",
        name="Siobhan O'Brien & Co <Ltd>",
        role="board_member",
        board_role="ned",
    )
    assert response.status_code == 303, response.text
    [email] = emails_to(db, "obrien@example.org")
    assert email.body.startswith("Dear Siobhan O'Brien & Co <Ltd>,\n\nGrace Hill (chair) has added you")
    assert "&amp;" not in email.body and "&#39;" not in email.body and "&lt;" not in email.body
    assert email.body.endswith("board secretary.\n") and not email.body.endswith("\n\n")


def test_existing_account_is_added_and_told_without_a_link(
    client: TestClient, db: Session, chair: User
) -> None:
    ned = make_user(db, "ned@two-boards.example.org", role="board_member", trust="RBS", name="Sam Patel")
    response = invite(client, email=ned.email, name="Samuel Patel", role="board_member", board_role="ned")
    assert response.headers["location"] == "/trusts/RCF/members?done=added"

    memberships = fresh(db, select(Membership).where(Membership.user_id == ned.id))
    assert len(memberships) == 2
    [email] = emails_to(db, ned.email)
    assert "/invitation/" not in email.body
    assert "Sign in as usual" in email.body and "/sign-in" in email.body
    assert fresh(db, select(OneTimeToken)) == []
    [user] = fresh(db, select(User).where(User.id == ned.id))
    assert user.name == "Sam Patel" and verify_password(user.password_hash, PASSWORD)


def test_someone_invited_elsewhere_who_has_not_accepted_gets_a_link_for_this_board(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    make_user(db, "pending@example.org", role="board_member", trust="RBS", password=None)
    response = invite(client, email="pending@example.org", name="Jo Bloggs", role="board_secretary")
    assert response.headers["location"] == "/trusts/RCF/members?done=invited"
    page = invitee.get(invitation_path(db, "pending@example.org"))
    assert page.status_code == 200
    assert "Join the board of Airedale NHS Foundation Trust" in page.text and "Board secretary" in page.text


def test_inviting_someone_already_on_the_board_is_refused_naming_them(
    client: TestClient, db: Session, chair: User
) -> None:
    make_user(db, "member@airedale.example.org", role="board_member", trust="RCF", name="Lee Jones")
    response = invite(client, email="MEMBER@airedale.example.org", name="Lee", role="chair", board_role="")
    assert response.status_code == 409
    assert "nhsuk-error-summary" in response.text
    assert "Lee Jones (member@airedale.example.org) is already a member of this board" in response.text
    assert emails_to(db, "member@airedale.example.org") == []
    assert fresh(db, select(AuditEvent).where(AuditEvent.action == "invitation.sent")) == []


def test_invite_form_explains_each_mistake_and_creates_nothing(
    client: TestClient, db: Session, chair: User
) -> None:
    blank = invite(client)
    assert blank.status_code == 422
    for message in ("Enter their email address", "Enter their full name", "Select their role on the board"):
        assert message in blank.text
    assert 'href="#email"' in blank.text and 'href="#role"' in blank.text

    bad = invite(client, email="not an email", name="Ada", role="board_member")
    assert bad.status_code == 422
    assert "Enter an email address in the correct format" in bad.text
    assert "Select what they are on the board" in bad.text
    assert 'href="#board_role"' in bad.text

    assert [u.email for u in fresh(db, select(User))] == [chair.email]
    assert fresh(db, select(OutboxEmail)) == []


@pytest.mark.parametrize(
    ("password", "message"),
    [("short-pw", "Password must be 12 characters or more"), ("password1234", "Password is too common")],
)
def test_accepting_refuses_a_weak_password_and_changes_nothing(
    client: TestClient, invitee: TestClient, db: Session, chair: User, password: str, message: str
) -> None:
    path = invite_new_ned(client, db)
    response = accept(invitee, path, password=password)
    assert response.status_code == 422
    assert "There is a problem" in response.text and message in response.text
    [user] = fresh(db, select(User).where(User.email == "new.ned@example.org"))
    assert user.password_hash is None
    [link] = fresh(db, select(OneTimeToken))
    assert link.used_at is None
    assert fresh(db, select(AuditEvent).where(AuditEvent.action == "invitation.accepted")) == []


def test_accepting_needs_a_name_and_the_same_password_twice(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    path = invite_new_ned(client, db)
    response = accept(invitee, path, name=" ", confirm_password="Something-else-entirely-5")
    assert response.status_code == 422
    assert "Enter your full name" in response.text
    assert "The passwords do not match" in response.text
    [user] = fresh(db, select(User).where(User.email == "new.ned@example.org"))
    assert user.password_hash is None


def test_invitation_stops_working_when_the_person_is_removed_before_accepting(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    path = invite_new_ned(client, db)
    [member] = fresh(db, select(Membership).where(Membership.role == "board_member"))
    token = page_csrf(client, f"/trusts/RCF/members/{member.id}/remove")
    client.post(f"/trusts/RCF/members/{member.id}/remove", data={"csrf_token": token})
    assert invitee.get(path).status_code == 410
    assert accept(invitee, path).status_code == 410


def test_invitation_is_audited_without_the_link_or_the_password(
    client: TestClient, invitee: TestClient, db: Session, chair: User
) -> None:
    path = invite_new_ned(client, db)
    accept(invitee, path)
    events = {e.action: e for e in fresh(db, select(AuditEvent))}
    sent, accepted = events["invitation.sent"], events["invitation.accepted"]
    rcf = fresh(db, select(Membership).where(Membership.user_id == chair.id))[0].organisation_id
    assert sent.organisation_id == accepted.organisation_id == rcf
    assert sent.actor_id == chair.id
    assert sent.details["email"] == "new.ned@example.org"
    assert sent.details["role"] == "board_member"
    raw_token = path.rsplit("/", 1)[1]
    [link] = fresh(db, select(OneTimeToken))
    for event in fresh(db, select(AuditEvent)):
        recorded = json.dumps(event.details) + event.summary
        assert raw_token not in recorded and link.token_hash not in recorded
        assert NEW_PASSWORD not in recorded


# --- Sending email -------------------------------------------------------------------------------


class FakeSMTP:
    sent: list = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        return None

    def login(self, username: str, password: str) -> None:
        return None

    def send_message(self, message) -> None:  # noqa: ANN001
        FakeSMTP.sent.append(message)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> list:
    FakeSMTP.sent = []
    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    # Deliver in this thread, so the test can see what went.
    monkeypatch.setattr(mail, "start_delivery", mail.deliver)
    return FakeSMTP.sent


def test_email_goes_by_smtp_only_once_the_transaction_commits(
    app: FastAPI, db: Session, settings: Settings, smtp: list
) -> None:
    with_smtp = settings.model_copy(update={"smtp_host": "smtp.example.org"})
    # The app's engine: real transactions, as in a request.
    with Session(app.state.engine) as session:
        send_email(session, with_smtp, to="a@example.org", subject="Rolled back", body="Never sent")
        assert smtp == []
        session.rollback()
        send_email(session, with_smtp, to="b@example.org", subject="Committed", body="Sent")
        assert smtp == []
        session.commit()
    assert [m["To"] for m in smtp] == ["b@example.org"]
    assert smtp[0]["Subject"] == "Committed"
    [outbox] = fresh(db, select(OutboxEmail))
    assert outbox.to_address == "b@example.org" and outbox.sent_at is not None


def test_invitation_is_sent_by_smtp_when_a_mail_server_is_set(
    app: FastAPI, client: TestClient, db: Session, chair: User, smtp: list
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"smtp_host": "smtp.example.org"})
    path = invite_new_ned(client, db)
    [message] = smtp
    assert message["To"] == "new.ned@example.org"
    assert path in message.get_content()


def test_without_a_mail_server_email_stays_in_the_outbox(
    client: TestClient, db: Session, chair: User, smtp: list
) -> None:
    invite_new_ned(client, db)
    assert smtp == []
    [outbox] = emails_to(db, "new.ned@example.org")
    assert outbox.sent_at is None
