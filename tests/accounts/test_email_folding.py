"""Email addresses are folded (Unicode NFKC, then case-folded) before lookup and storage: `ﬁnance@…`
(with the ﬁ ligature) and `finance@…` are one account everywhere, and the migration folds existing
rows or stops, naming the accounts that would collide."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import Membership, User
from api.accounts.service import create_user, folded_email, lookup_email, normalise_email
from api.errors import InputError
from api.mail import OutboxEmail
from api.settings import PROJECT_ROOT
from tests.factories import PASSWORD, api_token, csrf_from, make_user, sign_in, sign_in_with_second_factor

TRUST = "RCF"
FINANCE = "finance@example.nhs.uk"
LIGATURE = "\ufb01nance@example.nhs.uk"  # "ﬁnance@…": one character for "fi"
WIDE = "ＦＩＮＡＮＣＥ@Example.NHS.uk"  # full-width capitals


def test_folding_joins_ligatures_full_width_letters_and_case() -> None:
    assert LIGATURE != FINANCE
    assert (
        normalise_email(LIGATURE)
        == normalise_email(WIDE)
        == normalise_email(f" {FINANCE.upper()} ")
        == FINANCE
    )
    assert normalise_email("Straße@example.org") == "strasse@example.org"
    # Normalising twice changes nothing (what is stored is what a lookup makes).
    for raw in (LIGATURE, WIDE, "José@Example.org", "finance@xn--bcher-kva.de"):
        assert normalise_email(normalise_email(raw)) == normalise_email(raw)
    with pytest.raises(InputError):
        normalise_email("not an address")
    assert lookup_email("Not An Address") == folded_email("Not An Address") == "not an address"


def test_signing_in_with_the_ligature_or_capitals_reaches_the_one_account(
    client: TestClient, db: Session
) -> None:
    make_user(db, FINANCE, trust=TRUST)
    sign_in(client, LIGATURE)
    client.cookies.clear()
    sign_in(client, WIDE)
    assert api_token(client, LIGATURE)


def test_create_user_refuses_an_address_that_differs_only_by_such_characters(db: Session) -> None:
    create_user(db, email=FINANCE, role="board_member", password=None, organisation_code=TRUST)
    db.commit()
    with pytest.raises(InputError, match="already exists"):
        create_user(db, email=LIGATURE, role="board_member", password=None, organisation_code=TRUST)
    db.rollback()
    stored = create_user(
        db, email="ＮＥＷ.Person@Example.org", role="chair", password=None, organisation_code="RBS"
    )
    db.commit()
    assert stored.email == "new.person@example.org"


def test_inviting_the_ligature_spelling_adds_the_existing_account_to_the_board(
    client: TestClient, db: Session
) -> None:
    make_user(db, "chair@example.org", role="chair", trust=TRUST)
    existing = make_user(db, FINANCE, trust="RBS")
    sign_in(client, "chair@example.org")
    page = client.get(f"/trusts/{TRUST}/members/invite")
    response = client.post(
        f"/trusts/{TRUST}/members/invite",
        data={
            "email": LIGATURE,
            "name": "Fin Ance",
            "role": "board_member",
            "board_role": "ned",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    accounts = db.exec(select(User.id, User.email)).all()
    joined = db.exec(select(Membership.user_id).where(Membership.user_id == existing.id)).all()
    db.commit()
    assert (existing.id, FINANCE) in accounts and len(accounts) == 2
    assert len(joined) == 2


def test_admin_invitation_and_password_reset_fold_the_address(client: TestClient, db: Session) -> None:
    make_user(db, "admin@example.org", platform_role="platform_admin")
    finance = make_user(db, FINANCE, trust=TRUST)
    # A reset asked for with the wide spelling goes to the one account.
    page = client.get("/forgot-password")
    client.post("/forgot-password", data={"email": WIDE, "csrf_token": csrf_from(page.text)})
    sent = db.exec(select(OutboxEmail.to_address, OutboxEmail.subject)).all()
    db.commit()
    assert (FINANCE, "Reset your password") in sent

    sign_in_with_second_factor(client, db, "admin@example.org")
    page = client.get("/admin/people/invite")
    response = client.post(
        "/admin/people/invite",
        data={
            "email": LIGATURE,
            "name": "Fin Ance",
            "role": "sector_analyst",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    roles = db.exec(select(User.email, User.platform_role).where(User.id == finance.id)).all()
    count = len(db.exec(select(User.id)).all())
    db.commit()
    assert roles == [(FINANCE, "sector_analyst")] and count == 2


def test_the_password_is_checked_against_the_folded_address(client: TestClient, db: Session) -> None:
    make_user(db, FINANCE, trust=TRUST)
    page = client.get("/sign-in")
    wrong = client.post(
        "/sign-in",
        data={"email": LIGATURE, "password": PASSWORD + "x", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert wrong.status_code == 401


# --- The migration -------------------------------------------------------------------------------


def _migration() -> ModuleType:
    (path,) = (PROJECT_ROOT / "migrations" / "versions").glob("*_5e1f0a2c9d41_*.py")
    spec = importlib.util.spec_from_file_location("fold_emails_migration", Path(path))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _accounts(rows: list[tuple[int, str]]) -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE user_account (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL)")
        )
        for user_id, email in rows:
            connection.execute(
                sa.text("INSERT INTO user_account VALUES (:id, :email)"), {"id": user_id, "email": email}
            )
    return engine


def test_the_migration_folds_existing_addresses() -> None:
    engine = _accounts([(1, "Jo.Chair@Example.org"), (2, LIGATURE), (3, "already@example.org")])
    with engine.begin() as connection:
        assert _migration().fold_emails(connection) == 2
        emails = connection.execute(sa.text("SELECT id, email FROM user_account ORDER BY id")).all()
    assert emails == [(1, "jo.chair@example.org"), (2, FINANCE), (3, "already@example.org")]


def test_the_migration_stops_and_names_the_accounts_that_would_collide() -> None:
    engine = _accounts([(4, FINANCE), (7, "keep@example.org"), (9, LIGATURE), (12, "FINANCE@example.nhs.uk")])
    migration = _migration()
    with engine.begin() as connection, pytest.raises(migration.EmailCollision) as refused:
        migration.fold_emails(connection)
    assert "'finance@example.nhs.uk': user_account ids 4, 9, 12" in str(refused.value)
    with engine.begin() as connection:
        unchanged = connection.execute(sa.text("SELECT email FROM user_account ORDER BY id")).scalars().all()
    assert unchanged == [FINANCE, "keep@example.org", LIGATURE, "FINANCE@example.nhs.uk"]
