"""Test helpers: people on boards, signing in through the real pages and the token endpoint."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import Membership, User
from api.accounts.passwords import hash_password
from api.assessments.models import Cycle
from api.frameworks.models import FrameworkRecord
from api.organisations.models import Organisation

PASSWORD = "Lantern-harbour-kettle-42"
_hash_cache: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    # argon2 at OWASP cost takes tens of milliseconds: hash each test password once per run.
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def organisation(db: Session, ods_code: str) -> Organisation:
    return db.exec(select(Organisation).where(Organisation.ods_code == ods_code)).one()


def make_user(
    db: Session,
    email: str,
    *,
    role: str | None = None,
    trust: str | None = None,
    board_role: str | None = None,
    platform_role: str | None = None,
    password: str | None = PASSWORD,
    name: str | None = None,
) -> User:
    """A user, with a membership of `trust` (ODS code) in `role` when given. Commits."""
    user = User(
        email=email.lower(),
        name=name or email.split("@")[0].replace(".", " ").title(),
        password_hash=password_hash(password) if password else None,
        platform_role=platform_role,
    )
    db.add(user)
    db.flush()
    if trust is not None:
        add_membership(db, user, trust, role or "board_member", board_role)
    db.commit()
    return user


def add_membership(
    db: Session, user: User, trust: str, role: str, board_role: str | None = None
) -> Membership:
    default_board_role = {"chair": "chair", "board_member": "ned", "board_secretary": "secretary"}[role]
    membership = Membership(
        user_id=user.id,
        organisation_id=organisation(db, trust).id,
        role=role,
        board_role=board_role or default_board_role,
    )
    db.add(membership)
    db.commit()
    return membership


def make_cycle(
    db: Session, name: str = "2026/27", opens: date = date(2026, 4, 1), closes: date = date(2027, 3, 31)
) -> Cycle:
    framework = db.exec(select(FrameworkRecord).where(FrameworkRecord.key == "race-equality-board-v1")).one()
    cycle = Cycle(name=name, opens_on=opens, closes_on=closes, framework_id=framework.id)
    db.add(cycle)
    db.commit()
    return cycle


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def page_csrf(client: TestClient, path: str = "/sign-in") -> str:
    return csrf_from(client.get(path).text)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real page (CSRF token and all); asserts it worked."""
    token = page_csrf(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def api_token(client: TestClient, email: str, password: str = PASSWORD, otp: str | None = None) -> str:
    data = {"username": email, "password": password}
    if otp:
        data["otp"] = otp
    response = client.post("/api/v1/auth/token", data=data)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def with_second_factor(db: Session, user: User) -> User:
    """Two-factor on (a new secret), as the set-up page leaves it. Commits."""
    import pyotp

    from api.db import utcnow

    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    db.add(user)
    db.commit()
    return user


def sign_in_with_second_factor(client: TestClient, db: Session, email: str, password: str = PASSWORD) -> None:
    """For people who must use two-factor (platform roles): enrol them directly, then sign in with a code."""
    import pyotp

    from api.db import utcnow

    user = db.exec(select(User).where(User.email == email.lower())).one()
    if user.totp_secret is None or user.totp_enabled_at is None:
        user.totp_secret = pyotp.random_base32()
        user.totp_enabled_at = utcnow()
        db.add(user)
        db.commit()
    sign_in(client, email, password)
    page = client.get("/sign-in/two-factor")
    response = client.post(
        "/sign-in/two-factor",
        data={"code": pyotp.TOTP(user.totp_secret).now(), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def api_token_with_second_factor(
    client: TestClient, db: Session, email: str, password: str = PASSWORD
) -> str:
    import pyotp

    from api.db import utcnow

    user = db.exec(select(User).where(User.email == email.lower())).one()
    if user.totp_secret is None or user.totp_enabled_at is None:
        user.totp_secret = pyotp.random_base32()
        user.totp_enabled_at = utcnow()
        db.add(user)
        db.commit()
    return api_token(client, email, password, otp=pyotp.TOTP(user.totp_secret).now())
