"""Templates link to pages by route name, never by a path typed out by hand.

Every internal link, form action and htmx URL under web/templates is `path_for('route_name', ...)`
(or `url_for('static', ...)` for a static file), so renaming a URL is one change in the route and a
page cannot link to a path the app no longer answers. These tests read the template files: a path
typed into an attribute or a macro's "href" fails, and so does a `path_for` naming a route that
does not exist or passing the wrong path parameters (which would otherwise fail only when someone
opened that page).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from api.main import create_app
from api.templating import TEMPLATES_DIR

TEMPLATES = sorted(path for path in TEMPLATES_DIR.rglob("*.html"))

# Where a template puts a URL: an HTML attribute, a macro parameter ("href": ...), or a variable
# set for a form (`{% set action = ... %}`).
ATTRIBUTE = re.compile(
    r"""\s(href|action|src|formaction|hx-(?:get|post|put|patch|delete))\s*=\s*(["'])(.*?)\2""", re.S
)
MACRO_KEY = re.compile(r"""["'](href|action|src|formaction)["']\s*:\s*(["'])(.*?)\2""")
SET_URL = re.compile(r"""\{%-?\s*set\s+(\w*(?:action|href|url|link)\w*)\s*=\s*(["'])(.*?)\2""")
# A path built by joining strings: "/assessments/" ~ assessment.id
JOINED_PATH = re.compile(r"""(["'])(/[^"'\s]*)\1\s*~""")

# What a typed-in URL may be: a place on the same page, an outside site, or an email address.
ALLOWED = ("#", "https://", "mailto:")

PATH_FOR = re.compile(r"""path_for\(\s*'([^']+)'((?:\s*,\s*\w+\s*=\s*[^,()]+)*)\s*\)""")


def hard_coded_urls(text: str) -> list[str]:
    """Each URL in `text` that is typed out rather than built from a route name."""
    found: list[str] = []
    for pattern in (ATTRIBUTE, MACRO_KEY, SET_URL):
        for match in pattern.finditer(text):
            value = match.group(3).strip()
            if not value or value.startswith("{{") or value.startswith("{%") or value.startswith(ALLOWED):
                continue
            found.append(f"{match.group(1)}={value}")
    found += [f"joined {match.group(2)}" for match in JOINED_PATH.finditer(text)]
    return list(dict.fromkeys(found))


def route_paths() -> dict[str, set[str]]:
    """Each route name the app answers, with the path(s) of the routes of that name."""
    app = create_app()
    names: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = f"{context.path}/{{path:path}}" if isinstance(route, Mount) else context.path
        names.setdefault(route.name, set()).add(path)
    return names


def parameters(path: str) -> frozenset[str]:
    return frozenset(re.findall(r"\{(\w+)(?::\w+)?\}", path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '<a href="/assessments/{{ assessment.id }}/consensus">',
            ["href=/assessments/{{ assessment.id }}/consensus"],
        ),
        ('<form method="post" action="/sign-in">', ["action=/sign-in"]),
        ("<div hx-post='/assessments/1/headline'>", ["hx-post=/assessments/1/headline"]),
        ('<img src="/assets/images/logo.png">', ["src=/assets/images/logo.png"]),
        ('{{ backLink({"href": "/admin", "text": "Back"}) }}', ["href=/admin"]),
        (
            '{% set action = "/assessments/" ~ assessment.id %}',
            ["action=/assessments/", "joined /assessments/"],
        ),
        ('<a href="http://example.org/">', ["href=http://example.org/"]),
        ("<a href=\"{{ path_for('about') }}#scoring\">", []),
        ('<a href="#{{ key }}">', []),
        ('<a href="https://www.nhs.uk/">', []),
        ('<a href="mailto:help@example.org">', []),
        ('{{ button({"text": "Sign in", "href": path_for(\'sign_in\')}) }}', []),
        ('<div hx-target="#autosave" hx-swap="innerHTML">', []),
    ],
)
def test_the_check_finds_typed_paths_and_allows_the_rest(text: str, expected: list[str]) -> None:
    assert hard_coded_urls(text) == expected


def test_templates_are_found() -> None:
    assert len(TEMPLATES) > 50, f"expected the page templates under {TEMPLATES_DIR}"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(TEMPLATES_DIR)))
def test_no_template_types_an_internal_path(template: Path) -> None:
    found = hard_coded_urls(template.read_text())
    assert not found, (
        f"{template.relative_to(TEMPLATES_DIR)} types these URLs out; use path_for('route_name', ...) "
        f"(or url_for('static', path=...)): {found}"
    )


def test_each_route_name_is_one_path() -> None:
    """`url_path_for` answers the first route with the name and parameters: a page route called
    like a JSON API route (`download_evidence`) would link the page to the API."""
    shared = {name: sorted(paths) for name, paths in route_paths().items() if len(paths) > 1}
    assert not shared, f"route names used for more than one path; give the page route its own name=: {shared}"


def test_every_path_for_names_a_route_with_its_parameters() -> None:
    routes = {name: {parameters(path) for path in paths} for name, paths in route_paths().items()}
    problems: list[str] = []
    calls = 0
    for template in TEMPLATES:
        text = template.read_text()
        for match in PATH_FOR.finditer(text):
            calls += 1
            name = match.group(1)
            given = frozenset(re.findall(r"(\w+)\s*=", match.group(2)))
            where = f"{template.relative_to(TEMPLATES_DIR)}: path_for('{name}', {', '.join(sorted(given))})"
            if name not in routes:
                problems.append(f"{where}: no route is called {name!r}")
            elif given not in routes[name]:
                problems.append(f"{where}: the route takes {[sorted(p) for p in routes[name]]}")
        # A call the pattern above cannot read is not checked: fail so the pattern is widened.
        assert text.count("path_for(") == len(PATH_FOR.findall(text)), f"{template}: a path_for call not read"
    assert calls > 100, "expected the templates to build their links with path_for"
    assert not problems, "\n".join(problems)
