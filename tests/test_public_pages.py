"""Public pages and reference API: home, health, frameworks, organisations, OpenAPI, headers."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_home_page_explains_the_service_and_lists_the_ten_priorities(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Race equality board self-assessment</h1>" in html
    assert html.count('class="nhsuk-header') >= 1 and "nhsuk-footer" in html
    assert "Encourage accountability" in html
    assert html.count("<li>\n        <strong>") == 10


def test_healthz_checks_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(client: TestClient) -> None:
    client.app.state.engine.dispose()
    original = client.app.state.engine
    from api.db import make_engine

    client.app.state.engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        response = client.get("/healthz")
    finally:
        client.app.state.engine = original
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_frameworks_api_lists_and_describes_the_shipped_framework(client: TestClient) -> None:
    listed = client.get("/api/v1/frameworks").json()
    assert [f["key"] for f in listed] == ["race-equality-board-v1", "race-equality-board-v2"]
    assert [f["sections"] for f in listed] == [11, 11]
    framework = client.get("/api/v1/frameworks/race-equality-board-v1").json()
    assert len(framework["sections"]) == 11
    criterion = framework["sections"][0]["criteria"][0]
    assert set(criterion["descriptors"]) == {"0", "1", "2", "3", "4"}
    assert criterion["evidence_prompts"]


def test_unknown_framework_is_404_in_json(client: TestClient) -> None:
    response = client.get("/api/v1/frameworks/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "No framework with key 'nope'"}


def test_organisations_api_filters_by_type_and_region_and_shows_reference_data_only(
    client: TestClient,
) -> None:
    everything = client.get("/api/v1/organisations").json()
    assert len(everything) == 202
    ambulance = client.get("/api/v1/organisations", params={"trust_type": "ambulance"}).json()
    assert len(ambulance) == 10
    assert set(ambulance[0]) == {"ods_code", "name", "trust_type", "region"}
    london_acute = client.get(
        "/api/v1/organisations", params={"trust_type": "acute", "region": "London"}
    ).json()
    assert london_acute and all(o["region"] == "London" and o["trust_type"] == "acute" for o in london_acute)


def test_organisations_api_names_a_bad_filter(client: TestClient) -> None:
    response = client.get("/api/v1/organisations", params={"region": "Atlantis"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "region"
    assert "East of England" in error["msg"]


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/frameworks/{key}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/v1/frameworks", "/no-such-page", "/static/app/app.css"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_unknown_page_gets_the_nhs_not_found_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text


def test_pages_have_no_inline_script(client: TestClient) -> None:
    html = client.get("/").text
    import re

    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag, tag
