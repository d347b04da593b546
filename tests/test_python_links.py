"""Python builds internal links and redirects by route name, never by a path typed out by hand.

The rule of tests/test_template_links.py, for api/: a redirect, a navigation link or a page's
`href` is `path_to(request, "route_name", ...)` / `redirect_to(...)` (api/urls.py), so moving a URL
is one change in its route. This test reads every module under api/ and fails on a string (or an
f-string) that starts with an internal path, outside the places that must stay literal: route
decorators and router prefixes, static mounts, the API prefix checks of the middleware, and the
few listed below with the reason each is kept.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.settings import PROJECT_ROOT

API_DIR = PROJECT_ROOT / "api"
MODULES = sorted(API_DIR.rglob("*.py"))

# Calls whose string arguments are route definitions or mounts, not links.
DEFINING_CALLS = {"APIRouter", "mount", "include_router", "add_api_route", "StaticFiles"}

# (module, the literal) -> why it stays typed.
ALLOWED: dict[tuple[str, str], str] = {
    ("api/main.py", "/api/"): "the JSON API's prefix, to choose JSON or HTML errors",
    ("api/csrf.py", "/api/"): "the JSON API's prefix: bearer tokens need no CSRF token",
    ("api/body_limit.py", "/api/"): "the JSON API's prefix, for the error's format",
    ("api/security_headers.py", "/static/"): "the static mount, for its cache headers",
    ("api/security_headers.py", "/assets/"): "the NHS.UK assets mount, for its cache headers",
    ("api/api_docs.py", "/openapi.json"): "FastAPI's own documentation routes, set before the app exists",
    ("api/api_docs.py", "/docs"): "FastAPI's own documentation routes, set before the app exists",
    ("api/api_docs.py", "/docs/oauth2-redirect"): "FastAPI's own documentation routes",
    ("api/backup.py", "/usr/lib/postgresql/{server_major}/bin/{name}"): "a file on the server, not a URL",
    ("api/assessments/evidence.py", "/embeddings/"): "a part of a file name inside an upload, not a URL",
    ("api/assessments/service.py", "/api/v1/assessments/{existing.id}"): "the JSON API's Location",
    ("api/accounts/oidc.py", "/sign-in/oidc/callback"): "the redirect URI registered with the provider",
    ("api/accounts/oidc_views.py", "/sign-in/oidc"): "the state cookie's path (a cookie scope)",
    # Emails: absolute links from BASE_URL, written by services, which have no request or app.
    **{
        (module, path): "an email's link, from BASE_URL"
        for module, path in [
            ("api/accounts/email_change.py", "/sign-in"),
            ("api/accounts/invitations.py", "/sign-in"),
            ("api/accounts/password_reset.py", "/sign-in"),
            ("api/accounts/password_reset.py", "/forgot-password"),
            ("api/admin/service.py", "/sign-in"),
            ("api/reminders/service.py", "/assessments/"),
        ]
    },
}


def typed_paths(source: str) -> list[str]:
    """Each string in `source` that starts with an internal path ("/word..."), outside route
    decorators and the calls that define routes; an f-string is given with its {placeholders}."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                skipped.update(id(inner) for inner in ast.walk(decorator))
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in DEFINING_CALLS:
                skipped.update(id(inner) for inner in ast.walk(node))
    found: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(inner) for inner in ast.walk(node))
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and _is_path(str(first.value)):
                found.append(ast.unparse(node)[2:-1])
            else:
                # f"{base}/results": a path typed after a placeholder.
                found += [
                    str(part.value)
                    for part in node.values
                    if isinstance(part, ast.Constant) and _is_path(str(part.value))
                ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_path(node.value):
            found.append(node.value)
    return found


def _is_path(text: str) -> bool:
    return len(text) > 1 and text[0] == "/" and text[1].isalpha()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('RedirectResponse("/admin?done=x", status_code=303)', ["/admin?done=x"]),
        ('RedirectResponse(f"/actions/{action.id}/edit", status_code=303)', ["/actions/{action.id}/edit"]),
        ('items.append({"href": "/sector", "text": "Sector view"})', ["/sector"]),
        ('redirect_to(request, "admin_home", query={"done": "x"})', []),
        ('@router.get("/admin", name="admin_home")\ndef f(): pass', []),
        ('router = APIRouter(prefix="/api/v1/sector")', []),
        ('app.mount("/static", StaticFiles(directory="x"), name="static")', []),
        ('href = f"{base}/results"', ["/results"]),
        ('text = "a/b"', []),
        ('anchor = "#notes"', []),
    ],
)
def test_the_check_finds_typed_paths_and_allows_route_names(source: str, expected: list[str]) -> None:
    assert typed_paths(source) == expected


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(API_DIR)))
def test_no_module_types_an_internal_path(module: Path) -> None:
    where = str(module.relative_to(PROJECT_ROOT))
    found = [path for path in typed_paths(module.read_text()) if (where, path) not in ALLOWED]
    assert not found, (
        f"{where} types these paths; build them from the route's name with path_to / redirect_to "
        f"(api/urls.py), or add the literal to ALLOWED with the reason: {found}"
    )


def test_every_allowed_literal_is_still_there() -> None:
    """An allowance nobody needs any more is removed, so the list only shrinks."""
    present = {
        (str(module.relative_to(PROJECT_ROOT)), path)
        for module in MODULES
        for path in typed_paths(module.read_text())
    }
    stale = sorted(set(ALLOWED) - present)
    assert not stale, f"no longer typed anywhere; remove from ALLOWED: {stale}"
