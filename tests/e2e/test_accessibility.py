"""axe-core in Chromium finds no serious or critical violation on the pages of the journey (WCAG 2.2 AA).

Each test visits its pages, in the states people meet them in (errors shown, answers saved, spread
shown), collects what axe finds on each, and fails listing every page's violations at once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Cycle
from api.benchmarking.service import refresh_snapshots
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from tests.e2e.conftest import (
    CYCLE,
    TRUST,
    Board,
    blocking_violations,
    describe_violations,
    route_paths,
    sign_in,
)


class Audit:
    """What axe found on each page visited."""

    def __init__(self, axe: Axe, page: Page, app: FastAPI) -> None:
        self.axe, self.page = axe, page
        self.paths = route_paths(app)
        assert "/sign-in" in self.paths, "could not read the app's routes"
        self.found: dict[str, list[dict[str, Any]]] = {}
        self.checked: list[str] = []

    def has_route(self, template: str) -> bool:
        return template in self.paths

    def check(self, name: str, within: str | None = None) -> None:
        """axe on the whole page, or only on the part an htmx swap just changed (`within`, a selector)."""
        self.page.wait_for_load_state("load")
        self.checked.append(name)
        violations = blocking_violations(self.axe, self.page, within)
        if violations:
            self.found[f"{name} ({self.page.url})"] = violations

    def visit(self, name: str, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (
            f"{name}: {path} answered {response and response.status}"
        )
        self.check(name)

    def assert_clean(self) -> None:
        assert not self.found, "axe-core found serious or critical violations:\n\n" + "\n\n".join(
            describe_violations(where, violations) for where, violations in self.found.items()
        )


@pytest.fixture
def audit(axe: Axe, page: Page, live_app: FastAPI) -> Audit:
    return Audit(axe, page, live_app)


def peers_submitted(board: Board, count: int = 6) -> None:
    """Other trusts in RCF's region have submitted, so the benchmarks page draws its charts."""
    with Session(board.engine) as db:
        own = db.exec(select(Organisation).where(Organisation.ods_code == TRUST)).one()
        cycle = db.exec(select(Cycle).where(Cycle.name == CYCLE)).one()
        others = db.exec(
            select(Organisation)
            .where(Organisation.region == own.region, Organisation.id != own.id)
            .order_by(Organisation.ods_code)
            .limit(count)
        ).all()
        assert len(others) == count, f"the reference list has fewer than {count} other trusts in {own.region}"
        for position, organisation in enumerate(others):
            assessment = Assessment(
                organisation_id=organisation.id,
                cycle_id=cycle.id,
                framework_id=cycle.framework_id,
                status="submitted",
            )
            db.add(assessment)
            db.flush()
            for index, section in enumerate([OVERALL_KEY, *board.sections]):
                kind = "overall" if section == OVERALL_KEY else "baf" if section == "baf" else "priority"
                score = ((position + index) % 9) / 2
                db.add(
                    StoredScore(
                        assessment_id=assessment.id, section_key=section, kind=kind, score=score, count=3
                    )
                )
        db.commit()
        refresh_snapshots(db, cycle, 5, today=date.today())
        db.commit()


def agree_everything(board: Board) -> None:
    with Session(board.engine) as db:
        for position, criterion in enumerate(board.criteria):
            db.add(
                ConsensusRating(
                    assessment_id=board.assessment_id,
                    criterion_id=criterion.id,
                    level=position % 5,
                    rationale="Seen in the board papers.",
                    updated_by_id=board.chair_id,
                )
            )
        db.commit()


def test_public_pages(audit: Audit, page: Page, base_url: str) -> None:
    audit.visit("home", "/")
    expect(page.locator(".nhsuk-inset-text")).to_contain_text("provisional wording")
    for path, name in (("/about", "about"), ("/accessibility", "accessibility statement")):
        if audit.has_route(path):
            audit.visit(name, path)
    audit.visit("sign-in", "/sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    audit.check("sign-in with the error summary")
    audit.assert_clean()


def test_a_members_pages(audit: Audit, page: Page, board: Board) -> None:
    peers_submitted(board)
    sign_in(page, board.ned)
    audit.check("trust home")
    audit.visit("task list", board.url())
    first = board.in_section(board.sections[0])
    audit.visit("section rating page", board.url(f"/sections/{board.sections[0]}"))
    evidence = page.locator(f"#criterion-{first[0].key} details")
    expect(evidence.locator("summary")).to_have_text("What evidence would show this?")
    evidence.locator("summary").click()
    expect(evidence.locator("li").first).to_be_visible()  # the evidence prompts
    page.locator(f"input[name='level__{first[0].key}'][value='2']").check()
    expect(page.locator(f"#autosave-{first[0].key}")).to_contain_text("Saved at")
    audit.check("section rating page with an answer saved", f"#criterion-{first[0].key}")
    page.route("**/ratings/**", lambda route: route.abort())
    page.locator(f"input[name='level__{first[1].key}'][value='3']").check()
    expect(page.locator(f"#autosave-{first[1].key} .app-autosave--error")).to_be_visible()
    audit.check("section rating page with an autosave that failed", f"#criterion-{first[1].key}")
    page.unroute("**/ratings/**")
    page.get_by_role("button", name=re.compile(r"^Save and continue")).click()
    expect(page).to_have_url(re.compile(rf"/sections/{board.sections[1]}$"))
    audit.visit("headline question", board.url("/headline"))
    page.get_by_role("button", name=re.compile("Save|Continue")).first.click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    audit.check("headline question with the error summary")
    audit.visit("results", board.url("/results"))
    expect(page.locator(".nhsuk-warning-callout, .nhsuk-card--warning").first).to_contain_text(
        "They will change until the chair signs off"
    )
    audit.visit("benchmarks", board.url("/benchmarks"))
    expect(page.locator("svg").first).to_be_visible()  # the peer charts are drawn
    audit.assert_clean()


def test_the_chairs_pages(audit: Audit, page: Page, board: Board) -> None:
    sign_in(page, board.chair)
    audit.visit("consensus overview while members rate", board.url("/consensus"))
    section = board.sections[0]
    audit.visit("consensus section while members rate", board.url(f"/consensus/{section}"))
    audit.visit("rating deadline", board.url("/rating-deadline"))
    page.get_by_role("button", name="Save the deadline").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    audit.check("rating deadline with an error")
    audit.visit("close rating", board.url("/close-rating"))
    page.get_by_role("button", name="Close rating for 2026/27").click()
    expect(page.get_by_text("Rating has closed")).to_be_visible()
    audit.check("consensus overview after rating closed")
    audit.visit("consensus section with the spread", board.url(f"/consensus/{section}"))
    key = board.in_section(section)[0].key
    expect(page.locator(f"#{key} table.app-consensus-spread")).to_be_visible()
    block = page.locator(f"section#{key}")
    block.get_by_role("button", name="Save agreed level").click()
    expect(block.locator(".nhsuk-error-summary")).to_be_visible()
    audit.check("consensus section with an error", f"section#{key}")
    block.locator("input[name='level'][value='3']").check()
    block.get_by_label("Why the board agreed this level").fill("The board saw the scheme of delegation.")
    block.get_by_role("button", name="Save agreed level").click()
    expect(block.get_by_text("The agreed level has been saved.")).to_be_visible()
    audit.check("consensus section after a save", f"section#{key}")
    # Meeting mode: one statement per screen; the arrow keys move on when nobody is typing.
    audit.visit("meeting mode", board.url(f"/meeting/{key}"))
    expect(page.locator("svg.app-chart--spread")).to_be_visible()
    following = board.in_section(section)[1].key
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(rf"/meeting/{following}$"))
    page.get_by_role("button", name="Save and go to the next statement").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    audit.check("meeting mode with an error")
    page.get_by_label("Why the board agreed this level").fill("typing ← → stays in the box")
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/meeting/{following}$"))
    page.locator("h1").click()
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(re.compile(rf"/meeting/{key}$"))
    audit.visit("submit page, not ready", board.url("/submit"))
    for path, name in ((f"/trusts/{TRUST}/members", "member list"), (f"/trusts/{TRUST}/audit", "audit log")):
        if audit.has_route(path.replace(TRUST, "{ods_code}")):
            audit.visit(name, path)

    with Session(board.engine) as db:
        for row in db.exec(
            select(ConsensusRating).where(ConsensusRating.assessment_id == board.assessment_id)
        ):
            db.delete(row)
        db.commit()
    agree_everything(board)
    audit.visit("submit page", board.url("/submit"))
    page.get_by_label("The board has seen the points above and agrees to sign off").check()
    page.get_by_role("button", name="Sign off and submit").click()
    expect(page.locator(".nhsuk-panel")).to_be_visible()
    audit.check("submitted confirmation")
    audit.visit("results after sign-off", board.url("/results"))
    audit.visit("consensus section after sign-off", board.url(f"/consensus/{section}"))
    audit.assert_clean()
    assert len(audit.checked) >= 9
