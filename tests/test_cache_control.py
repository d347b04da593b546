"""No response holding a trust's or the sector's figures may be kept by a cache: every route, walked
as a role it lets through, answers `Cache-Control: no-store`; every export is a real file (200, an
attachment) that says so too; only the vendored static files may be cached.

The routes, their rules, path fillers and example bodies are the route walk's
(tests/test_route_walk.py), so a new route is checked here without anyone adding it.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests import test_route_walk
from tests.route_walk_support import Endpoint, Rule, World, describe, send
from tests.test_route_walk import ENDPOINTS, PUBLIC, RULED, body_for, fill, roles_in_order

# The route walk's world of two trusts, built once for this module too.
world = test_route_walk.world

# Files a person takes away: board report, workbook, CSVs, evidence files.
EXPORT_PATH = re.compile(r"(\.(pdf|xlsx|csv)|/download|/evidence/\{evidence_id\})$")
EXPORTS = [(e, rule) for e, rule in RULED if e.method == "GET" and EXPORT_PATH.search(e.path)]


def no_store(response: httpx.Response) -> bool:
    directives = {d.strip().lower() for d in response.headers.get("cache-control", "").split(",")}
    return "no-store" in directives


def _as_allowed_role(world: World, endpoint: Endpoint, rule: Rule) -> httpx.Response:
    """The request as the first role the route lets through (as the route walk's check 4 sends it)."""
    role = (roles_in_order(rule.roles) or ["board_member"])[0]
    if rule.kind == "signed_in":
        caller = world.fresh_person(role, page=rule.page)
    else:
        caller = world.kept_person(role, page=rule.page)
    url = fill(world, endpoint, "own")
    return send(world, endpoint, url, body_for(world, endpoint), caller, page=rule.page)


@pytest.mark.parametrize(("endpoint", "rule"), [pytest.param(e, r, id=e.id) for e, r in RULED])
def test_every_signed_in_route_answers_no_store(world: World, endpoint: Endpoint, rule: Rule) -> None:
    response = _as_allowed_role(world, endpoint, rule)
    assert response.status_code < 500, describe(response)
    assert no_store(response), f"{endpoint.id}: Cache-Control {response.headers.get('cache-control')!r}"


@pytest.mark.parametrize("endpoint", [pytest.param(e, id=e.id) for e in PUBLIC])
def test_every_public_route_answers_no_store(world: World, endpoint: Endpoint) -> None:
    """Sign-in pages carry a CSRF token, the API's answers a token: nothing dynamic is cached."""
    response = send(
        world, endpoint, fill(world, endpoint, "own"), body_for(world, endpoint), world.nobody(), page=True
    )
    assert no_store(response), f"{endpoint.id}: Cache-Control {response.headers.get('cache-control')!r}"


def test_the_walk_finds_every_kind_of_export() -> None:
    ids = {e.id for e, _rule in EXPORTS}
    for sentinel in (
        "GET /api/v1/assessments/{assessment_id}/report.pdf",
        "GET /api/v1/assessments/{assessment_id}/export.xlsx",
        "GET /api/v1/assessments/{assessment_id}/export.csv",
        "GET /assessments/{assessment_id}/download/board-report.pdf",
        "GET /assessments/{assessment_id}/download/workbook.xlsx",
        "GET /assessments/{assessment_id}/download/consensus.csv",
        "GET /api/v1/assessments/{assessment_id}/evidence/{evidence_id}",
        "GET /assessments/{assessment_id}/evidence/{evidence_id}/download",
        "GET /trusts/{ods_code}/audit.csv",
        "GET /admin/audit.csv",
        "GET /api/v1/sector/heatmap.csv",
        "GET /api/v1/sector/heatmap.xlsx",
    ):
        assert sentinel in ids, f"{sentinel} is not walked as an export"
    assert {e.id for e in ENDPOINTS} >= ids


@pytest.mark.parametrize(("endpoint", "rule"), [pytest.param(e, r, id=e.id) for e, r in EXPORTS])
def test_every_export_is_a_file_sent_with_no_store(world: World, endpoint: Endpoint, rule: Rule) -> None:
    response = _as_allowed_role(world, endpoint, rule)
    assert response.status_code == 200, describe(response)
    assert response.headers.get("content-disposition", "").startswith("attachment"), describe(response)
    assert no_store(response), f"{endpoint.id}: Cache-Control {response.headers.get('cache-control')!r}"


@pytest.mark.parametrize(
    "path", ["/static/app/app.css", "/static/htmx/htmx.min.js", "/assets/images/favicon.ico"]
)
def test_static_files_may_be_cached(world: World, path: str) -> None:
    response = world.nobody().page.get(path)
    assert response.status_code == 200
    assert not no_store(response)
    assert response.headers.get("etag")
