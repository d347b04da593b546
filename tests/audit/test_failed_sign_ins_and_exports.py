"""Every failed sign-in (page and API, password and code) is audited with the client address and
shown to platform admins, who can filter for them; every download of a trust's report, workbook or
CSV is shown to that trust's chair and secretary (who, which, when)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import Assessment
from api.audit.models import AuditEvent
from api.db import utcnow
from tests.factories import (
    PASSWORD,
    api_token,
    bearer,
    csrf_from,
    make_cycle,
    make_user,
    organisation,
    sign_in,
    sign_in_with_second_factor,
    with_second_factor,
)

TRUST, OTHER_TRUST = "RCF", "RBS"
GUESSER = ("203.0.113.9", 40000)
WRONG = "Not-the-password-at-all-1"


def table(page_html: str) -> list[list[str]]:
    body = re.search(r'<tbody class="nhsuk-table__body">(.*?)</tbody>', page_html, re.S)
    if body is None:
        return []
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def failures(db: Session) -> list[AuditEvent]:
    found = list(
        db.exec(select(AuditEvent).where(AuditEvent.action == "sign_in.failed").order_by(AuditEvent.id)).all()
    )
    db.commit()
    return found


@pytest.fixture
def guesser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=GUESSER) as client:
        yield client


def wrong_code(totp: pyotp.TOTP) -> str:
    now = utcnow().timestamp()
    current = {totp.at(now - 30), totp.at(now), totp.at(now + 30)}
    return next(code for code in ("000000", "111111", "222222") if code not in current)


def test_every_kind_of_failed_sign_in_is_audited_with_the_address_and_admins_can_filter_for_them(
    client: TestClient, guesser: TestClient, db: Session
) -> None:
    ned = with_second_factor(db, make_user(db, "ned@example.org", trust=TRUST, name="Ned Member"))
    totp = pyotp.TOTP(ned.totp_secret)
    make_user(db, "admin@example.org", platform_role="platform_admin")

    # Wrong password on the page and through the API; a wrong code on the page and through the API.
    page = guesser.get("/sign-in")
    guesser.post(
        "/sign-in",
        data={"email": "nobody@example.org", "password": WRONG, "csrf_token": csrf_from(page.text)},
    )
    guesser.post("/api/v1/auth/token", data={"username": ned.email, "password": WRONG})
    page = guesser.get("/sign-in")
    guesser.post(
        "/sign-in", data={"email": ned.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    page = guesser.get("/sign-in/two-factor")
    assert (
        guesser.post(
            "/sign-in/two-factor", data={"code": wrong_code(totp), "csrf_token": csrf_from(page.text)}
        ).status_code
        == 401
    )
    guesser.post(
        "/api/v1/auth/token", data={"username": ned.email, "password": PASSWORD, "otp": wrong_code(totp)}
    )

    recorded = failures(db)
    assert [(e.actor_id, e.details.get("reason"), e.details.get("channel")) for e in recorded] == [
        (None, None, None),
        (ned.id, None, "api"),
        (ned.id, "second_factor", "web"),
        (ned.id, "second_factor", "api"),
    ]
    assert {e.client_ip for e in recorded} == {"203.0.113.9"}

    sign_in_with_second_factor(client, db, "admin@example.org")
    page = client.get("/admin/audit", params={"kind": "failed_sign_ins"})
    assert page.status_code == 200
    assert '<option value="failed_sign_ins" selected' in page.text
    rows = table(page.text)
    assert len(rows) == 4
    assert {row[-1] for row in rows} == {"203.0.113.9"}
    assert ["", "Unknown person", "Failed attempt to sign in as nobody@example.org", "203.0.113.9"] in [
        row[1:] for row in rows
    ]
    # Without the filter the admin's log has everything, successful sign-ins too.
    assert len(table(client.get("/admin/audit").text)) > 4

    token = api_token(client, "admin@example.org", otp=_code_for(db, "admin@example.org"))
    listed = client.get("/api/v1/admin/audit", params={"kind": "failed_sign_ins"}, headers=bearer(token))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 4 and {item["client_ip"] for item in items} == {"203.0.113.9"}


def _code_for(db: Session, email: str) -> str:
    user = db.exec(select(User).where(User.email == email).execution_options(populate_existing=True)).one()
    db.commit()
    # The next 30-second step: this step's code was used to sign in to the page.
    return pyotp.TOTP(user.totp_secret).at(utcnow().timestamp() + 30)


def test_a_trust_cannot_ask_its_log_for_the_admins_failed_sign_in_filter(
    client: TestClient, db: Session
) -> None:
    make_user(db, "chair@example.org", role="chair", trust=TRUST)
    sign_in(client, "chair@example.org")
    assert client.get(f"/trusts/{TRUST}/audit", params={"kind": "failed_sign_ins"}).status_code == 422
    token = api_token(client, "chair@example.org")
    refused = client.get(
        f"/api/v1/organisations/{TRUST}/audit", params={"kind": "failed_sign_ins"}, headers=bearer(token)
    )
    assert refused.status_code == 422


# --- Downloads ------------------------------------------------------------------------------------


def test_every_download_of_a_trusts_files_is_shown_to_its_chair_and_secretary(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    cycle = make_cycle(db)
    make_user(db, "chair@example.org", role="chair", trust=TRUST, name="Cora Chair")
    make_user(db, "secretary@example.org", role="board_secretary", trust=TRUST, name="Sid Secretary")
    make_user(db, "ned@example.org", trust=TRUST, name="Nell Member")
    make_user(db, "other.chair@example.org", role="chair", trust=OTHER_TRUST, name="Olu Other")
    assessment = Assessment(
        organisation_id=organisation(db, TRUST).id, cycle_id=cycle.id, framework_id=cycle.framework_id
    )
    db.add(assessment)
    db.commit()

    sign_in(client, "ned@example.org")
    for path in ("board-report.pdf", "workbook.xlsx", "consensus.csv"):
        assert client.get(f"/assessments/{assessment.id}/download/{path}").status_code == 200
    token = api_token(client, "ned@example.org")
    for path in ("report.pdf", "export.xlsx", "export.csv"):
        assert (
            client.get(f"/api/v1/assessments/{assessment.id}/{path}", headers=bearer(token)).status_code
            == 200
        )

    expected = [
        ["Nell Member", f"Downloaded the {what} for {cycle.name}"]
        for what in (
            "consensus ratings (CSV)",
            "workbook (XLSX)",
            "board report (PDF)",
            "consensus ratings (CSV)",
            "workbook (XLSX)",
            "board report (PDF)",
        )
    ]
    for reader in ("chair@example.org", "secretary@example.org"):
        with TestClient(app) as browser:
            sign_in(browser, reader)
            rows = table(browser.get(f"/trusts/{TRUST}/audit", params={"kind": "exports"}).text)
            assert [row[1:] for row in rows] == expected
            # When: each line has its date and time.
            assert all(re.search(r"\d{4} \d{1,2}(:\d{2})?(am|pm)$|midday|midnight", row[0]) for row in rows)
    with TestClient(app) as browser:
        sign_in(browser, "other.chair@example.org")
        assert table(browser.get(f"/trusts/{OTHER_TRUST}/audit", params={"kind": "exports"}).text) == []
