"""Links and redirects built in Python, by route name: the same rule as `path_for` in templates.

A path typed out by hand (`RedirectResponse(f"/actions/{id}")`) breaks silently when a route moves;
`path_to(request, "action_detail", action_id=id)` fails loudly (NoMatchFound) instead. Like
`path_for`, these give the route's *path* (`/actions/7`), not Starlette's absolute `url_for`, so
redirects stay relative behind any proxy and tests compare them as text.
`tests/test_python_links.py` keeps typed paths out of api/.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from starlette.applications import Starlette
from starlette.responses import RedirectResponse


def app_path(
    app: Starlette,
    name: str,
    /,
    *,
    query: dict[str, Any] | None = None,
    fragment: str | None = None,
    **path_params: Any,
) -> str:
    """The named route's path, with a query string (None and "" values left out) and a #fragment."""
    path = str(app.url_path_for(name, **path_params))
    if query:
        kept = {key: value for key, value in query.items() if value is not None and value != ""}
        if kept:
            path += "?" + urlencode(kept, quote_via=quote)
    return path + (f"#{fragment}" if fragment else "")


def path_to(request: Request, name: str, /, **params: Any) -> str:
    """`app_path` for the app answering this request (`query=`, `fragment=` and path parameters)."""
    return app_path(request.app, name, **params)


def redirect_to(request: Request, name: str, /, **params: Any) -> RedirectResponse:
    """After a form post: 303 See Other to the named page, so a reload does not post again."""
    return RedirectResponse(path_to(request, name, **params), status_code=303)
