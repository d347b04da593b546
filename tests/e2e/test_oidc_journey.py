"""Single sign-on in the browser: through a real OpenID provider (tests/oidc/provider.mjs) and back,
onto the right board; an unknown person is refused with the plain page; signing out signs out at the
provider too."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.main import create_app
from api.settings import Settings
from tests.e2e.conftest import TRUST, Board, free_socket, serving
from tests.oidc_support import running_provider


@pytest.fixture(scope="module")
def sso_server(e2e_settings: Settings) -> Iterator[str]:
    """The app with single sign-on on, and the provider it is registered with."""
    sock = free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with running_provider(base) as provider:
            settings = e2e_settings.model_copy(
                update={
                    "base_url": base,
                    "oidc_issuer": provider.issuer,
                    "oidc_client_id": provider.client_id,
                    "oidc_client_secret": provider.client_secret,
                }
            )
            with serving(create_app(settings), sock) as url:
                yield url
    finally:
        sock.close()


@pytest.fixture
def sso_page(browser: Browser, sso_server: str, board: Board) -> Iterator[Callable[[], Page]]:
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context(base_url=sso_server, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        # Nothing leaves the machine: the app and the provider are both on 127.0.0.1.
        context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in_at_provider(page: Page, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_role("link", name="Sign in with NHS mail").click()
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Continue").click()


def test_chair_signs_in_with_nhs_mail_lands_on_board_and_signs_out_at_provider(
    sso_page: Callable[[], Page],
) -> None:
    page = sso_page()
    sign_in_at_provider(page, "chair-mfa")
    expect(page).to_have_url(re.compile(rf"/trusts/{TRUST}$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signed-out\?provider=1$"))
    page.get_by_role("link", name="Sign out of that account too").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page).to_have_url(re.compile(r"/signed-out$"))
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()


def test_unknown_person_is_refused_with_the_plain_page(sso_page: Callable[[], Page]) -> None:
    page = sso_page()
    sign_in_at_provider(page, "stranger")
    expect(page.get_by_role("heading", name="You do not have an account yet")).to_be_visible()
    expect(page.get_by_text("Ask your chair or board secretary to invite you")).to_be_visible()
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/sign-in"))
