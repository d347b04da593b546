"""Issue 5's journey in Chromium: a member rates a section with autosave, the chair agrees and submits."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect
from sqlmodel import select

from api.assessments.models import ConsensusRating, Rating
from tests.e2e.conftest import Board, sign_in

SAVED = re.compile(r"Saved at \d\d:\d\d")
# What the member chooses for the criteria of the first section, in order ("unknown": not yet known).
MEMBER_LEVELS = ("3", "unknown", "1", "4", "0")
COMMENT = "The board reviewed the WRES data in May, but no objective was set."


def autosave_status(page: Page, key: str):  # noqa: ANN201 - a Playwright locator
    return page.locator(f"#autosave-{key}")


def expect_saved(page: Page, key: str, version: int) -> None:
    """The autosave fragment came back: the new version is in the form and the time is shown."""
    status = autosave_status(page, key)
    expect(status.locator(f"input[name='version__{key}']")).to_have_value(str(version))
    expect(status).to_contain_text(SAVED)
    expect(status.locator(".app-autosave--error")).to_have_count(0)


def open_first_section(page: Page, board: Board) -> str:
    """From the trust's home page to the task list, then the first section. Returns its key."""
    page.get_by_role("link", name="2026/27").click()
    expect(page).to_have_url(re.compile(rf"{board.url()}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("2026/27 race equality self-assessment")
    first = board.sections[0]
    page.locator(f"a[href='{board.url('/sections/' + first)}']").click()
    expect(page).to_have_url(re.compile(rf"/sections/{first}$"))
    # htmx is ready only once the page has loaded: a choice made before that would not be posted.
    page.wait_for_load_state("load")
    return first


def test_a_member_rates_a_whole_section_with_autosave_and_sees_it_after_a_reload(
    page: Page, board: Board
) -> None:
    sign_in(page, board.ned)
    section = open_first_section(page, board)
    criteria = board.in_section(section)
    assert len(criteria) >= 3
    chosen = {c.key: MEMBER_LEVELS[i % len(MEMBER_LEVELS)] for i, c in enumerate(criteria)}

    for criterion in criteria:
        radio = page.locator(f"input[name='level__{criterion.key}'][value='{chosen[criterion.key]}']")
        radio.check()
        expect_saved(page, criterion.key, 1)
    first = criteria[0].key
    comment = page.locator(f"#comment__{first}")
    comment.fill(COMMENT)
    comment.press("Tab")  # leaving the box is a change: it saves
    expect_saved(page, first, 2)

    page.reload()
    for criterion in criteria:
        expect(
            page.locator(f"input[name='level__{criterion.key}'][value='{chosen[criterion.key]}']")
        ).to_be_checked()
        expect(page.locator(f"input[name='level__{criterion.key}']:checked")).to_have_count(1)
    expect(page.locator(f"#comment__{first}")).to_have_value(COMMENT)

    stored = {
        rating.criterion_id: rating
        for rating in board.query(
            select(Rating).where(
                Rating.assessment_id == board.assessment_id, Rating.respondent_id == board.ned_id
            )
        )
    }
    assert set(stored) == {c.id for c in criteria}
    for criterion in criteria:
        rating = stored[criterion.id]
        want = chosen[criterion.key]
        assert rating.level == (None if want == "unknown" else int(want)), criterion.key
        assert rating.comment == (COMMENT if criterion.key == first else ""), criterion.key

    # Back on the task list, the section shows as completed.
    page.get_by_role("link", name="Back to your assessment").click()
    expect(
        page.get_by_text(f"You have answered {len(criteria)} of {len(board.criteria)} statements")
    ).to_be_visible()


def test_the_chair_agrees_every_statement_and_submits(page: Page, board: Board) -> None:
    sign_in(page, board.chair)
    page.get_by_role("link", name="2026/27").click()
    page.get_by_role("button", name="Agree the board's ratings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agree the board's ratings")
    # While members rate, the chair sees who has not finished, never what anyone chose.
    expect(page.locator(".app-not-finished")).to_contain_text("Nadia Okafor")
    page.get_by_role("button", name="Close rating").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Close rating")
    expect(page.get_by_text("You cannot reopen rating")).to_be_visible()
    page.get_by_role("button", name="Close rating for 2026/27").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agree the board's ratings")
    expect(page.get_by_text("Rating has closed")).to_be_visible()
    agreed: dict[int, int] = {}

    page.get_by_role("link", name=re.compile(r"^1\. ")).click()
    for number, section in enumerate(board.sections, start=1):
        expect(page).to_have_url(re.compile(rf"/consensus/{section}$"))
        criteria = board.in_section(section)
        # Five members have rated every statement and rating has closed: the spread is shown,
        # without names.
        expect(page.locator(f"#{criteria[0].key} table.app-consensus-spread")).to_be_visible()
        for position, criterion in enumerate(criteria):
            level = (number + position) % 5
            block = page.locator(f"section#{criterion.key}")
            block.locator(f"input[name='level'][value='{level}']").check()
            block.get_by_label("Why the board agreed this level").fill(f"Board papers for {criterion.key}.")
            block.get_by_role("button", name="Save agreed level").click()
            # htmx swaps the statement for its saved state.
            expect(block.get_by_text("The agreed level has been saved.")).to_be_visible()
            agreed[criterion.id] = level
        # The section's count and its list of statements follow the saves without a reload.
        expect(page.locator("#consensus-progress")).to_contain_text(f"{len(criteria)} of {len(criteria)}")
        expect(page.locator(".app-consensus-contents li", has_text="– agreed")).to_have_count(len(criteria))
        if number < len(board.sections):
            page.locator("nav.nhsuk-pagination a[rel='next']").click()

    page.get_by_role("link", name="Back to all sections").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agree the board's ratings")
    page.get_by_role("button", name="Sign off and submit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the agreed ratings before you submit")
    expect(page.locator("table.app-consensus-check tbody tr")).to_have_count(len(board.criteria))
    # No evidence was added: the chair signs off with that in view.
    expect(page.get_by_role("heading", name="Before you sign off")).to_be_visible()
    page.get_by_label("The board has seen the points above and agrees to sign off").check()
    page.get_by_role("button", name="Sign off and submit").click()

    panel = page.locator(".nhsuk-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading", level=1)).to_have_text("Assessment submitted")
    expect(panel).to_contain_text("Clare Chairwoman")

    # The chair's own task list now says the answers are locked.
    page.goto(board.url())
    expect(page.locator(".app-status-banner")).to_contain_text("Answers can no longer change")

    assessment = board.assessment()
    assert assessment.status == "submitted"
    assert assessment.submitted_by_id == board.chair_id
    stored = board.query(select(ConsensusRating).where(ConsensusRating.assessment_id == board.assessment_id))
    assert {row.criterion_id: row.level for row in stored} == agreed
    assert all(row.rationale.startswith("Board papers for ") for row in stored)


def test_an_autosave_that_cannot_reach_the_service_says_not_saved_and_keeps_the_answer(
    page: Page, board: Board
) -> None:
    sign_in(page, board.ned)
    section = open_first_section(page, board)
    key = board.in_section(section)[0].key
    ratings = f"**{board.url('/ratings/')}**"

    def unreachable(route: Route) -> None:
        route.abort("connectionrefused")

    def server_error(route: Route) -> None:
        route.fulfill(status=502, body="Bad gateway")

    handlers: list[Callable[[Route], None]] = [unreachable, server_error]
    for value, handler in zip(("2", "3"), handlers, strict=True):
        page.route(ratings, handler)
        radio = page.locator(f"input[name='level__{key}'][value='{value}']")
        radio.check()
        error = autosave_status(page, key).locator(".app-autosave--error")
        expect(error).to_be_visible()
        expect(error).to_have_text(re.compile(r"^Not saved"))
        expect(autosave_status(page, key)).not_to_contain_text("Saved at")
        expect(radio).to_be_checked()
        page.unroute(ratings, handler)
    assert board.query(select(Rating).where(Rating.respondent_id == board.ned_id)) == []

    # When the service can be reached again, the next change saves and the message goes.
    page.locator(f"input[name='level__{key}'][value='4']").check()
    expect_saved(page, key, 1)
    stored = board.query(select(Rating).where(Rating.respondent_id == board.ned_id))
    assert [r.level for r in stored] == [4]
