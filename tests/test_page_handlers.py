"""Every page handler takes one `Page` (api/pages.py), not the request, session and settings apart.

Issue 19's redesign step: a page's signature says only what is particular to it (its access rule,
its form, its path and query values), so a GET page and its POST no longer restate the same five
parameters, and the request, the session and the app's settings reach the handler one way. This
test walks every route of the app (so a new page is covered without anyone listing it) and fails
on a page handler that takes `Request`, `SessionDep` or `SettingsDep` itself.

JSON API routes are not pages: they take what they need (`SessionDep`, the `...Api` access rule,
the body) and render nothing.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant

from api.db import SessionDep, get_session
from api.deps import get_settings_dep
from api.pages import PageDep, get_page
from tests.route_walk_support import walk_routes

TAKEN_APART = {get_session: "SessionDep", get_settings_dep: "SettingsDep"}

# Routes outside /api/ that are not pages: they answer probes and scrapers, not people.
WITHOUT_PAGE: dict[str, str] = {
    "GET /healthz": "the liveness probe (plain text)",
    "GET /readyz": "the readiness probe (plain text)",
    "GET /metrics": "Prometheus metrics (plain text)",
}


def taken_apart(dependant: Dependant) -> list[str]:
    """What the handler takes itself that the Page holds."""
    own = ["Request"] if dependant.request_param_name else []
    own += [TAKEN_APART[d.call] for d in dependant.dependencies if d.call in TAKEN_APART]
    return own


def takes_page(dependant: Dependant) -> bool:
    return any(d.call is get_page for d in dependant.dependencies)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    from api.main import create_app
    from api.settings import Settings

    path = tmp_path_factory.mktemp("pages") / "unused.db"
    return create_app(Settings(env="test", secret_key="p" * 48, database_url=f"sqlite:///{path}"))


def _pages(app: FastAPI) -> dict[str, Dependant]:
    return {
        endpoint.id: endpoint.dependant
        for endpoint in walk_routes(app).endpoints
        if endpoint.is_api_route and endpoint.dependant is not None and not endpoint.looks_like_api
    }


def test_the_check_tells_a_page_taken_apart_from_one_with_a_page(app: FastAPI) -> None:
    def apart(request: Request, session: SessionDep) -> None: ...

    def whole(page: PageDep) -> None: ...

    assert taken_apart(get_dependant(path="/x", call=apart)) == ["Request", "SessionDep"]
    assert taken_apart(get_dependant(path="/x", call=whole)) == []
    assert takes_page(get_dependant(path="/x", call=whole))
    assert len(_pages(app)) > 100, "the walk found the app's pages"


def test_page_handlers_take_one_page(app: FastAPI) -> None:
    apart = {
        route: own
        for route, dependant in _pages(app).items()
        if (own := taken_apart(dependant)) and route not in WITHOUT_PAGE
    }
    assert not apart, (
        f"these page handlers take what `page: PageDep` (api/pages.py) holds; take the Page instead: {apart}"
    )
