"""The indicators page: a form for the chair and the secretary (errors in the NHS.UK summary, what was
typed kept, a stale save refused), a read-only table for every other member, and the overview link."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.actions.test_action_pages import csrf_of
from tests.factories import sign_in
from tests.indicators.helpers import CHAIR, NED, OTHER_CHAIR, SECRETARY, World, build_world, get, put


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def post(client: TestClient, world: World, data: dict[str, str]):  # noqa: ANN201
    token = csrf_of(client.get(world.page).text)
    return client.post(world.page, data={"version": "0", **data, "csrf_token": token}, follow_redirects=False)


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else None


def test_the_chair_saves_the_form_and_the_page_shows_it(client: TestClient, world: World) -> None:
    sign_in(client, CHAIR)
    response = post(
        client,
        world,
        {
            "wres_2": "1.25",
            "wres_5_bme": "30.4%",  # a percent sign typed in the box is fine
            "wres_9": "-4",
            "hia_1_status": "achieved",
            "hia_1_note": "All board members have EDI objectives",
            "hia_2_status": "",
        },
    )
    assert response.status_code == 303, response.text
    values = get(client, world).json()["values"]
    assert values["wres_2"] == 1.25 and values["wres_5_bme"] == 30.4 and values["wres_9"] == -4
    assert values["hia_1_status"] == "achieved" and values["hia_2_status"] is None
    page = client.get(response.headers["location"]).text
    assert "The indicators have been saved." in page
    assert input_value(page, "wres_2") == "1.25" and input_value(page, "version") == "1"


def test_bad_figures_show_the_error_summary_and_keep_what_was_typed(client: TestClient, world: World) -> None:
    sign_in(client, SECRETARY)
    response = post(
        client, world, {"wres_2": "25", "wres_6_white": "lots", "wres_3": "1.1", "hia_4_note": "Begun"}
    )
    assert response.status_code == 422
    page = response.text
    assert "There is a problem" in page
    assert 'href="#wres_2"' in page and 'href="#wres_6_white"' in page
    assert (
        "Enter WRES indicator 2 as a relative likelihood more than 0 and no more than 20, like 1.25" in page
    )
    assert "Enter WRES indicator 6 for White staff as a percentage from 0 to 100, like 27.5" in page
    assert input_value(page, "wres_2") == "25"
    assert input_value(page, "wres_6_white") == "lots"
    assert input_value(page, "wres_3") == "1.1"
    assert "Begun" in page
    assert get(client, world).json()["version"] == 0


def test_a_stale_save_is_refused_showing_what_is_saved_now(client: TestClient, world: World) -> None:
    sign_in(client, CHAIR)
    token = csrf_of(client.get(world.page).text)  # the chair opens the form at version 0
    assert put(client, world, SECRETARY, wres_2=1.9).status_code == 200
    response = client.post(
        world.page, data={"version": "0", "wres_2": "1.1", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 409
    assert "Someone else saved the indicators while you were editing" in response.text
    assert "What is saved now" in response.text and "Ossian Secretan" in response.text
    assert input_value(response.text, "wres_2") == "1.1"
    assert input_value(response.text, "version") == "1"  # saving again now goes through
    assert get(client, world).json()["values"]["wres_2"] == 1.9


def test_a_member_reads_a_table_and_may_not_post(client: TestClient, world: World) -> None:
    put(client, world, wres_3=1.42, hia_6_status="in_progress", hia_6_note="Zero tolerance campaign")
    sign_in(client, NED)
    page = client.get(world.page)
    assert page.status_code == 200
    assert f'action="{world.page}"' not in page.text and f'action="{world.page}/import"' not in page.text
    assert input_value(page.text, "wres_3") is None
    assert "1.42" in page.text and "In progress" in page.text and "Zero tolerance campaign" in page.text
    assert "Not recorded" in page.text
    assert post(client, world, {"wres_3": "1.0"}).status_code == 403


def test_another_trusts_chair_gets_404(client: TestClient, world: World) -> None:
    sign_in(client, OTHER_CHAIR)
    assert client.get(world.page).status_code == 404


def test_the_overview_links_to_the_page(client: TestClient, world: World) -> None:
    sign_in(client, CHAIR)
    overview = client.get(f"/assessments/{world.assessment_id}").text
    assert f'href="{world.page}"' in overview
    assert "Record the WRES indicators and EDI improvement plan progress" in overview
