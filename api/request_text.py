"""Text in a request may not hold a NUL character (U+0000).

Nobody types one, and PostgreSQL cannot store one in a text column (nor compare with one): a NUL in
a title, a comment, an email address or a filter would reach the database and fail there, a 500.
Every route refuses it first (an app-wide dependency), naming the field (a path or query
parameter, a form field, a JSON field): 422 in the shape of a validation error, or the error page
for a page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from api.errors import FieldError

NUL = "\x00"
MESSAGE = "Must not contain a NUL character (U+0000)"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _declared_query(route: Any) -> set[str]:
    """The query parameters the route (and its dependencies) read: only those are checked."""
    names: set[str] = set()
    pending = [route.dependant] if isinstance(route, APIRoute) else []
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending.extend(dependant.dependencies)
    return names


def _nul_in(value: Any, where: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where in a decoded JSON value a string (or an object's key) holds a NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield where
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_in(item, (*where, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*where, key)
            yield from _nul_in(item, (*where, key))


async def refuse_nul_characters(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise FieldError(name, MESSAGE, "path")
    declared = _declared_query(request.scope.get("route"))
    for name, value in request.query_params.multi_items():
        if name in declared and NUL in value:
            raise FieldError(name, MESSAGE, "query")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        # Parsed once: the route's own form parameters (or FormDep) get the same, cached.
        form = await request.form()
        for name, value in form.multi_items():
            text = (value.filename or "") if isinstance(value, UploadFile) else value
            if NUL in name or NUL in text:
                raise FieldError(name.replace(NUL, "\\0"), MESSAGE)
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        if b"\\u0000" in body:  # how JSON writes a NUL (a bare one is not JSON at all)
            try:
                data = json.loads(body)
            except ValueError:
                return  # not JSON: the route's own parsing answers that
            for where in _nul_in(data):
                raise FieldError(".".join(str(part) for part in where) or "body", MESSAGE)
