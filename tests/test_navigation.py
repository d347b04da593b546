"""The header and the home page: a way to sign in from `/`, and one current item in the navigation."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import add_membership, make_user, sign_in


def current_items(html: str) -> list[str]:
    return re.findall(r'<a class="nhsuk-header__navigation-link" href="([^"]+)"[^>]*aria-current', html)


def link(html: str, css_class: str, href: str, text: str) -> bool:
    return bool(re.search(rf'<a class="{css_class}"[^>]*href="{href}"[^>]*>\s*{text}\s*</a>', html))


def test_home_page_offers_a_sign_in_button_and_a_header_link(client: TestClient) -> None:
    html = client.get("/").text
    assert link(html, "nhsuk-button", "/sign-in", "Sign in"), "no Sign in button on the page"
    assert re.search(
        r'<a class="nhsuk-header__account-link"[^>]*href="/sign-in"[^>]*>(?:(?!</a>).)*Sign in\s*</a>',
        html,
        re.S,
    ), "no Sign in link in the header"


def test_home_page_sends_a_signed_in_member_to_their_board(client: TestClient, db: Session) -> None:
    make_user(db, "jo.chair@example.org", role="chair", trust="RCF")
    sign_in(client, "jo.chair@example.org")
    landed = client.get("/", follow_redirects=False)
    assert landed.status_code == 303 and landed.headers["location"] == "/trusts/RCF"
    html = client.get("/trusts/RCF").text
    assert 'href="/sign-in"' not in html


def test_your_board_alone_is_current_for_a_member_of_two_boards(client: TestClient, db: Session) -> None:
    user = make_user(db, "sam.ned@example.org", role="board_member", trust="RCF")
    add_membership(db, user, "RBS", "board_member")
    sign_in(client, "sam.ned@example.org")
    trust = client.get("/trusts").text
    board = re.search(r'href="(/trusts/R[A-Z]+)"[^>]*>\s*Your board', trust) or re.search(
        r'href="(/trusts/R[A-Z]+)"', trust
    )
    path = board.group(1)
    assert current_items(client.get(path).text) == [path]
    assert current_items(client.get("/trusts").text) == ["/trusts"]
