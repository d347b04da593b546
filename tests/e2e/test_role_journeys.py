"""Each role's year in Chromium, from `/` to its last step, using only what the pages offer.

The database state each journey needs (other members' ratings, agreed levels already saved, a second
board) is seeded with the factories; in the browser every move after the first `page.goto("/")` is a
click on a link or button the page shows. Each page is taken at 1280 px and checked again at 390 px
(the same page, resized): axe must report no serious or critical violation, the page must not scroll
sideways (WCAG 1.4.10 reflow), and a screenshot of each
width goes to tests/e2e/screenshots/<test name>/NN-step-WIDTH.png for a reviewer (taken before the
check, so a failing page is there to look at).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse, Rating
from api.mail import OutboxEmail
from tests.e2e.conftest import Board, blocking_violations, describe_violations
from tests.factories import PASSWORD, add_membership, make_user, organisation, with_second_factor

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
OTHER_TRUST = "RBS"
OTHER_TRUST_NAME = "Alder Hey Children's NHS Foundation Trust"
RCF_NAME = "Airedale NHS Foundation Trust"


class Journey:
    """One person's walk: each `step` checks the page at both widths and screenshots it."""

    def __init__(self, page: Page, axe: Axe, folder: str) -> None:
        self.page = page
        self.axe = axe
        self.folder = SCREENSHOTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.number = 0

    def step(self, name: str) -> None:
        self.number += 1
        page = self.page
        page.wait_for_load_state("load")
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            # Checked at rest: the pointer off whatever landed under it, transitions finished.
            page.mouse.move(0, 0)
            page.evaluate("Promise.all(document.getAnimations().map((animation) => animation.finished))")
            page.screenshot(
                path=str(self.folder / f"{self.number:02d}-{name}-{size['width']}.png"), full_page=True
            )
            violations = blocking_violations(self.axe, page)
            where = f"step {self.number} ({name}) at {size['width']} px, {page.url}"
            assert violations == [], describe_violations(where, violations)
            # WCAG 1.4.10 reflow: the page never scrolls sideways (a wide table scrolls in its own region).
            sideways = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert sideways <= 0, f"{where} scrolls sideways by {sideways} px"
        page.set_viewport_size(DESKTOP)


@pytest.fixture
def journey(request: pytest.FixtureRequest, axe: Axe) -> Callable[[Page], Journey]:
    return lambda page: Journey(page, axe, request.node.name)


def sign_in_from_home(walk: Journey, email: str, totp_secret: str | None = None) -> None:
    """`/` (the only typed address) → Sign in → the sign-in page → (two-factor) → the landing page."""
    page = walk.page
    page.goto("/")
    walk.step("home")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Sign in"))
    walk.step("sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp_secret is not None:
        page.get_by_label("Enter the 6-digit code from your authenticator app").fill(
            pyotp.TOTP(totp_secret).now()
        )
        walk.step("two-factor")
        page.get_by_role("button", name="Continue").click()


def rate_section(page: Page, board: Board, section: str, level: str) -> None:
    """Choose `level` for each statement of the section; each saves as it is chosen (autosave)."""
    page.wait_for_load_state("load")  # htmx is ready: a choice made before it would not save
    for criterion in board.in_section(section):
        page.locator(f"input[name='level__{criterion.key}'][value='{level}']").check()
        expect(page.locator(f"#autosave-{criterion.key}")).to_contain_text("Saved at")


def agree(board: Board, criterion_ids: list[int], level: int = 2) -> None:
    """The board agreed these statements at an earlier meeting, with its reasons."""
    with Session(board.engine) as session:
        session.add_all(
            ConsensusRating(
                assessment_id=board.assessment_id,
                criterion_id=criterion_id,
                level=level,
                rationale="Agreed at the May board meeting from the WRES report.",
                updated_by_id=board.chair_id,
            )
            for criterion_id in criterion_ids
        )
        session.commit()


def agree_in_section(page: Page, board: Board, section: str, skip: set[str]) -> None:
    """On the section's agreeing page, agree each statement not yet agreed, with a rationale."""
    page.wait_for_load_state("load")  # htmx is ready: each save swaps in its statement
    for criterion in board.in_section(section):
        if criterion.key in skip:
            continue
        block = page.locator(f"section#{criterion.key}")
        block.locator("input[name='level'][value='3']").check()
        block.get_by_label("Why the board agreed this level").fill("The board papers show it in place.")
        block.get_by_role("button", name="Save agreed level").click()
        expect(block.get_by_text("The agreed level has been saved.")).to_be_visible()


# --- The chair ----------------------------------------------------------------------------------------


def test_the_chair_walks_the_year_from_sign_in_to_the_action_plan(
    page: Page, board: Board, journey: Callable[[Page], Journey]
) -> None:
    first = board.sections[0]
    # Every priority but the first was agreed at an earlier meeting: the chair agrees the first today.
    agree(board, [c.id for c in board.criteria if c.section != first])
    walk = journey(page)
    sign_in_from_home(walk, board.chair)
    expect(page.get_by_role("heading", level=1)).to_have_text(RCF_NAME)
    walk.step("board-home")

    page.get_by_role("main").get_by_role("button", name="Rate the board").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2026/27 race equality self-assessment")
    walk.step("assessment")
    page.get_by_role("main").get_by_role("button", name="Start with the opening question").click()
    expect(page).to_have_url(re.compile(r"/headline$"))
    page.wait_for_load_state("load")  # htmx is ready: choosing a number saves it
    page.locator("input[name='score'][value='7']").check()
    expect(page.locator("#autosave-headline")).to_contain_text("Saved at")
    walk.step("opening-question")
    page.get_by_role("button", name="Save and continue").click()
    walk.step("assessment-after-opening-question")
    page.get_by_role("main").get_by_role("button", name=re.compile(r"^Continue with")).click()
    expect(page).to_have_url(re.compile(rf"/sections/{first}$"))
    rate_section(page, board, first, "2")
    walk.step("section-rated")

    page.get_by_role("link", name="Back to your assessment").click()
    walk.step("assessment-after-rating")
    page.get_by_role("button", name="Agree the board's ratings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agree the board's ratings")
    walk.step("agree-while-rating-open")
    page.get_by_role("button", name="Close rating").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close rating")
    walk.step("close-rating")
    page.get_by_role("button", name="Close rating for 2026/27").click()
    expect(page.get_by_text("Rating has closed")).to_be_visible()
    walk.step("agree-after-closing")

    # Meeting mode for the first statement still to agree, on the projector.
    page.get_by_role("button", name="Start meeting mode").click()
    expect(page.locator(".app-meeting__statement")).to_be_visible()
    walk.step("meeting-mode")
    meeting_key = page.locator("form[action*='/meeting/']").get_attribute("action").rsplit("/", 1)[1]
    assert meeting_key in {c.key for c in board.in_section(first)}
    page.locator("input[name='level'][value='2']").check()
    page.get_by_label("Why the board agreed this level").fill("Agreed in the meeting, from the staff survey.")
    page.get_by_role("button", name=re.compile(r"^Save and (go to the next statement|finish)$")).click()
    expect(page.get_by_text(re.compile(r"Statement [\d.]+ saved\."))).to_be_visible()
    walk.step("meeting-mode-saved")

    # The rest of the first priority on its page.
    page.get_by_role("link", name="Back to all sections").last.click()
    page.get_by_role("link", name=re.compile(r"^1\. ")).click()
    expect(page).to_have_url(re.compile(rf"/consensus/{first}$"))
    agree_in_section(page, board, first, skip={meeting_key})
    walk.step("priority-agreed")
    page.get_by_role("link", name="Back to all sections").last.click()
    walk.step("all-agreed")

    page.get_by_role("button", name="Sign off and submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the agreed ratings before you submit")
    walk.step("sign-off-check")
    page.get_by_label("The board has seen the points above and agrees to sign off").check()
    page.get_by_role("button", name="Sign off and submit").click()
    expect(page.locator(".nhsuk-panel").get_by_role("heading", level=1)).to_have_text("Assessment submitted")
    walk.step("submitted")
    assert board.assessment().status == "submitted"

    page.get_by_role("link", name="See your board's results").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("results")
    walk.step("results")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("link", name="Board report (PDF, A4)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    page.get_by_role("main").get_by_role("link", name="The board's action plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("action plan", re.IGNORECASE))
    walk.step("action-plan")


# --- A board member on two boards ---------------------------------------------------------------------


def test_a_ned_on_two_boards_picks_the_board_waiting_rates_and_reads_the_results(
    page: Page, board: Board, journey: Callable[[Page], Journey], base_url: str
) -> None:
    last = board.sections[-1]
    with Session(board.engine) as session:
        ned = session.exec(select(User).where(User.id == board.ned_id)).one()
        add_membership(session, ned, OTHER_TRUST, "board_member")
        cycle = session.exec(select(Cycle)).one()
        # On Alder Hey's board the NED has rated everything: nothing waits there.
        other = Assessment(
            organisation_id=organisation(session, OTHER_TRUST).id,
            cycle_id=cycle.id,
            framework_id=cycle.framework_id,
        )
        session.add(other)
        session.flush()
        session.add_all(
            Rating(assessment_id=other.id, respondent_id=ned.id, criterion_id=c.id, level=2)
            for c in board.criteria
        )
        session.add(
            MemberResponse(assessment_id=other.id, respondent_id=ned.id, headline_score=6, board_role="ned")
        )
        # On RCF's board every priority but the last is rated.
        session.add_all(
            Rating(assessment_id=board.assessment_id, respondent_id=ned.id, criterion_id=c.id, level=2)
            for c in board.criteria
            if c.section != last
        )
        session.commit()
    agree(board, [c.id for c in board.criteria])

    walk = journey(page)
    sign_in_from_home(walk, board.ned)
    expect(page).to_have_url(re.compile(r"/trusts$"))
    # The chooser says where statements wait: RCF, not Alder Hey, where the NED has finished.
    waiting = len(board.in_section(last))
    expect(page.get_by_text(f"2026/27: {waiting} statements left for you")).to_be_visible()
    expect(page.get_by_text("2026/27: You have finished rating")).to_be_visible()
    walk.step("chooser")
    page.get_by_role("button", name=RCF_NAME).click()
    expect(page.get_by_text(f"{len(board.criteria) - len(board.in_section(last))} of")).to_be_visible()
    walk.step("board-home")
    page.get_by_role("main").get_by_role("button", name="Continue rating").click()
    walk.step("assessment")
    # The 0–10 question first: it saves as soon as a number is chosen.
    page.get_by_role("main").get_by_role("button", name="Start with the opening question").click()
    expect(page).to_have_url(re.compile(r"/headline$"))
    page.wait_for_load_state("load")  # htmx is ready: choosing a number saves it
    page.locator("input[name='score'][value='7']").check()
    expect(page.locator("#autosave-headline")).to_contain_text("Saved at")
    walk.step("opening-question")
    headline = board.query(
        select(MemberResponse.headline_score).where(
            MemberResponse.assessment_id == board.assessment_id, MemberResponse.respondent_id == board.ned_id
        )
    )
    assert headline == [7]
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("main").get_by_role("button", name=re.compile(r"^Continue with")).click()
    expect(page).to_have_url(re.compile(rf"/sections/{last}$"))
    rate_section(page, board, last, "3")
    walk.step("last-section-rated")
    page.get_by_role("link", name="Back to your assessment").click()
    expect(page.get_by_text("You have answered every statement")).to_be_visible()
    walk.step("assessment-all-rated")

    # The chair signs off (through the API, as from another device); the NED reads the results.
    with httpx.Client(base_url=base_url) as api:
        signed_in = api.post("/api/v1/auth/token", data={"username": board.chair, "password": PASSWORD})
        token = signed_in.json()["access_token"]
        signed = api.post(
            f"/api/v1/assessments/{board.assessment_id}/submit", headers={"Authorization": f"Bearer {token}"}
        )
        assert signed.status_code == 200, signed.text
    page.get_by_role("link", name=RCF_NAME).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(RCF_NAME)
    walk.step("board-home-after-sign-off")
    page.get_by_role("main").get_by_role("button", name="Read the results").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("results")
    walk.step("results")


# --- The board secretary ------------------------------------------------------------------------------


def test_the_secretary_reminds_who_has_not_finished_and_opens_the_agreeing_page(
    page: Page, board: Board, journey: Callable[[Page], Journey]
) -> None:
    walk = journey(page)
    sign_in_from_home(walk, board.secretary)
    expect(page.get_by_role("heading", name="Not finished rating yet")).to_be_visible()
    walk.step("board-home")
    # The next step, a button-styled link.
    page.get_by_role("main").locator("a", has_text="Remind members who have not finished").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remind members to finish rating")
    walk.step("reminders")
    page.get_by_role("button", name="Send a reminder to Nadia Okafor").click()
    expect(page.get_by_text("We have emailed a reminder to Nadia Okafor")).to_be_visible()
    walk.step("reminder-sent")
    assert board.query(select(OutboxEmail.to_address)) == [board.ned]
    page.get_by_role("link", name="See the 2026/27 assessment").click()
    walk.step("assessment")
    page.get_by_role("button", name="Agree the board's ratings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agree the board's ratings")
    walk.step("agree-ratings")


# --- The sector analyst -------------------------------------------------------------------------------


def test_the_analyst_reads_the_heatmap_by_region_and_downloads_the_csv(
    page: Page, board: Board, journey: Callable[[Page], Journey], db: Session
) -> None:
    analyst = with_second_factor(
        db, make_user(db, "analyst@nhs.example.org", platform_role="sector_analyst", name="Ana Lyst")
    )
    secret = analyst.totp_secret
    db.close()
    walk = journey(page)
    sign_in_from_home(walk, analyst.email, secret)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Race equality across trust boards")
    walk.step("heatmap")
    page.get_by_label("Compare by").select_option(label="Region")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"by=region"))
    walk.step("heatmap-by-region")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    assert Path(download.value.path()).read_text(encoding="utf-8-sig").strip() != ""


# --- The platform admin -------------------------------------------------------------------------------


def test_the_admin_finds_a_trust_and_invites_its_first_chair(
    page: Page, board: Board, journey: Callable[[Page], Journey], db: Session
) -> None:
    admin = with_second_factor(
        db, make_user(db, "admin@nhs.example.org", platform_role="platform_admin", name="Ada Admin")
    )
    secret = admin.totp_secret
    db.close()
    walk = journey(page)
    sign_in_from_home(walk, admin.email, secret)
    walk.step("landing")
    page.get_by_role("navigation").get_by_role("link", name="Admin", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    walk.step("admin")
    page.get_by_role("main").get_by_role("link", name="Trusts", exact=True).first.click()
    walk.step("trusts")
    page.get_by_label("Trust name or ODS code").fill("Alder Hey")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    walk.step("trusts-found")
    page.get_by_role("link", name=f"Invite the chair of {OTHER_TRUST_NAME}").click()
    walk.step("invite-chair")
    page.get_by_label("Email address").fill("new.chair@alderhey.example.org")
    page.get_by_label("Full name").fill("Priya Chair")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to the chair")).to_be_visible()
    walk.step("chair-invited")
    assert board.query(select(OutboxEmail.to_address)) == ["new.chair@alderhey.example.org"]
