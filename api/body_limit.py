"""A ceiling on the size of request bodies, enforced before the app reads them (pure ASGI).

Without it a form parser stores whatever arrives: a 60 MB multipart body to /sign-in is spooled in
full before the CSRF check refuses it. Routes that take a file upload (found from the routes'
own File parameters, so a new upload route is covered without a list to keep) accept a larger
body than the rest. A declared Content-Length over the limit is refused at once, before a byte
is read; a body without one (chunked) is counted as it arrives and refused the moment it passes the
limit. Either way the answer is 413: JSON in the API's error shape under /api/, a short page
elsewhere. The proxy in front should refuse earlier still (docs/deployment.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEGABYTE = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit: whatever the app was doing with it stops."""


@dataclass(frozen=True)
class UploadRoute:
    method: str
    path: re.Pattern[str]


def upload_routes(routes: Iterable[BaseRoute]) -> list[UploadRoute]:
    """Every (method, path) whose body has a file parameter."""
    found = []
    for context in iter_route_contexts(list(routes)):
        if not isinstance(context.original_route, APIRoute):
            continue
        if any(isinstance(p.field_info, params.File) for p in context.dependant.body_params):
            path_regex, _format, _convertors = compile_path(context.path)
            found.extend(UploadRoute(method, path_regex) for method in context.methods)
    return found


def size_in_words(limit: int) -> str:
    if limit >= MEGABYTE:
        return f"{limit / MEGABYTE:.3g} MB"
    return f"{limit / 1024:.3g} KB"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int, uploads: list[UploadRoute]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.uploads = uploads

    def limit_for(self, scope: Scope) -> int:
        method, path = scope["method"], scope["path"]
        if any(u.method == method and u.path.match(path) for u in self.uploads):
            return self.upload_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, limit)
            return

        received = 0
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                # The app's own answer to a body it could not finish (a 400 for a broken form, say)
                # is replaced by the 413 below.
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # Whatever the cut-off body made the app raise, the cause is its size.
            if not too_large:
                raise
        if too_large and not response_started:
            await self._refuse(scope, send, limit)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        if scope["path"].startswith("/api/"):
            message = f"The request body is larger than {size_in_words(limit)}, the most this request accepts"
            body = json.dumps({"detail": message}).encode()
            content_type = b"application/json"
        else:
            body = PAGE.format(size=escape(size_in_words(limit))).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is not read: the connection cannot carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# Deliberately small and self-contained: it is answered before the app (and its templates) runs.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>The file is too large</title>
<link rel="stylesheet" href="/static/nhsuk/nhsuk-frontend.min.css"></head>
<body><div class="nhsuk-width-container"><main class="nhsuk-main-wrapper" id="maincontent">
<h1>The file is too large</h1>
<p>What you sent is larger than {size}, the most this page accepts. Nothing has been saved.</p>
<p>If you were uploading evidence, save a smaller copy of the file (under 10 MB) and try again.</p>
<p><a href="/">Go to the start page</a></p>
</main></div></body></html>
"""
