"""Browser journeys: the app under uvicorn on the session's test database, driven by Debian's Chromium.

The server and the browser live for the whole session; each test gets a fresh browser context and an
empty database (`clean_database`), and builds its board with the factories.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.assessments.models import Assessment, AssessmentRater, Rating
from api.assessments.repository import criteria_of
from api.main import create_app
from api.settings import Settings
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET
from tests.factories import PASSWORD, make_cycle, make_user, organisation

# A busy two-core CI machine can take more than the default 5 s to settle a page: wait longer
# before calling an assertion failed (a real failure still fails, only later).
expect.set_options(timeout=20_000)

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TRUST = "RCF"
CYCLE = "2026/27"
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# --- The live server ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The Settings the `settings` fixture builds, once for the session (that one is per test)."""
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        frameworks_dir=FRAMEWORKS_DIR,
    )


@pytest.fixture(scope="session")
def live_app(e2e_settings: Settings) -> FastAPI:
    return create_app(e2e_settings)


def route_paths(app: FastAPI) -> set[str]:
    """Every path the app answers, including those of included routers."""
    paths: set[str] = set()

    def walk(routes: list[Any], prefix: str = "") -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                context = getattr(route, "include_context", None)
                walk(route.original_router.routes, prefix + (getattr(context, "prefix", "") or ""))
            elif hasattr(route, "path"):
                paths.add(prefix + route.path)

    walk(app.routes)
    return paths


def free_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1 (serving it leaves no gap for another process)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: FastAPI, sock: socket.socket) -> Iterator[str]:
    """The app under uvicorn in a daemon thread on `sock`; yields its base URL."""
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http="httptools",
        loop="asyncio",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the browser tests' server stopped while starting")
        if time.monotonic() > deadline:
            pytest.fail("the browser tests' server did not start within 15 seconds")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="session")
def live_server(live_app: FastAPI) -> Iterator[str]:
    """The app under uvicorn in a daemon thread, on a free port of 127.0.0.1; yields its base URL."""
    with serving(live_app, free_socket()) as url:
        yield url


@pytest.fixture
def base_url(live_server: str, clean_database: Engine) -> str:
    """The server's URL, for a test that starts from an empty database and leaves nothing behind."""
    return live_server


# --- The browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (in CI the browser tests must run, not be skipped)")
        pytest.skip("Chromium is not installed: apt-get install chromium")
    driver = sync_playwright().start()
    yield driver
    driver.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser, base_url: str) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh browser context (its own cookies): one per person in the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page() -> Page:
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        # Nothing leaves the machine (the NHS.UK stylesheet asks for its fonts from assets.nhs.uk).
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


# --- The board ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    section: str
    key: str
    id: int


@dataclass
class Board:
    """Trust RCF: a chair, four NEDs (three have rated every statement already) and a secretary."""

    engine: Engine
    assessment_id: int
    criteria: list[Criterion]
    chair_id: int
    ned_id: int
    chair: str = "chair@rcf.example.org"
    ned: str = "ned.one@rcf.example.org"
    secretary: str = "secretary@rcf.example.org"

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(c.section for c in self.criteria))

    def in_section(self, section: str) -> list[Criterion]:
        return [c for c in self.criteria if c.section == section]

    def url(self, path: str = "") -> str:
        return f"/assessments/{self.assessment_id}{path}"

    def query(self, statement: Any) -> list[Any]:
        with Session(self.engine, expire_on_commit=False) as session:
            rows = list(session.exec(statement).all())
            session.expunge_all()
        return rows

    def assessment(self) -> Assessment:
        return self.query(select(Assessment).where(Assessment.id == self.assessment_id))[0]


# Levels the five members who rated already chose, by criterion position: they differ (so the spread
# shows a disagreement) and some are "not yet known" (null). Five: the spread needs at least five
# members other than the reader (docs/anonymity.md).
OTHER_LEVELS = (
    (1, 2, 4, 2, 3),
    (3, 3, None, 2, 3),
    (0, 2, 2, 1, 2),
    (4, 3, 1, 3, 3),
    (2, None, 2, 2, 1),
)


@pytest.fixture
def board(db: Session, clean_database: Engine) -> Board:
    today = date.today()
    # 2026/27's real dates, widened so the cycle is open whatever the clock says.
    cycle = make_cycle(
        db,
        CYCLE,
        min(date(2026, 4, 1), today - timedelta(days=30)),
        max(date(2027, 3, 31), today + timedelta(days=30)),
    )
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust=TRUST, name="Clare Chairwoman")
    make_user(db, "secretary@rcf.example.org", role="board_secretary", trust=TRUST, name="Sam Secretary")
    ned = make_user(db, "ned.one@rcf.example.org", trust=TRUST, name="Nadia Okafor")
    others = [
        make_user(db, f"ned.{n}@rcf.example.org", trust=TRUST, name=f"Member {n.title()}")
        for n in ("two", "three", "four", "five", "six")
    ]
    assessment = Assessment(
        organisation_id=organisation(db, TRUST).id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        opened_by_id=chair.id,
    )
    db.add(assessment)
    db.commit()
    # The board when the assessment opened (the service records it when a chair opens one).
    db.add_all(AssessmentRater(assessment_id=assessment.id, user_id=p.id) for p in [chair, ned, *others])
    criteria = [Criterion(s.key, c.key, c.id) for s, c in criteria_of(db, assessment)]
    position_in_section: dict[str, int] = {}
    for criterion in criteria:
        position = position_in_section.get(criterion.section, 0)
        position_in_section[criterion.section] = position + 1
        levels = OTHER_LEVELS[position % len(OTHER_LEVELS)]
        for member, level in zip(others, levels, strict=True):
            comment = f"Seen in the {criterion.section} board papers" if level == 4 else ""
            db.add(
                Rating(
                    assessment_id=assessment.id,
                    respondent_id=member.id,
                    criterion_id=criterion.id,
                    level=level,
                    comment=comment,
                )
            )
    db.commit()
    board = Board(
        engine=clean_database,
        assessment_id=assessment.id,
        criteria=criteria,
        chair_id=chair.id,
        ned_id=ned.id,
    )
    # No transaction left open: on SQLite it would hold the lock the server needs.
    db.close()
    return board


# --- Helpers -------------------------------------------------------------------------------------------


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Through the real sign-in page; lands on the person's trust home page."""
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/trusts/{TRUST}$"))


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


def blocking_violations(axe: Axe, page: Page, within: str | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (or in one part of it)."""
    results = axe.run(page, context=within)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}:"]
    for violation in violations:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:4]:
            lines.append(f"      {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}")
        if len(violation["nodes"]) > 4:
            lines.append(f"      … and {len(violation['nodes']) - 4} more")
    return "\n".join(lines)
