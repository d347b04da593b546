"""Settings reach routes one way, `SettingsDep`, and services only as arguments.

docs/architecture.md: a route that needs a setting takes `settings: SettingsDep` (api/deps.py, the
settings the app was built with) and passes the value on; a service never calls `get_settings()`
(that reads the process environment, so a page and its API route could disagree, as page sign-off
once took K from the environment while the API passed the app's). This test reads api/ and fails on
`request.app.state.settings` outside the few infrastructure modules that run before or outside a
route's dependencies, and on `get_settings()` outside the entry points.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.settings import PROJECT_ROOT

API_DIR = PROJECT_ROOT / "api"
MODULES = sorted(API_DIR.rglob("*.py"))

# Infrastructure that reads the app's settings itself: the dependency that serves them, the app
# factory, and middleware-like helpers every request runs before any route dependency.
READS_APP_STATE = {
    "api/deps.py": "defines SettingsDep and reads the session cookie's name for every page",
    "api/main.py": "builds the app and keeps its settings",
    "api/csrf.py": "the CSRF middleware and token, run for every form",
    "api/client_ip.py": "the trusted proxies, for every request's address",
    "api/observability.py": "the readiness check's database URL, outside any route",
}
# The entry points: the command line, the ASGI module and the settings module itself.
CALLS_GET_SETTINGS = {"api/cli.py", "api/asgi.py", "api/settings.py", "api/main.py"}


def settings_reads(source: str) -> list[int]:
    """Lines reading `<anything>.app.state.settings`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr == "settings"
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "state"
        and isinstance(node.value.value, ast.Attribute)
        and node.value.value.attr == "app"
    ]


def get_settings_calls(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (
            getattr(node.func, "id", None) == "get_settings"
            or getattr(node.func, "attr", None) == "get_settings"
        )
    ]


@pytest.mark.parametrize(
    ("source", "reads", "calls"),
    [
        ("k = request.app.state.settings.k_anonymity", [1], []),
        ("settings = get_settings()", [], [1]),
        ("k = settings.k_anonymity", [], []),
        ("app.state.settings = settings", [], []),
    ],
)
def test_the_checks_find_what_they_look_for(source: str, reads: list[int], calls: list[int]) -> None:
    assert settings_reads(source) == reads
    assert get_settings_calls(source) == calls


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(API_DIR)))
def test_settings_come_through_settings_dep(module: Path) -> None:
    where = str(module.relative_to(PROJECT_ROOT))
    source = module.read_text()
    if where not in READS_APP_STATE:
        lines = settings_reads(source)
        assert not lines, f"{where}:{lines} reads request.app.state.settings: take `settings: SettingsDep`"
    if where not in CALLS_GET_SETTINGS:
        lines = get_settings_calls(source)
        assert not lines, (
            f"{where}:{lines} calls get_settings(): take the settings (or the value) as an argument"
        )
