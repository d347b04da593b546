"""CSRF protection for pages: a signed double-submit token, bound to the session when there is one.

A random value lives in an HttpOnly cookie; forms carry HMAC(SECRET_KEY, cookie value + session id)
in a hidden field, and htmx sends it in the X-CSRF-Token header. A cross-site page can neither read
the cookie nor compute the HMAC. The bearer-token API needs none of this: browsers never attach a
bearer token by themselves.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.accounts.tokens import new_secret, same, secret_hash, signed
from api.errors import Forbidden

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"


def cookie_name(env: str) -> str:
    return "__Host-csrf" if env == "production" else "csrf"


class CsrfCookieMiddleware:
    """Makes sure every browser has a CSRF cookie before it is shown a form."""

    def __init__(self, app: ASGIApp, *, name: str, secure: bool) -> None:
        self.app = app
        self.name = name
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The JSON API is for bearer tokens, never shows a form, and so gets no cookie.
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        value = cookies.get(self.name)
        fresh = value is None or len(value) < 20
        if fresh:
            value = new_secret()
        scope.setdefault("state", {})["csrf_cookie"] = value

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and (
                fresh or scope["state"].get("csrf_cookie") != value
            ):
                current = scope["state"]["csrf_cookie"]
                attributes = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", f"{self.name}={current}; {attributes}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookies(scope: Scope) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key:
                    cookies[key] = val
    return cookies


def _session_binding(request: Request) -> str:
    # Tied to the session cookie itself, so a token from before sign-in is useless after it.
    raw = request.cookies.get(request.app.state.settings.session_cookie_name)
    return secret_hash(raw) if raw else ""


def csrf_token(request: Request) -> str:
    cookie = request.state.csrf_cookie
    return signed(request.app.state.settings.secret_key, f"{cookie}:{_session_binding(request)}")


def rotate_csrf_cookie(request: Request) -> None:
    """At sign-in and sign-out, so a token seen before cannot be used after."""
    request.state.csrf_cookie = new_secret()


async def verify_csrf(request: Request) -> None:
    """A router dependency for pages: every state-changing request must carry the token."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(HEADER) or request.query_params.get(FIELD)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not same(sent, csrf_token(request)):
        raise Forbidden(
            "This form has expired or did not come from this service. Go back, reload the page and try again."
        )
