"""The command line: each command does its job, or fails with one clear line and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.accounts.models import Membership, User
from api.accounts.passwords import verify_password
from api.assessments.models import Cycle
from api.cli import app
from api.organisations.models import Organisation
from api.settings import get_settings
from tests.conftest import TEST_SECRET
from tests.frameworks.test_loader import minimal_framework

GOOD_PASSWORD = "Kettle-harbour-lantern-42"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, clean_database: object) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_create_user_reads_the_password_from_standard_input(cli: CliRunner, db: Session) -> None:
    result = cli.invoke(
        app,
        [
            "create-user",
            "Jo.Bloggs@Example.org",
            "--role",
            "chair",
            "--organisation",
            "rcf",
            "--name",
            "Jo Bloggs",
        ],
        input=GOOD_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created jo.bloggs@example.org as chair at RCF" in result.output
    user = db.exec(select(User).where(User.email == "jo.bloggs@example.org")).one()
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(user.password_hash, GOOD_PASSWORD)
    membership = db.exec(select(Membership).where(Membership.user_id == user.id)).one()
    assert (membership.role, membership.board_role) == ("chair", "chair")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "chair"], "Error: role chair belongs to a trust: give --organisation ODS_CODE"),
        (["--role", "chair", "--organisation", "ZZZ"], "Error: no organisation with ODS code 'ZZZ'"),
        (["--role", "wizard"], "Error: unknown role 'wizard'"),
        (
            ["--role", "sector_analyst", "--organisation", "RCF"],
            "Error: role sector_analyst is not tied to a trust",
        ),
    ],
)
def test_create_user_refuses_bad_options_in_one_line(
    cli: CliRunner, db: Session, args: list[str], message: str
) -> None:
    result = cli.invoke(app, ["create-user", "someone@example.org", *args], input=GOOD_PASSWORD + "\n")
    assert result.exit_code == 1
    assert result.output.strip().startswith(message)
    assert len(result.output.strip().splitlines()) == 1
    assert db.exec(select(func.count()).select_from(User)).one() == 0


def test_create_user_refuses_a_common_password(cli: CliRunner, db: Session) -> None:
    result = cli.invoke(
        app, ["create-user", "a@example.org", "--role", "platform_admin"], input="password1234\n"
    )
    assert result.exit_code == 1
    assert "Error: Password is too common" in result.output
    assert db.exec(select(func.count()).select_from(User)).one() == 0


def test_create_user_refuses_a_duplicate_email(cli: CliRunner) -> None:
    first = cli.invoke(app, ["create-user", "a@example.org", "--role", "platform_admin"], input=GOOD_PASSWORD)
    assert first.exit_code == 0, first.output
    again = cli.invoke(app, ["create-user", "A@example.org", "--role", "platform_admin"], input=GOOD_PASSWORD)
    assert again.exit_code == 1
    assert "Error: a user with email a@example.org already exists" in again.output


def test_framework_check_prints_each_error_with_its_path(cli: CliRunner, tmp_path: Path) -> None:
    data = minimal_framework()
    del data["sections"][0]["criteria"][0]["descriptors"][4]
    data["sections"][1]["criteria"][0]["descriptors"][7] = "x"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = cli.invoke(app, ["framework", "check", str(path)])
    assert result.exit_code == 1
    assert (
        f"{path}: sections[0] (one).criteria[0] (one-1).descriptors: missing a descriptor for level 4"
        in result.output
    )
    assert (
        f"{path}: sections[1] (baf).criteria[0] (baf-1).descriptors: level 7 is out of range" in result.output
    )
    assert f"Error: {path} is not a valid framework (2 problems)" in result.output


def test_framework_check_accepts_the_shipped_file(cli: CliRunner) -> None:
    result = cli.invoke(app, ["framework", "check", "assessments/race-equality-board-v1.yaml"])
    assert result.exit_code == 0, result.output
    assert "is valid: 11 sections" in result.output


@pytest.mark.changes_reference_data
def test_import_organisations_refuses_a_bad_file_and_imports_nothing(
    cli: CliRunner, db: Session, tmp_path: Path
) -> None:
    before = db.exec(select(func.count()).select_from(Organisation)).one()
    path = tmp_path / "trusts.csv"
    path.write_text(
        "ods_code,name,trust_type,region\n"
        "ZZ1,Good Trust,acute,London\n"
        "ZZ2,Bad Type Trust,hospital,London\n"
        "ZZ3,,community,Midlands\n"
        "ZZ1,Duplicate Trust,acute,London\n",
        encoding="utf-8",
    )
    result = cli.invoke(app, ["import-organisations", str(path)])
    assert result.exit_code == 1
    assert "line 3: the trust type 'hospital' is not one we know (use one of: Acute, Acute specialist" in (
        " ".join(result.output.split())
    )
    assert "line 4: name is missing" in result.output
    assert "line 5: duplicate ods_code ZZ1 (first on line 2)" in result.output
    assert "nothing imported" in result.output
    db.expire_all()
    assert db.exec(select(func.count()).select_from(Organisation)).one() == before
    assert db.exec(select(Organisation).where(Organisation.ods_code == "ZZ1")).first() is None


@pytest.mark.changes_reference_data
def test_import_organisations_adds_new_and_refreshes_known_trusts(
    cli: CliRunner, db: Session, tmp_path: Path
) -> None:
    path = tmp_path / "trusts.csv"
    path.write_text(
        "ods_code,name,trust_type,region,size_band\n"
        "ZZ1,New Community Trust,community,Midlands,under_3000\n"
        "RCF,Airedale NHS Foundation Trust (renamed),acute,North East and Yorkshire,3000_6999\n",
        encoding="utf-8",
    )
    result = cli.invoke(app, ["import-organisations", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 organisations (1 new, 1 updated)" in result.output
    new = db.exec(select(Organisation).where(Organisation.ods_code == "ZZ1")).one()
    assert (new.trust_type, new.peer_type, new.size_band) == ("community", "non_acute", "under_3000")
    renamed = db.exec(select(Organisation).where(Organisation.ods_code == "RCF")).one()
    assert renamed.name.endswith("(renamed)")


def test_import_organisations_refuses_a_file_without_the_header(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "trusts.csv"
    path.write_text("code,name\nAAA,Somewhere\n", encoding="utf-8")
    result = cli.invoke(app, ["import-organisations", str(path)])
    assert result.exit_code == 1
    assert "line 1: the header must include ods_code,name,trust_type,region" in result.output


def test_open_cycle_creates_a_cycle_on_the_newest_framework(cli: CliRunner, db: Session) -> None:
    result = cli.invoke(app, ["open-cycle", "2027/28", "--opens", "2027-04-01", "--closes", "2028-03-31"])
    assert result.exit_code == 0, result.output
    cycle = db.exec(select(Cycle).where(Cycle.name == "2027/28")).one()
    assert str(cycle.closes_on) == "2028-03-31"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["2027/29", "--opens", "2027-04-01", "--closes", "2028-03-31"],
            "must be a financial year written like 2026/27",
        ),
        (["2027/28", "--opens", "1 April", "--closes", "2028-03-31"], "--opens '1 April' is not a date"),
        (
            ["2027/28", "--opens", "2028-04-01", "--closes", "2028-03-31"],
            "the cycle must open before it closes",
        ),
        (
            ["2027/28", "--opens", "2027-04-01", "--closes", "2028-03-31", "--framework", "nope"],
            "no framework with key 'nope'",
        ),
    ],
)
def test_open_cycle_refuses_bad_input(cli: CliRunner, db: Session, args: list[str], message: str) -> None:
    result = cli.invoke(app, ["open-cycle", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert db.exec(select(func.count()).select_from(Cycle)).one() == 0


def test_open_cycle_refuses_a_cycle_that_exists(cli: CliRunner) -> None:
    args = ["open-cycle", "2027/28", "--opens", "2027-04-01", "--closes", "2028-03-31"]
    assert cli.invoke(app, args).exit_code == 0
    again = cli.invoke(app, args)
    assert again.exit_code == 1
    assert "Error: cycle 2027/28 already exists" in again.output


def test_purge_expired_deletes_only_what_has_expired(cli: CliRunner, db: Session) -> None:
    from datetime import timedelta

    from api.accounts.models import ApiToken, OneTimeToken, SignInAttempt, WebSession
    from api.db import utcnow
    from tests.factories import make_user

    user = make_user(db, "someone@rcf.example.org", role="board_member", trust="RCF")
    now = utcnow()
    for n, when in enumerate((now - timedelta(hours=1), now + timedelta(hours=1))):
        db.add(WebSession(token_hash=f"w{n}".ljust(64, "0"), user_id=user.id, expires_at=when))
        db.add(ApiToken(token_hash=f"a{n}".ljust(64, "0"), user_id=user.id, expires_at=when))
        db.add(
            OneTimeToken(
                token_hash=f"o{n}".ljust(64, "0"), purpose="password_reset", user_id=user.id, expires_at=when
            )
        )
    # Sign-in attempts count towards the sign-in delays for a day, then only hold who tried from where.
    for n, hours in enumerate((25, 23)):
        db.add(
            SignInAttempt(
                email=f"try{n}@example.org", client_ip="192.0.2.1", occurred_at=now - timedelta(hours=hours)
            )
        )
    db.commit()
    result = cli.invoke(app, ["purge-expired"])
    assert result.exit_code == 0, result.output
    assert (
        "Deleted 1 expired browser sessions, 1 API tokens and 1 emailed links, "
        "and 1 sign-in attempts older than a day" in result.output
    )
    assert db.exec(select(SignInAttempt.email)).all() == ["try1@example.org"]
    db.expire_all()
    for model, prefix in ((WebSession, "w1"), (ApiToken, "a1"), (OneTimeToken, "o1")):
        left = db.exec(select(model.token_hash)).all()
        assert left == [prefix.ljust(64, "0")], f"{model.__name__}: {left}"
