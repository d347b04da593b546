"""One way in for every write (issue 19): a page and its JSON twin use the same command model.

Every write route of the app is found by walking the routes (so a new one is covered without anyone
adding it here). A JSON write with a body must take a pydantic model; a page write must read its form
through `command_form(Model)`; and each page/API pair below must use the same model, so the rules a
person meets on the page are the rules the API enforces.

Every page write that reads fields has its command (a form with no fields but a file, too: the
file's name is its command, api/forms.py FileUpload), so a new or changed page that parses its form
by hand, with Form() parameters or the raw FormDep alone, fails here.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api.forms import _CommandFormDependency, read_form
from tests.route_walk_support import Endpoint, walk_routes

WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# (page route, its JSON twin): the same write through two doors.
PAIRS = {
    ("POST", "/assessments/{assessment_id}/ratings/{criterion_key}"): (
        "PUT",
        "/api/v1/assessments/{assessment_id}/ratings/{criterion_key}",
    ),
    ("POST", "/assessments/{assessment_id}/headline"): (
        "PUT",
        "/api/v1/assessments/{assessment_id}/headline",
    ),
    ("POST", "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}"): (
        "PUT",
        "/api/v1/assessments/{assessment_id}/consensus/{criterion_key}",
    ),
    ("POST", "/assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/links"): (
        "POST",
        "/api/v1/assessments/{assessment_id}/consensus/{criterion_key}/links",
    ),
    ("POST", "/assessments/{assessment_id}/close-rating"): (
        "POST",
        "/api/v1/assessments/{assessment_id}/close-rating",
    ),
    ("POST", "/assessments/{assessment_id}/rating-deadline"): (
        "PUT",
        "/api/v1/assessments/{assessment_id}/rating-deadline",
    ),
    ("POST", "/assessments/{assessment_id}/actions"): ("POST", "/api/v1/assessments/{assessment_id}/actions"),
    ("POST", "/actions/{action_id}/edit"): ("PATCH", "/api/v1/actions/{action_id}"),
    ("POST", "/actions/{action_id}/notes"): ("POST", "/api/v1/actions/{action_id}/notes"),
    ("POST", "/assessments/{assessment_id}/actions/suggested"): (
        "POST",
        "/api/v1/assessments/{assessment_id}/actions/suggested",
    ),
    ("POST", "/trusts/{ods_code}/baf-risk/edit"): ("PUT", "/api/v1/organisations/{ods_code}/baf-risk"),
    ("POST", "/assessments/{assessment_id}/indicators"): (
        "PUT",
        "/api/v1/assessments/{assessment_id}/indicators",
    ),
    ("POST", "/admin/cycles/close"): ("POST", "/api/v1/admin/cycles/close"),
    ("POST", "/trusts/{ods_code}/assessments"): ("POST", "/api/v1/organisations/{ods_code}/assessments"),
    ("POST", "/admin/assessments/{assessment_id}/reopen"): (
        "POST",
        "/api/v1/admin/assessments/{assessment_id}/reopen",
    ),
    ("POST", "/trusts/{ods_code}/members/invite"): ("POST", "/api/v1/organisations/{ods_code}/members"),
    ("POST", "/admin/people/{user_id}/erase"): ("POST", "/api/v1/admin/people/{user_id}/erase"),
    ("POST", "/assessments/{assessment_id}/reminders"): (
        "POST",
        "/api/v1/assessments/{assessment_id}/reminders",
    ),
    ("POST", "/trusts/{ods_code}/members/{membership_id}/role"): (
        "PATCH",
        "/api/v1/organisations/{ods_code}/members/{membership_id}",
    ),
}


def _writes(app: FastAPI) -> dict[tuple[str, str], Endpoint]:
    return {
        (e.method, e.path): e
        for e in walk_routes(app).endpoints
        if e.method in WRITES and e.is_api_route and e.dependant is not None
    }


def _page_command(endpoint: Endpoint) -> type[BaseModel] | None:
    """The model a page route reads its form as, found among its dependencies."""
    stack = [endpoint.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, _CommandFormDependency):
            return dependant.call.model
        stack.extend(dependant.dependencies)
    return None


def _reads_the_raw_form(endpoint: Endpoint) -> bool:
    stack = [endpoint.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is read_form:
            return True
        stack.extend(dependant.dependencies)
    return False


def _takes_form_fields(endpoint: Endpoint) -> bool:
    """A page write that reads fields (not one with no body, like a confirmation button): form
    parameters, the raw form (FormDep), or a command."""
    return bool(endpoint.body_params) or _reads_the_raw_form(endpoint) or _page_command(endpoint) is not None


@pytest.fixture(scope="module")
def writes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Endpoint]:
    from api.main import create_app
    from api.settings import Settings

    path = tmp_path_factory.mktemp("writes") / "unused.db"
    settings = Settings(env="test", secret_key="w" * 48, database_url=f"sqlite:///{path}")
    return _writes(create_app(settings))


def test_every_json_write_with_a_body_takes_a_pydantic_model(writes: dict) -> None:
    loose = [
        key
        for key, endpoint in writes.items()
        if key[1].startswith("/api/")
        and endpoint.body_params
        and not (
            isinstance(endpoint.body_annotation, type) and issubclass(endpoint.body_annotation, BaseModel)
        )
    ]
    # FastAPI wraps form and file bodies in a model of its own: those are the token endpoint (OAuth2's
    # form) and the evidence upload (a file), which have no JSON twin to share with.
    assert all(
        endpoint.body_annotation.__name__.startswith("Body_") for endpoint in (writes[key] for key in loose)
    ), loose


def test_every_page_write_reads_its_form_through_a_command_model(writes: dict) -> None:
    pages = {key: e for key, e in writes.items() if not key[1].startswith("/api/") and _takes_form_fields(e)}
    assert len(pages) > 30, "the walk found too few page writes to mean anything"
    by_hand = sorted(key for key, e in pages.items() if _page_command(e) is None)
    assert by_hand == [], f"page writes parsing their form by hand (use command_form): {by_hand}"


@pytest.mark.parametrize("page", sorted(PAIRS), ids=lambda key: f"{key[0]} {key[1]}")
def test_a_page_and_its_api_twin_use_the_same_command(writes: dict, page: tuple[str, str]) -> None:
    api = PAIRS[page]
    assert page in writes and api in writes, (page, api)
    page_model = _page_command(writes[page])
    api_model = writes[api].body_annotation
    assert page_model is not None, f"{page} reads its form by hand"
    assert page_model is api_model, f"{page} reads {page_model}, {api} takes {api_model}"
