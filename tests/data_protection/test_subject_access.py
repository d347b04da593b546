"""Subject access: a person downloads everything the service holds about them, from their account
page (session cookie) or the API (bearer token). Another member's ratings are never in it."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.assessments.helpers import Board
from tests.factories import sign_in


def test_the_api_gives_a_member_their_own_ratings_comments_and_headline_and_nobody_elses(
    board: Board, rated: int
) -> None:
    me = board.neds[0]  # rater 1
    response = board.get("/api/v1/me/data", me)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["profile"]["email"] == me.email and data["profile"]["name"] == me.name
    assert [(m["organisation_code"], m["role"]) for m in data["memberships"]] == [("RCF", "board_member")]
    keys = board.criterion_keys[:3]
    assert sorted(r["criterion"] for r in data["individual_ratings"]) == sorted(keys)
    assert {r["comment"] for r in data["individual_ratings"]} == {
        f"Comment from rater 1 on {k}" for k in keys
    }
    assert [h["headline_score"] for h in data["headline_answers"]] == [4]
    text = response.text
    for n in (0, 2, 3, 4, 5, 6):
        assert f"Comment from rater {n} " not in text
    # Their own events are there (the token they signed in with is listed), other members' are not.
    assert data["api_tokens"]
    assert board.neds[1].email not in text and board.chair.email not in text


def test_the_download_needs_a_signed_in_person(client: TestClient) -> None:
    assert client.get("/api/v1/me/data").status_code == 401
    page = client.get("/account/data", follow_redirects=False)
    assert page.status_code in (302, 303) and "/sign-in" in page.headers["location"]


def test_the_account_page_links_to_a_json_download_with_the_members_own_ratings(
    board: Board, rated: int
) -> None:
    client = board.client
    me = board.neds[2]  # rater 3
    sign_in(client, me.email)
    account = client.get("/account")
    assert 'href="/account/data"' in account.text
    response = client.get("/account/data")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith('attachment; filename="my-data-')
    data = json.loads(response.content)
    assert {r["comment"] for r in data["individual_ratings"]} == {
        f"Comment from rater 3 on {k}" for k in board.criterion_keys[:3]
    }
    assert "Comment from rater 1 " not in response.text
    # The page's own sign-in is in their history; the download itself is audited.
    assert any(event["action"] == "sign_in" for event in data["sign_in_history"])
    again = client.get("/account/data").json()
    assert any(event["action"] == "personal_data.downloaded" for event in again["audit_events"])
