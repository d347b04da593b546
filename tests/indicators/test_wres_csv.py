"""Importing WRES figures from a CSV file: the obvious header spellings, every row checked, every
problem named by row and column, all or nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.indicators.csv_import import ImportRefused, parse_wres_csv
from tests.actions.test_action_pages import csrf_of
from tests.factories import api_token, bearer, sign_in
from tests.indicators.helpers import CHAIR, NED, World, build_world, get, put

GOOD = """indicator,group,value
1,workforce,24.5
1,senior,12
2,,1.62
3,,0.9
5,White,28.1
5,BME,30.4%
9,,-6.5
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        parse_wres_csv(text)
    return [str(p) for p in refused.value.problems]


def test_a_good_file_gives_each_figure_by_field() -> None:
    assert parse_wres_csv(GOOD) == {
        "wres_1_bme_workforce": 24.5,
        "wres_1_bme_senior": 12.0,
        "wres_2": 1.62,
        "wres_3": 0.9,
        "wres_5_white": 28.1,
        "wres_5_bme": 30.4,
        "wres_9": -6.5,
    }


def test_obvious_header_and_value_spellings_are_read() -> None:
    text = (
        "\ufeffWRES Indicator,Staff group,Figure,Notes\n"
        "WRES 6,BAME,31.2,from the 2026 return\n"
        "Indicator 6,White staff, 25 %,\n"
        "\n"
        "wres-7,Black and minority ethnic,44,\n"
        "7,white,55.5,\n"
        "1,Band 8a and above,9.5,\n"
        "1,Whole workforce,21,\n"
        "4,,\u22121.0,\n"  # a typographic minus: read, then refused as a ratio must be above 0
    )
    with pytest.raises(ImportRefused) as refused:
        parse_wres_csv(text)
    assert [(p.row, p.column) for p in refused.value.problems] == [(9, "value")]
    values = parse_wres_csv(text.replace("\u22121.0", "1.0"))
    assert values == {
        "wres_6_bme": 31.2,
        "wres_6_white": 25.0,
        "wres_7_bme": 44.0,
        "wres_7_white": 55.5,
        "wres_1_bme_senior": 9.5,
        "wres_1_bme_workforce": 21.0,
        "wres_4": 1.0,
    }


def test_a_blank_value_records_the_figure_as_not_recorded() -> None:
    assert parse_wres_csv("indicator,value\n2,\n3,1.1\n") == {"wres_2": None, "wres_3": 1.1}


def test_every_bad_row_is_named_by_row_and_column() -> None:
    text = (
        "indicator,group,value\n"
        "2,,25\n"  # row 2: ratio above 20
        "10,,1\n"  # row 3: no indicator 10
        "5,Asian,20\n"  # row 4: not a group of indicator 5
        "5,BME,lots\n"  # row 5: not a number
        "3,,1.1\n"
        "3,,1.2\n"  # row 7: twice
        "9,,-120\n"  # row 8: out of range
        "2,BME,1.3\n"  # row 9: indicator 2 is one figure
        "8,White,101\n"  # row 10
    )
    assert problems_of(text) == [
        "Row 2, column value: 25 is out of range: WRES indicator 2 must be a relative likelihood more than 0 "
        "and no more than 20, like 1.25",
        "Row 3, column indicator: “10” is not a WRES indicator: enter 1 to 9",
        "Row 4, column group: “Asian” is not a group of WRES indicator 5: enter White or BME",
        "Row 5, column value: “lots” is not a number: WRES indicator 5 for BME staff must be a percentage "
        "from 0 to 100, like 27.5",
        "Row 7, column indicator: WRES indicator 3 is already on row 6: give each figure once",
        "Row 8, column value: -120 is out of range: WRES indicator 9 must be a number of percentage points "
        "from -100 to 100, like -4.2 (negative when the board is less diverse than the workforce)",
        "Row 9, column group: “BME” is not a group of WRES indicator 2: enter blank: it is one figure",
        "Row 10, column value: 101 is out of range: WRES indicator 8 for White staff must be a percentage "
        "from 0 to 100, like 27.5",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Row 1, column indicator: the file is empty"),
        ("ind,val\n2,1.5\n", "Row 1, column indicator: the file needs a column headed indicator"),
        ("indicator,group\n2,\n", "Row 1, column value: the file needs a column headed value"),
        ("indicator,group,value\n", "Row 2, column indicator: the file has a header but no figures"),
    ],
)
def test_a_file_without_the_columns_or_rows_is_refused(text: str, expected: str) -> None:
    assert problems_of(text)[0].startswith(expected)


# --- Through HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
def world(db: Session) -> World:
    return build_world(db)


def upload(client: TestClient, world: World, text: str, version: int, email: str = CHAIR):  # noqa: ANN201
    return client.post(
        f"{world.api}/wres-csv",
        files={"file": ("wres.csv", text.encode(), "text/csv")},
        data={"version": str(version)},
        headers=bearer(api_token(client, email)),
    )


def test_the_api_import_records_the_files_figures_and_keeps_the_rest(
    client: TestClient, world: World
) -> None:
    put(client, world, wres_4=1.3, wres_2=2.0, hia_2_status="achieved")
    response = upload(client, world, GOOD, version=1)
    assert response.status_code == 200, response.text
    values = response.json()["values"]
    assert response.json()["version"] == 2
    assert values["wres_2"] == 1.62  # in the file: replaced
    assert values["wres_4"] == 1.3  # not in the file: kept
    assert values["hia_2_status"] == "achieved"
    assert values["wres_5_bme"] == 30.4


def test_a_bad_file_records_nothing_and_lists_every_problem(client: TestClient, world: World) -> None:
    response = upload(client, world, GOOD + "4,,0\n6,BME,abc\n", version=0)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The file has 2 problems. Nothing has been recorded"
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(9, "value"), (10, "value")]
    assert get(client, world).json()["version"] == 0


def test_the_import_is_a_compare_and_set_and_members_may_not_import(client: TestClient, world: World) -> None:
    put(client, world, wres_2=2.0)
    stale = upload(client, world, GOOD, version=0)
    assert stale.status_code == 409 and stale.json()["current"] == {"version": 1}
    assert upload(client, world, GOOD, version=1, email=NED).status_code == 403
    assert get(client, world).json()["values"]["wres_2"] == 2.0


def test_the_page_import_shows_each_problem_in_the_error_summary(client: TestClient, world: World) -> None:
    sign_in(client, CHAIR)
    token = csrf_of(client.get(world.page).text)
    response = client.post(
        f"{world.page}/import",
        data={"csrf_token": token, "version": "0"},
        files={"csv_file": ("wres 2026.csv", b"indicator,group,value\n2,,30\n5,BME,20\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert "wres 2026.csv has 1 problem. Nothing has been recorded" in response.text
    assert "Row 2, column value: 30 is out of range" in response.text
    assert get(client, world).json()["version"] == 0
    good = client.post(
        f"{world.page}/import",
        data={"csrf_token": token, "version": "0"},
        files={"csv_file": ("wres.csv", GOOD.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert "The WRES figures in the file have been recorded." in client.get(good.headers["location"]).text
    assert get(client, world).json()["values"]["wres_9"] == -6.5


def test_the_page_import_asks_for_a_file(client: TestClient, world: World) -> None:
    sign_in(client, CHAIR)
    token = csrf_of(client.get(world.page).text)
    response = client.post(f"{world.page}/import", data={"csrf_token": token, "version": "0"})
    assert response.status_code == 422
    assert "Select a CSV file" in response.text
