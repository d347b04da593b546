"""The API's description and documentation page are off in production unless API_DOCS turns them
on; wherever they are on, the page runs only scripts from the service's own static files, under a
policy that allows no inline script and no other host."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.settings import Settings

DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")


def client_for(settings: Settings, **changes: object) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes))) as client:
        yield client


@pytest.fixture
def production(settings: Settings, clean_database: Engine) -> Iterator[TestClient]:
    yield from client_for(settings, env="production")


@pytest.fixture
def production_with_docs(settings: Settings, clean_database: Engine) -> Iterator[TestClient]:
    yield from client_for(settings, env="production", api_docs=True)


@pytest.fixture
def development(settings: Settings, clean_database: Engine) -> Iterator[TestClient]:
    yield from client_for(settings, env="development")


def test_production_serves_no_api_description_or_documentation(production: TestClient) -> None:
    for path in DOC_PATHS:
        assert production.get(path).status_code == 404, path


FOOTER_DOCS_LINK = re.compile(r'<a class="nhsuk-footer__list-item-link" href="/docs">\s*API documentation')


@pytest.mark.parametrize(("client_name", "linked"), [("production", False), ("production_with_docs", True)])
def test_the_footer_links_to_the_documentation_only_where_it_is_served(
    request: pytest.FixtureRequest, client_name: str, linked: bool
) -> None:
    client: TestClient = request.getfixturevalue(client_name)
    page = client.get("/about")
    assert page.status_code == 200
    assert bool(FOOTER_DOCS_LINK.search(page.text)) is linked


def test_development_turned_off_by_the_setting_serves_none(
    settings: Settings, clean_database: Engine
) -> None:
    for client in client_for(settings, env="development", api_docs=False):
        for path in DOC_PATHS:
            assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("client_name", ["production_with_docs", "development"])
def test_where_on_the_docs_run_only_local_scripts_under_a_strict_policy(
    request: pytest.FixtureRequest, client_name: str
) -> None:
    client: TestClient = request.getfixturevalue(client_name)
    assert "/api/v1/frameworks/{key}" in client.get("/openapi.json").json()["paths"]
    assert client.get("/redoc").status_code == 404

    for path in ("/docs", "/docs/oauth2-redirect"):
        page = client.get(path)
        assert page.status_code == 200
        policy = dict(
            part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
        )
        assert policy["script-src"] == "'self'", policy
        assert "unsafe" not in policy["style-src"] and "http" not in policy["style-src"]
        assert policy["connect-src"] == "'self'"
        # Every script is a file of the service's own (no inline code, no other host), and it is there.
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
        assert scripts
        for attributes, body in scripts:
            assert body.strip() == "", f"inline script on {path}"
            (source,) = re.findall(r'src="([^"]+)"', attributes)
            assert source.startswith("/static/"), source
            assert client.get(source).status_code == 200, source
        for stylesheet in re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text):
            assert stylesheet.startswith("/static/") and client.get(stylesheet).status_code == 200
        assert "cdn" not in page.text.lower()


def test_settings_default_to_docs_off_only_in_production() -> None:
    secret = "x" * 40
    assert not Settings(env="production", secret_key=secret).api_docs_enabled
    assert Settings(env="production", secret_key=secret, api_docs=True).api_docs_enabled
    assert Settings(env="test", secret_key=secret).api_docs_enabled
    assert Settings(env="development").api_docs_enabled
    assert not Settings(env="development", api_docs=False).api_docs_enabled
