"""The platform admin's pages: who may use them, opening cycles, trusts and their import, frameworks,
and inviting and removing people with platform roles."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func
from sqlmodel import Session, select

from api.accounts.models import ApiToken, OneTimeToken, User, WebSession
from api.accounts.sessions import issue_api_token
from api.admin import service
from api.admin.views import router as admin_router
from api.assessments.models import Assessment, Cycle, Rating
from api.audit.models import AuditEvent
from api.errors import Conflict
from api.frameworks.loader import parse_framework
from api.frameworks.models import Criterion, FrameworkRecord
from api.mail import OutboxEmail
from api.organisations.models import Organisation
from api.settings import Settings
from tests.conftest import FRAMEWORKS_DIR
from tests.factories import (
    csrf_from,
    make_cycle,
    make_user,
    organisation,
    page_csrf,
    sign_in,
    sign_in_with_second_factor,
)

SHIPPED_FRAMEWORK = FRAMEWORKS_DIR / "race-equality-board-v1.yaml"
NEW_PASSWORD = "Copper-meadow-lantern-77"
INVITATION_LINK = re.compile(r"http://127\.0\.0\.1:8000(/invitation/[A-Za-z0-9_-]+)")
ADMIN_PAGES = [
    ("/admin", "Platform admin"),
    ("/admin/cycles/new", "Open a new assessment cycle"),
    ("/admin/trusts", "Trusts"),
    ("/admin/trusts/import", "Import trusts from a CSV file"),
    ("/admin/frameworks", "Frameworks"),
    ("/admin/people", "People with platform roles"),
    ("/admin/people/invite", "Invite a sector analyst or platform admin"),
]


def fresh(db: Session, statement):  # noqa: ANN001, ANN201 - any select
    """Rows as the app committed them (a short session of its own, so no lock is held)."""
    with Session(db.get_bind()) as session:
        return session.exec(statement).all()


def count(db: Session, model: type) -> int:
    return fresh(db, select(func.count()).select_from(model))[0]


def audit_events(db: Session, action: str) -> list[AuditEvent]:
    return fresh(db, select(AuditEvent).where(AuditEvent.action == action))


def h1(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, "no heading on the page"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def error_summary(html: str) -> str:
    match = re.search(r'<div class="nhsuk-error-summary".*?</div>\s*</div>', html, re.S)
    assert match, "no error summary on the page"
    return match.group(0)


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the admin pages, found from the router so a new page is covered too."""
    return [
        (method, route.path)
        for route in admin_router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


@pytest.fixture
def admin(client: TestClient, db: Session) -> User:
    user = make_user(db, "priya.admin@example.org", platform_role="platform_admin", name="Priya Admin")
    sign_in_with_second_factor(client, db, user.email)
    return user


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    """Somebody else's browser."""
    return TestClient(app)


def post_form(client: TestClient, path: str, form_page: str, **fields: str):  # noqa: ANN201 - a response
    data = {"csrf_token": page_csrf(client, form_page), **fields}
    return client.post(path, data=data, follow_redirects=False)


def upload(client: TestClient, path: str, form_page: str, field: str, name: str, content: bytes, kind: str):  # noqa: ANN201
    token = page_csrf(client, form_page)
    return client.post(
        path, data={"csrf_token": token}, files={field: (name, content, kind)}, follow_redirects=False
    )


# --- Who may use the pages -----------------------------------------------------------------------


@pytest.mark.parametrize(("path", "heading"), ADMIN_PAGES)
def test_every_admin_page_renders_for_a_platform_admin(
    client: TestClient, admin: User, path: str, heading: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert h1(response.text) == heading
    # Every admin page names where to go back to.
    assert 'href="/admin"' in response.text


def test_remove_confirmation_page_renders_for_a_platform_admin(
    client: TestClient, db: Session, admin: User
) -> None:
    analyst = make_user(db, "sam.analyst@example.org", platform_role="sector_analyst", name="Sam Analyst")
    response = client.get(f"/admin/people/{analyst.id}/remove")
    assert response.status_code == 200
    assert h1(response.text) == "Are you sure you want to remove the sector analyst role from Sam Analyst?"


def test_admin_is_in_the_header_navigation_for_platform_admins_only(
    client: TestClient, browser: TestClient, db: Session, admin: User
) -> None:
    assert 'href="/admin"' in client.get("/account").text
    make_user(db, "sam.analyst@example.org", platform_role="sector_analyst")
    sign_in_with_second_factor(browser, db, "sam.analyst@example.org")
    assert 'href="/admin"' not in browser.get("/account").text


def _forbidden_everywhere(client: TestClient, db: Session, user_id: int) -> None:
    token = page_csrf(client, "/account/password")
    users_before, cycles_before = count(db, User), count(db, Cycle)
    for method, path in admin_routes():
        url = path.replace("{user_id}", str(user_id))
        if method == "GET":
            response = client.get(url, follow_redirects=False)
        else:
            response = client.post(
                url,
                data={
                    "csrf_token": token,
                    "email": "someone@example.org",
                    "name": "Some One",
                    "role": "platform_admin",
                },
                follow_redirects=False,
            )
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
    assert (count(db, User), count(db, Cycle)) == (users_before, cycles_before)
    assert fresh(db, select(User.platform_role).where(User.id == user_id)) != [None]


def test_sector_analyst_gets_403_on_every_admin_page(client: TestClient, db: Session) -> None:
    analyst = make_user(db, "sam.analyst@example.org", platform_role="sector_analyst")
    sign_in_with_second_factor(client, db, analyst.email)
    _forbidden_everywhere(client, db, analyst.id)  # type: ignore[arg-type]


def test_trust_chair_gets_403_on_every_admin_page(client: TestClient, db: Session) -> None:
    chair = make_user(db, "chair@airedale.example.org", role="chair", trust="RCF")
    analyst = make_user(db, "sam.analyst@example.org", platform_role="sector_analyst")
    sign_in(client, chair.email)
    _forbidden_everywhere(client, db, analyst.id)  # type: ignore[arg-type]


def test_not_signed_in_is_sent_to_sign_in_from_every_admin_page(client: TestClient) -> None:
    token = page_csrf(client, "/sign-in")
    for method, path in admin_routes():
        url = path.replace("{user_id}", "1")
        if method == "GET":
            response = client.get(url, follow_redirects=False)
        else:
            response = client.post(url, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, f"{method} {url}: {response.status_code}"
        assert response.headers["location"].startswith("/sign-in?next="), f"{method} {url}"


def test_admin_form_without_csrf_token_is_refused(client: TestClient, db: Session, admin: User) -> None:
    response = client.post(
        "/admin/cycles/new",
        data={"name": "2027/28", "opens_day": "1", "opens_month": "4", "opens_year": "2027"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert count(db, Cycle) == 0


# --- Overview and cycles -------------------------------------------------------------------------


def test_overview_counts_boards_that_opened_and_submitted_without_showing_ratings(
    client: TestClient, db: Session, admin: User
) -> None:
    cycle = make_cycle(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31))
    earlier = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
    rater = make_user(db, "ned@airedale.example.org", role="board_member", trust="RCF")
    assessments = [
        Assessment(
            organisation_id=organisation(db, code).id, cycle_id=cycle.id, framework_id=cycle.framework_id
        )
        for code in ("RCF", "RBS", "RTK")
    ]
    assessments[2].status = "submitted"
    db.add_all(assessments)
    db.flush()
    criterion = db.exec(select(Criterion).where(Criterion.framework_id == cycle.framework_id)).first()
    assert criterion is not None
    db.add(
        Rating(
            assessment_id=assessments[0].id,
            respondent_id=rater.id,
            criterion_id=criterion.id,
            level=3,
            comment="Confidential-comment-by-a-member",
        )
    )
    db.commit()

    page = client.get("/admin").text
    row = re.search(rf'<tr class="nhsuk-table__row" id="cycle-{cycle.id}">.*?</tr>', page, re.S)
    assert row, "no row for the cycle"
    assert re.search(r'data-count="opened">3<', row.group(0))
    assert re.search(r'data-count="submitted">1<', row.group(0))
    earlier_row = re.search(rf'id="cycle-{earlier.id}">.*?</tr>', page, re.S)
    assert earlier_row and re.search(r'data-count="opened">0<', earlier_row.group(0))
    assert "Confidential-comment-by-a-member" not in page


def open_cycle_form(client: TestClient, **fields: str):  # noqa: ANN201 - a response
    form = {
        "name": "2027/28",
        "opens_day": "1",
        "opens_month": "4",
        "opens_year": "2027",
        "closes_day": "31",
        "closes_month": "3",
        "closes_year": "2028",
        "framework": "race-equality-board-v1",
        **fields,
    }
    return post_form(client, "/admin/cycles/new", "/admin/cycles/new", **form)


def test_admin_opens_a_cycle(client: TestClient, db: Session, admin: User) -> None:
    response = open_cycle_form(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin?done=cycle_opened"
    cycle = fresh(db, select(Cycle).where(Cycle.name == "2027/28"))[0]
    framework = fresh(db, select(FrameworkRecord).where(FrameworkRecord.id == cycle.framework_id))[0]
    assert (cycle.opens_on, cycle.closes_on, framework.key) == (
        date(2027, 4, 1),
        date(2028, 3, 31),
        "race-equality-board-v1",
    )
    overview = client.get(response.headers["location"]).text
    assert "Cycle opened." in overview and f'id="cycle-{cycle.id}"' in overview
    (opened,) = audit_events(db, "cycle.opened")
    assert opened.actor_id == admin.id  # who opened it, not just that it was opened


def test_bad_cycle_name_shows_the_error_summary_keeps_what_was_typed_and_creates_nothing(
    client: TestClient, db: Session, admin: User
) -> None:
    response = open_cycle_form(client, name="2027/29", closes_day="30")
    assert response.status_code == 422
    summary = error_summary(response.text)
    assert 'href="#name"' in summary and "financial year" in summary
    assert 'value="2027/29"' in response.text and 'value="30"' in response.text
    assert re.search(r'value="race-equality-board-v1"\s+checked', response.text)
    assert count(db, Cycle) == 0


def test_cycle_that_closes_before_it_opens_is_refused(client: TestClient, db: Session, admin: User) -> None:
    response = open_cycle_form(client, closes_year="2027", closes_month="3")
    assert response.status_code == 422
    summary = error_summary(response.text)
    assert 'href="#closes_day"' in summary
    assert "The date the cycle closes must be after the date it opens" in summary
    assert count(db, Cycle) == 0


def test_not_a_real_date_is_refused(client: TestClient, db: Session, admin: User) -> None:
    response = open_cycle_form(client, opens_day="31", opens_month="2")
    assert response.status_code == 422
    assert 'href="#opens_day"' in error_summary(response.text)
    assert count(db, Cycle) == 0


def test_a_cycle_name_already_used_becomes_an_error_on_the_name(
    client: TestClient, db: Session, admin: User
) -> None:
    make_cycle(db, "2027/28", date(2027, 4, 1), date(2028, 3, 31))
    response = open_cycle_form(client, opens_day="2")
    assert response.status_code == 422
    summary = error_summary(response.text)
    assert 'href="#name"' in summary and "Cycle 2027/28 already exists" in summary
    assert fresh(db, select(Cycle.opens_on)) == [date(2027, 4, 1)]


# --- Trusts --------------------------------------------------------------------------------------


def test_trusts_page_finds_a_trust_and_offers_to_reopen_its_submitted_assessment(
    client: TestClient, db: Session, admin: User
) -> None:
    earlier = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
    current = make_cycle(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31))
    rcf = organisation(db, "RCF")
    submitted = Assessment(
        organisation_id=rcf.id, cycle_id=earlier.id, framework_id=earlier.framework_id, status="submitted"
    )
    in_progress = Assessment(organisation_id=rcf.id, cycle_id=current.id, framework_id=current.framework_id)
    db.add_all([submitted, in_progress])
    db.commit()

    page = client.get("/admin/trusts", params={"q": "rcf"}).text
    rows = re.findall(r'<tr class="nhsuk-table__row" id="trust-([A-Z0-9]+)">', page)
    assert rows == ["RCF"]
    assert f'href="/admin/assessments/{submitted.id}/reopen"' in page
    assert f"/admin/assessments/{in_progress.id}/reopen" not in page
    assert "In progress" in page and "Submitted" in page

    by_name = client.get("/admin/trusts", params={"q": "airedale"}).text
    assert re.findall(r'id="trust-([A-Z0-9]+)"', by_name) == ["RCF"]
    elsewhere = client.get("/admin/trusts", params={"q": "airedale", "region": "London"}).text
    assert 'id="trust-RCF"' not in elsewhere
    assert "No trusts match your search" in elsewhere


def test_trusts_page_filters_by_type(client: TestClient, db: Session, admin: User) -> None:
    page = client.get("/admin/trusts", params={"trust_type": "ambulance"}).text
    codes = set(re.findall(r'id="trust-([A-Z0-9]+)"', page))
    ambulance = {
        o.ods_code for o in fresh(db, select(Organisation).where(Organisation.trust_type == "ambulance"))
    }
    assert codes == ambulance and codes


def test_one_search_result_reads_1_trust_matches(client: TestClient, db: Session, admin: User) -> None:
    page = client.get("/admin/trusts", params={"q": "RCF"}).text
    assert "1 trust matches your search" in page


def test_the_trust_list_comes_25_at_a_time_and_every_trust_is_on_a_page(
    client: TestClient, db: Session, admin: User
) -> None:
    every = {o.ods_code for o in fresh(db, select(Organisation))}
    seen: list[str] = []
    href = "/admin/trusts"
    for _page in range(20):
        page = client.get(href).text
        rows = re.findall(r'id="trust-([A-Z0-9]+)"', page)
        assert 0 < len(rows) <= 25
        seen += rows
        following = re.search(r'<a href="([^"]+)" class="nhsuk-pagination__next" rel="next"', page)
        if following is None:
            break
        href = following.group(1).replace("&amp;", "&")
    assert sorted(seen) == sorted(every) and len(seen) == len(set(seen))
    assert f"{len(every)} trusts: showing 1 to 25" in client.get("/admin/trusts").text
    # The search keeps its words from page to page.
    acute = client.get("/admin/trusts", params={"trust_type": "acute", "page": "2"}).text
    assert "trust_type=acute&amp;page=3" in acute or "trust_type=acute&amp;page=1" in acute


GOOD_CSV = (
    "ods_code,name,trust_type,region,size_band\n"
    "ZZT01,Test Valley NHS Trust,community,South East,under_3000\n"
    "RCF,Airedale and Craven NHS Foundation Trust,acute,North East and Yorkshire,3000_6999\n"
)


@pytest.mark.changes_reference_data
def test_csv_with_one_bad_row_imports_nothing_and_lists_the_row(
    client: TestClient, db: Session, admin: User
) -> None:
    bad = GOOD_CSV + "ZZT02,Another NHS Trust,hospital,London,\n"
    response = upload(
        client,
        "/admin/trusts/import",
        "/admin/trusts/import",
        "csv_file",
        "trusts.csv",
        bad.encode(),
        "text/csv",
    )
    assert response.status_code == 422
    summary = error_summary(response.text)
    assert "Line 4: the trust type" in summary and "hospital" in summary
    assert "is not one we know (use one of: Acute, Acute specialist," in summary
    assert "Nothing has been imported" in summary
    assert fresh(db, select(Organisation).where(Organisation.ods_code.in_(["ZZT01", "ZZT02"]))) == []
    assert fresh(db, select(Organisation.name).where(Organisation.ods_code == "RCF")) == [
        "Airedale NHS Foundation Trust"
    ]
    assert audit_events(db, "organisations.imported") == []


@pytest.mark.changes_reference_data
def test_csv_accepts_the_trust_types_regions_and_sizes_people_type(
    client: TestClient, db: Session, admin: User
) -> None:
    typed = (
        "ods_code,name,trust_type,region,size_band\n"
        "ZZT01,A New NHS Trust,Acute,london,Under 3000 staff\n"
        "ZZT02,Another NHS Trust,Mental health & community,North East and Yorkshire,12000_plus\n"
        "ZZT03,A Third NHS Trust,combined acute and community,South West,\n"
    )
    response = upload(
        client,
        "/admin/trusts/import",
        "/admin/trusts/import",
        "csv_file",
        "trusts.csv",
        typed.encode(),
        "text/csv",
    )
    assert response.status_code == 200, response.text
    rows = fresh(
        db,
        select(Organisation.ods_code, Organisation.trust_type, Organisation.region, Organisation.size_band)
        .where(Organisation.ods_code.in_(["ZZT01", "ZZT02", "ZZT03"]))
        .order_by(Organisation.ods_code),
    )
    assert [tuple(r) for r in rows] == [
        ("ZZT01", "acute", "London", "under_3000"),
        ("ZZT02", "mental_health_and_community", "North East and Yorkshire", "12000_plus"),
        ("ZZT03", "combined_acute_community", "South West", None),
    ]


@pytest.mark.changes_reference_data
def test_good_csv_imports_and_says_how_many_were_new_and_updated(
    client: TestClient, db: Session, admin: User
) -> None:
    response = upload(
        client,
        "/admin/trusts/import",
        "/admin/trusts/import",
        "csv_file",
        "trusts.csv",
        GOOD_CSV.encode(),
        "text/csv",
    )
    assert response.status_code == 200, response.text
    assert h1(response.text) == "2 organisations imported (1 new, 1 updated)"
    new_trust = fresh(db, select(Organisation).where(Organisation.ods_code == "ZZT01"))[0]
    assert (new_trust.name, new_trust.peer_type, new_trust.size_band) == (
        "Test Valley NHS Trust",
        "non_acute",
        "under_3000",
    )
    assert fresh(db, select(Organisation.name).where(Organisation.ods_code == "RCF")) == [
        "Airedale and Craven NHS Foundation Trust"
    ]
    (event,) = audit_events(db, "organisations.imported")
    assert event.actor_id == admin.id
    assert event.details["added"] == 1 and event.details["updated"] == 1


def test_import_without_a_file_asks_for_one(client: TestClient, db: Session, admin: User) -> None:
    response = post_form(client, "/admin/trusts/import", "/admin/trusts/import")
    assert response.status_code == 422
    assert 'href="#csv_file"' in error_summary(response.text)


# --- Frameworks ----------------------------------------------------------------------------------


def test_frameworks_page_lists_the_loaded_framework_and_its_cycles(
    client: TestClient, db: Session, admin: User
) -> None:
    make_cycle(db, "2026/27")
    page = client.get("/admin/frameworks").text
    row = re.search(r'id="framework-race-equality-board-v1">.*?</tr>', page, re.S)
    assert row and "2026/27" in row.group(0)
    v1_id = db.exec(select(FrameworkRecord.id).where(FrameworkRecord.key == "race-equality-board-v1")).one()
    criteria = len(db.exec(select(Criterion.id).where(Criterion.framework_id == v1_id)).all())
    assert f">{criteria}<" in row.group(0)
    assert "python -m api framework load" in page


def test_framework_check_lists_the_loaders_located_errors(
    client: TestClient, db: Session, admin: User
) -> None:
    data = yaml.safe_load(SHIPPED_FRAMEWORK.read_text(encoding="utf-8"))
    del data["sections"][0]["criteria"][1]["descriptors"][3]
    data["sections"][2]["criteria"][0]["colour"] = "blue"
    broken = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    with pytest.raises(Exception) as caught:
        parse_framework(broken, "broken.yaml")
    expected = caught.value.errors  # type: ignore[attr-defined]
    assert len(expected) == 2

    frameworks_before = count(db, FrameworkRecord)
    response = upload(
        client,
        "/admin/frameworks/check",
        "/admin/frameworks",
        "framework_file",
        "broken.yaml",
        broken.encode(),
        "application/yaml",
    )
    assert response.status_code == 422
    summary = error_summary(response.text)
    for located in expected:
        assert str(escape(located)) in summary
    assert "descriptors: missing a descriptor for level 3" in summary
    assert h1(response.text) == "broken.yaml has 2 problems"
    assert count(db, FrameworkRecord) == frameworks_before


def test_framework_check_says_the_shipped_file_is_valid(client: TestClient, admin: User) -> None:
    doc = parse_framework(SHIPPED_FRAMEWORK.read_text(encoding="utf-8"))
    criteria = sum(len(section.criteria) for section in doc.sections)
    response = upload(
        client,
        "/admin/frameworks/check",
        "/admin/frameworks",
        "framework_file",
        SHIPPED_FRAMEWORK.name,
        SHIPPED_FRAMEWORK.read_bytes(),
        "application/yaml",
    )
    assert response.status_code == 200, response.text
    assert f"Valid: {len(doc.sections)} sections, {criteria} criteria" in response.text
    assert "already loaded, with exactly this content" in response.text


# --- People with platform roles ------------------------------------------------------------------


def invite(client: TestClient, **fields: str):  # noqa: ANN201 - a response
    form = {"email": "", "name": "", "role": "", **fields}
    return post_form(client, "/admin/people/invite", "/admin/people/invite", **form)


def invitation_path(db: Session, address: str) -> str:
    (email,) = fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == address))
    match = INVITATION_LINK.search(email.body)
    assert match, "no invitation link in the email"
    return match.group(1)


def test_inviting_an_analyst_emails_a_one_time_link_for_seven_days(
    client: TestClient, db: Session, admin: User
) -> None:
    response = invite(client, email="Sam.Analyst@Example.org", name="Sam  Analyst", role="sector_analyst")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/people?done=invited"
    (user,) = fresh(db, select(User).where(User.email == "sam.analyst@example.org"))
    assert (user.name, user.platform_role, user.password_hash) == ("Sam Analyst", "sector_analyst", None)
    (link,) = fresh(db, select(OneTimeToken).where(OneTimeToken.user_id == user.id))
    assert (link.purpose, link.organisation_id, link.used_at) == ("invitation", None, None)
    assert link.expires_at - link.created_at == timedelta(days=7)
    (email,) = fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == user.email))
    assert INVITATION_LINK.search(email.body)
    assert "sector analyst" in email.body and "two-factor" in email.body
    (event,) = audit_events(db, "platform_role.invited")
    assert (event.actor_id, event.object_id, event.details["role"]) == (admin.id, user.id, "sector_analyst")
    people = client.get(response.headers["location"]).text
    assert "Invitation sent." in people
    row = re.search(rf'id="person-{user.id}">.*?</tr>', people, re.S)
    assert row and "Sector analyst" in row.group(0) and "Invited" in row.group(0)


def test_invited_analyst_accepts_the_link_and_has_a_sector_analyst_account(
    client: TestClient, browser: TestClient, db: Session, admin: User
) -> None:
    assert (
        invite(client, email="sam.analyst@example.org", name="Sam Analyst", role="sector_analyst").status_code
        == 303
    )
    path = invitation_path(db, "sam.analyst@example.org")
    form = {
        "name": "Sam Analyst",
        "password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        "csrf_token": page_csrf(browser, "/forgot-password"),
    }
    response = browser.post(path, data=form)
    assert response.status_code == 200, response.text
    (user,) = fresh(db, select(User).where(User.email == "sam.analyst@example.org"))
    assert user.platform_role == "sector_analyst" and user.password_hash is not None
    # The link works once.
    again = browser.post(path, data={**form, "csrf_token": page_csrf(browser, "/forgot-password")})
    assert again.status_code == 410
    # They sign in with their new password and must set up two-factor before seeing the sector.
    sign_in(browser, user.email, NEW_PASSWORD)
    sector = browser.get("/sector", follow_redirects=False)
    assert sector.status_code == 303 and sector.headers["location"] == "/account/two-factor/set-up"


def test_platform_invitation_page_names_the_role(
    client: TestClient, browser: TestClient, db: Session, admin: User
) -> None:
    invite(client, email="sam.analyst@example.org", name="Sam Analyst", role="sector_analyst")
    response = browser.get(invitation_path(db, "sam.analyst@example.org"))
    assert response.status_code == 200
    assert "Sector analyst" in response.text


def test_invite_errors_keep_what_was_typed_and_invite_nobody(
    client: TestClient, db: Session, admin: User
) -> None:
    response = invite(client, email="not an email", name="Sam Analyst")
    assert response.status_code == 422
    summary = error_summary(response.text)
    assert 'href="#email"' in summary and 'href="#role"' in summary
    assert 'value="not an email"' in response.text and 'value="Sam Analyst"' in response.text
    assert fresh(db, select(User).where(User.name == "Sam Analyst")) == []
    assert count(db, OutboxEmail) == 0


def test_invite_form_says_what_is_missing_in_the_forms_order(
    client: TestClient, db: Session, admin: User
) -> None:
    blank = invite(client, email="   ", name="  ", role="king")
    assert blank.status_code == 422
    summary = error_summary(blank.text)
    messages = ("Enter their email address", "Enter their full name", "Select their role")
    assert all(message in summary for message in messages), summary
    assert [summary.index(message) for message in messages] == sorted(summary.index(m) for m in messages)
    too_long = invite(client, email="sam@example.org", name="S" * 121, role="sector_analyst")
    assert too_long.status_code == 422
    assert "Name must be 120 characters or fewer" in error_summary(too_long.text)
    assert count(db, OutboxEmail) == 0


def test_inviting_someone_who_already_has_the_role_is_refused(
    client: TestClient, db: Session, admin: User
) -> None:
    make_user(db, "sam.analyst@example.org", platform_role="sector_analyst", name="Sam Analyst")
    response = invite(client, email="sam.analyst@example.org", name="Sam Analyst", role="platform_admin")
    assert response.status_code == 409
    assert "already a sector analyst" in error_summary(response.text)
    assert fresh(db, select(User.platform_role).where(User.email == "sam.analyst@example.org")) == [
        "sector_analyst"
    ]


def test_removing_a_platform_role_ends_their_sessions_and_tokens(
    client: TestClient, browser: TestClient, db: Session, admin: User, settings: Settings
) -> None:
    analyst = make_user(db, "sam.analyst@example.org", platform_role="sector_analyst", name="Sam Analyst")
    sign_in_with_second_factor(browser, db, analyst.email)
    issue_api_token(db, analyst, settings)
    db.commit()
    assert browser.get("/account", follow_redirects=False).status_code == 200

    confirm = client.get(f"/admin/people/{analyst.id}/remove")
    response = client.post(
        f"/admin/people/{analyst.id}/remove",
        data={"csrf_token": csrf_from(confirm.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/people?done=removed"
    assert fresh(db, select(User.platform_role).where(User.id == analyst.id)) == [None]
    assert fresh(db, select(WebSession).where(WebSession.user_id == analyst.id)) == []
    assert fresh(db, select(ApiToken).where(ApiToken.user_id == analyst.id)) == []
    signed_out = browser.get("/account", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/sign-in")
    (event,) = audit_events(db, "platform_role.removed")
    assert (event.actor_id, event.object_id, event.details["role"]) == (
        admin.id,
        analyst.id,
        "sector_analyst",
    )
    # The admin who removed it is still signed in.
    assert client.get("/admin").status_code == 200


def test_admin_cannot_remove_their_own_role(client: TestClient, db: Session, admin: User) -> None:
    make_user(db, "other.admin@example.org", platform_role="platform_admin")
    response = post_form(client, f"/admin/people/{admin.id}/remove", "/admin/people/invite")
    assert response.status_code == 409
    assert "You cannot remove your own platform role" in error_summary(response.text)
    assert fresh(db, select(User.platform_role).where(User.id == admin.id)) == ["platform_admin"]
    assert client.get("/admin").status_code == 200
    assert audit_events(db, "platform_role.removed") == []


def test_last_platform_admin_who_can_sign_in_keeps_the_role(db: Session) -> None:
    """Only reachable in a race: two admins removing each other at the same moment. By the time the
    second request runs, the first has taken its actor's role away, so its target is the last admin."""
    first = make_user(db, "first.admin@example.org", platform_role="platform_admin")
    second = make_user(db, "second.admin@example.org", platform_role="platform_admin")
    # Invited but never accepted: cannot sign in, so does not keep the service running.
    make_user(db, "invited.admin@example.org", platform_role="platform_admin", password=None)
    first.platform_role = None
    db.add(first)
    db.commit()
    with pytest.raises(Conflict, match="last platform admin"):
        service.remove_platform_role(db, user=second, actor=first)
    db.rollback()
    assert fresh(db, select(User.platform_role).where(User.id == second.id)) == ["platform_admin"]


def test_people_page_shows_role_two_factor_and_status(client: TestClient, db: Session, admin: User) -> None:
    invited = make_user(db, "sam.analyst@example.org", platform_role="sector_analyst", password=None)
    page = client.get("/admin/people").text
    admin_row = re.search(rf'id="person-{admin.id}">.*?</tr>', page, re.S)
    invited_row = re.search(rf'id="person-{invited.id}">.*?</tr>', page, re.S)
    assert admin_row and invited_row
    assert "Platform admin" in admin_row.group(0) and 'data-two-factor="on"' in admin_row.group(0)
    assert "Active" in admin_row.group(0) and "Remove role" not in admin_row.group(0)
    assert "Sector analyst" in invited_row.group(0) and 'data-two-factor="off"' in invited_row.group(0)
    assert "Invited" in invited_row.group(0) and f"/admin/people/{invited.id}/remove" in invited_row.group(0)


def test_admin_invites_the_first_chair_of_a_trust_from_the_trust_list(
    client: TestClient, db: Session, admin: User, browser: TestClient
) -> None:
    listed = client.get("/admin/trusts", params={"q": "RCF"}).text
    assert 'href="/admin/trusts/RCF/invite-chair"' in listed
    page = client.get("/admin/trusts/RCF/invite-chair")
    assert h1(page.text) == "Invite the chair"
    token = csrf_from(page.text)
    empty = client.post("/admin/trusts/RCF/invite-chair", data={"csrf_token": token, "email": "", "name": ""})
    assert empty.status_code == 422 and "Enter their email address" in error_summary(empty.text)
    response = client.post(
        "/admin/trusts/RCF/invite-chair",
        data={"csrf_token": token, "email": "Nia.Chair@Example.org", "name": "Nia Chair"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "Invitation sent to the chair" in client.get(response.headers["location"]).text
    (user,) = fresh(db, select(User).where(User.email == "nia.chair@example.org"))
    from api.accounts.models import Membership

    (membership,) = fresh(db, select(Membership).where(Membership.user_id == user.id))
    assert (membership.role, membership.organisation_id) == ("chair", organisation(db, "RCF").id)
    (email,) = fresh(db, select(OutboxEmail).where(OutboxEmail.to_address == user.email))
    path = INVITATION_LINK.search(email.body).group(1)  # type: ignore[union-attr]
    assert browser.get(path).status_code == 200
    # Once the trust has a chair, the link goes and a second chair is refused.
    assert (
        'href="/admin/trusts/RCF/invite-chair"' not in client.get("/admin/trusts", params={"q": "RCF"}).text
    )
    again = client.post(
        "/admin/trusts/RCF/invite-chair",
        data={"csrf_token": token, "email": "other.chair@example.org", "name": "Other Chair"},
    )
    assert again.status_code == 409 and "already has a chair (Nia Chair)" in again.text
    assert client.get("/admin/trusts/NOPE/invite-chair").status_code == 404
