"""In the browser, at desktop and phone widths: a NED on two boards lands on the chooser and goes to
the board where statements wait; the chair sees who has not finished and sends a reminder. axe finds
no serious or critical problem on any page visited. Screenshots go to SCREENSHOTS for a reviewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import Assessment, Cycle
from api.mail import OutboxEmail
from tests.e2e.conftest import TRUST, Board, blocking_violations
from tests.factories import PASSWORD, add_membership, organisation

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots" / "board-home"
OTHER_TRUST = "RBS"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def look(page: Page, axe: Axe, name: str, width: str) -> None:
    """No serious or critical accessibility problem, no sideways scrolling on a phone; a screenshot."""
    # Checked at rest: the pointer off whatever landed under it after a click, transitions finished.
    page.wait_for_load_state("load")
    page.mouse.move(0, 0)
    page.evaluate("Promise.all(document.getAnimations().map((animation) => animation.finished))")
    assert blocking_violations(axe, page) == [], page.url
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {width}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def sign_in_as(page: Page, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def second_board(board: Board) -> int:
    """The NED also sits on RBS's board, whose 2026/27 assessment is open and untouched."""
    with Session(board.engine) as session:
        ned = session.exec(select(User).where(User.id == board.ned_id)).one()
        add_membership(session, ned, OTHER_TRUST, "board_member")
        cycle = session.exec(select(Cycle)).one()
        other = Assessment(
            organisation_id=organisation(session, OTHER_TRUST).id,
            cycle_id=cycle.id,
            framework_id=cycle.framework_id,
        )
        session.add(other)
        session.commit()
        return other.id  # type: ignore[return-value]


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_ned_on_two_boards_lands_on_the_chooser_and_goes_where_statements_wait(
    new_page,
    board: Board,
    second_board: int,
    axe: Axe,
    width: str,  # noqa: ANN001
) -> None:
    page = new_page()
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    sign_in_as(page, board.ned)
    expect(page).to_have_url(re.compile(r"/trusts$"))
    statements = len(board.criteria)
    expect(page.get_by_text(f"2026/27: {statements} statements waiting for you").first).to_be_visible()
    look(page, axe, "1-chooser", width)
    page.get_by_role("button", name="Alder Hey Children's NHS Foundation Trust").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alder Hey Children's NHS Foundation Trust")
    expect(page.get_by_text(f"{statements} statements waiting for you")).to_be_visible()
    look(page, axe, "2-trust-home-member", width)
    page.get_by_role("button", name="Rate the board").click()
    expect(page).to_have_url(re.compile(rf"/assessments/{second_board}$"))
    look(page, axe, "3-assessment", width)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_chair_sees_who_has_not_finished_and_sends_a_reminder(
    new_page,
    board: Board,
    axe: Axe,
    width: str,  # noqa: ANN001
) -> None:
    page = new_page()
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    sign_in_as(page, board.chair)
    expect(page).to_have_url(re.compile(rf"/trusts/{TRUST}$"))
    expect(page.get_by_role("heading", name="Not finished rating yet")).to_be_visible()
    look(page, axe, "4-trust-home-chair", width)
    page.get_by_role("link", name="Remind members who have not finished").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remind members to finish rating")
    look(page, axe, "5-reminders", width)
    page.get_by_role("button", name="Send a reminder to Nadia Okafor").click()
    expect(page.get_by_text("We have emailed a reminder to Nadia Okafor")).to_be_visible()
    look(page, axe, "6-reminder-sent", width)
    sent = board.query(select(OutboxEmail.to_address))
    assert sent == [board.ned]
